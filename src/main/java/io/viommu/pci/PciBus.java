package io.viommu.pci;

import java.util.ArrayList;
import java.util.List;

/**
 * One PCI bus segment: q35's root bus {@code pcie.0}, the secondary bus of a bridge, or a
 * bridgeless bus holding SR-IOV VFs whose routing ids moved past their PF's bus. 32 slots of 8
 * functions, placement as QEMU's {@code do_pci_register_device} and
 * {@code pci_init_multifunction}, configuration access by devfn, and routing of a bus number to
 * the bus below ({@link #findBus}). Messages of refused placements are QEMU's, word for word
 * (checked with QEMU 7.2).
 */
public final class PciBus {
    /** A refused placement; the message is QEMU's text. */
    public static final class PlugException extends Exception {
        public PlugException(String message) {
            super(message);
        }
    }

    private final String name;
    private final int fixedNumber;
    private final PciBridge parentBridge;
    private final PciBus parentBus; // for a bridgeless VF bus: the PF's bus
    private final boolean express;
    private final PciFunction[] functions = new PciFunction[256];
    private final List<PciBus> vfBuses = new ArrayList<>();
    private PciFunction.IntxLine intxLine;

    /** A root bus with a fixed number (q35: {@code pcie.0}, bus 0, PCI Express). */
    public PciBus(String name, int busNumber, PciFunction.IntxLine intxLine) {
        this.name = name;
        this.fixedNumber = busNumber;
        this.parentBridge = null;
        this.parentBus = null;
        this.express = true;
        this.intxLine = intxLine;
    }

    /** The secondary bus of {@code bridge}; its number is the bridge's secondary bus register. */
    PciBus(String name, PciBridge bridge, boolean express) {
        this.name = name;
        this.fixedNumber = -1;
        this.parentBridge = bridge;
        this.parentBus = null;
        this.express = express;
        this.intxLine = (f, level) -> { };
    }

    private PciBus(PciBus parent, int number) {
        this.name = parent.name + ".vf" + number;
        this.fixedNumber = number;
        this.parentBridge = null;
        this.parentBus = parent;
        this.express = true;
        this.intxLine = (f, level) -> { };
    }

    public String name() {
        return name;
    }

    /** The bus number configuration cycles use now (a secondary bus follows its bridge). */
    public int busNumber() {
        return parentBridge != null ? parentBridge.secondaryBusNumber() : fixedNumber;
    }

    /** The bridge above this bus; null for the root bus and for bridgeless VF buses. */
    public PciBridge parentBridge() {
        return parentBridge;
    }

    /** For a bridgeless VF bus, the bus of the PF; else null. */
    public PciBus parentBusOfVirtualBus() {
        return parentBus;
    }

    public boolean isRoot() {
        return parentBridge == null && parentBus == null;
    }

    /** True for a PCI Express bus (QEMU TYPE_PCIE_BUS): pcie.0 and the buses of PCIe ports. */
    public boolean isExpress() {
        return express;
    }

    /** Routes a bus's INTx (the root bus's lines go to the platform). */
    public void setIntxLine(PciFunction.IntxLine line) {
        this.intxLine = line;
    }

    /** The buses right below this one: bridges' secondary buses in devfn order, then VF buses. */
    public List<PciBus> childBuses() {
        List<PciBus> out = new ArrayList<>();
        for (PciFunction f : functions) {
            if (f instanceof PciBridge b) {
                out.add(b.secondaryBus());
            }
        }
        out.addAll(vfBuses);
        return out;
    }

    /**
     * The bus a configuration cycle for bus {@code number} reaches from here, or null: QEMU
     * 7.2's {@code pci_find_bus_nr}. A secondary bus is entered only while its bridge's
     * [secondary, subordinate] range holds the number; a VF bus answers to its own number.
     */
    public PciBus findBus(int number) {
        if (busNumber() == number) {
            return this;
        }
        if (parentBridge != null && !parentBridge.busInRange(number)) {
            return null;
        }
        for (PciBus child : childBuses()) {
            if (child.parentBridge != null) {
                if (child.parentBridge.busInRange(number)) {
                    return child.findBus(number);
                }
            } else if (child.busNumber() == number) {
                return child;
            }
        }
        return null;
    }

    /** The function a configuration cycle for {@code bus:devfn} reaches from this (root) bus. */
    public PciFunction route(int bus, int devfn) {
        PciBus b = findBus(bus);
        return b == null ? null : b.function(devfn);
    }

