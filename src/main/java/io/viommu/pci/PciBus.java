package io.viommu.pci;

import java.util.ArrayList;
import java.util.List;

/**
 * One PCI bus segment (q35's root bus {@code pcie.0}): 32 slots of 8 functions, placement as
 * QEMU's {@code do_pci_register_device}, and configuration access by devfn.
 * Messages of refused placements are QEMU's, word for word (checked with QEMU 7.2).
 */
public final class PciBus {
    /** A refused placement; the message is QEMU's text. */
    public static final class PlugException extends Exception {
        public PlugException(String message) {
            super(message);
        }
    }

    private final String name;
    private final int busNumber;
    private final PciFunction[] functions = new PciFunction[256];
    private final PciFunction.IntxLine intxLine;

    public PciBus(String name, int busNumber, PciFunction.IntxLine intxLine) {
        this.name = name;
        this.busNumber = busNumber;
        this.intxLine = intxLine;
    }

    public String name() {
        return name;
    }

    public int busNumber() {
        return busNumber;
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
        functions[devfn] = f;
        RequesterId rid = RequesterId.of(busNumber, devfn);
        f.plugged(rid, intxLine);
        return rid;
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