    /** Every bus at and below this one, depth first. */
    public List<PciBus> allBuses() {
        List<PciBus> out = new ArrayList<>();
        out.add(this);
        for (PciBus c : childBuses()) {
            out.addAll(c.allBuses());
        }
        return out;
    }

    /**
     * Plugs a function at {@code devfn}, or with {@code devfn < 0} at function 0 of the first
     * slot whose function 0 is free (QEMU {@code pci_bus_devfn_allocate}).
     */
    public RequesterId plug(PciFunction f, int devfn) throws PlugException {
        if (devfn < 0) {
            for (int d = 0; d < 256; d += 8) {
                if (functions[d] == null) {
                    devfn = d;
                    break;
                }
            }
            if (devfn < 0) {
                throw new PlugException("PCI: no slot/function available for " + f.typeName()
                        + ", all in use or reserved");
            }
        } else if (devfn > 255) {
            throw new IllegalArgumentException("devfn " + devfn);
        } else if (functions[devfn] != null) {
            PciFunction other = functions[devfn];
            throw new PlugException(String.format(
                    "PCI: slot %d function %d not available for %s, in use by %s,id=%s",
                    devfn >> 3, devfn & 7, f.typeName(), other.typeName(),
                    other.id() == null ? "(null)" : other.id()));
        }
        checkMultiFunction(f, devfn);
        functions[devfn] = f;
        f.plugged(this, devfn, (fn, level) -> intxLine.set(fn, level));
        if (parentBridge != null) {
            parentBridge.childPlugged(f);
        }
        return f.address();
    }

    /**
     * QEMU's {@code pci_init_multifunction}: a function above 0 needs a multi-function function
     * 0 (when one is there), and a single-function function 0 refuses existing siblings.
     */
    private void checkMultiFunction(PciFunction f, int devfn) throws PlugException {
        int slot = devfn >> 3;
        int fn = devfn & 7;
        if (fn != 0) {
            PciFunction f0 = functions[slot << 3];
            if (f0 != null && !f0.isMultiFunction()) {
                throw new PlugException(String.format(
                        "PCI: single function device can't be populated in function %x.%x", slot, fn));
            }
            return;
        }
        if (f.isMultiFunction()) {
            return;
        }
        for (int i = 1; i < 8; i++) {
            if (functions[slot << 3 | i] != null) {
                throw new PlugException(String.format(
                        "PCI: %x.0 indicates single function, but %x.%x is already populated.", slot, slot, i));
            }
        }
    }

    /**
     * Places an SR-IOV VF at routing id {@code rid}: on this bus when the bus numbers agree, else
     * on a bridgeless bus of that number hanging off this one. False when the spot is taken.
     */
    boolean plugVirtualFunction(VirtualFunction vf, RequesterId rid) {
        PciBus target = this;
        if (rid.bus() != busNumber()) {
            target = null;
            for (PciBus b : vfBuses) {
                if (b.fixedNumber == rid.bus()) {
                    target = b;
                }
            }
            if (target == null) {
                target = new PciBus(this, rid.bus());
                vfBuses.add(target);
            }
        }
        if (target.functions[rid.devfn()] != null) {
            return false;
        }
        target.functions[rid.devfn()] = vf;
        vf.plugged(target, rid.devfn(), (fn, level) -> { });
        return true;
    }

    /** Removes a function (a VF being disabled); an emptied VF bus goes away. */
    void unplug(PciFunction f) {
        int d = f.devfn();
        if (d >= 0 && functions[d] == f) {
            functions[d] = null;
            f.unplugged();
        }
        if (parentBus != null && functions().isEmpty()) {
            parentBus.vfBuses.remove(this);
        }
    }

    public PciFunction function(int devfn) {
        return devfn >= 0 && devfn < 256 ? functions[devfn] : null;
    }

    public List<PciFunction> functions() {
        List<PciFunction> all = new ArrayList<>();
        for (PciFunction f : functions) {
            if (f != null) {
                all.add(f);
            }
        }
        return all;
    }

    /**
     * Configuration read of {@code len} bytes at {@code offset} of {@code devfn}; all ones
     * where no function answers (a master abort on real hardware).
     */
    public long configRead(int devfn, int offset, int len) {
        PciFunction f = function(devfn);
        if (f == null) {
            return len >= 8 ? -1L : (1L << (8 * len)) - 1;
        }
        return f.configRead(offset, len);
    }

    public void configWrite(int devfn, int offset, long value, int len) {
        PciFunction f = function(devfn);
        if (f != null) {
            f.configWrite(offset, value, len);
        }
    }
}
