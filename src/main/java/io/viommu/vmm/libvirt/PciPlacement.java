package io.viommu.vmm.libvirt;

import io.viommu.vmm.libvirt.Domain.PciAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * libvirt 9.0's PCI address assignment for a q35 domain (qemuDomainAssignPCIAddresses and
 * domain_addr.c), for the devices viommu translates, all of them PCIe endpoints:
 * <ul>
 * <li>bus 0 is pcie-root; its slot 0 (host bridge) and 0x1f functions 0, 2, 3 (LPC, SATA, SMBus)
 *     are taken; an automatically placed endpoint never goes on it, only on a pcie-root-port
 *     (one slot each);</li>
 * <li>addresses the XML gives are reserved first (a second use is refused with libvirt's text);
 *     one on a bus beyond the last controller adds root ports up to it (the first pass grows the
 *     topology); an all-zero address ({@code virPCIDeviceAddressIsEmpty}) counts as none;</li>
 * <li>the others, in qemuDomainAssignDevicePCISlots order (interfaces, the USB controller,
 *     virtio disks, hostdevs, the balloon), take the first root port with a free slot; when
 *     there is none a new pcie-root-port is added (first pass, "dry run");</li>
 * <li>when the XML named no PCI controller besides index 0 and ports exist, one empty port is
 *     kept for hotplug (added when every port is taken);</li>
 * <li>root ports without an address go on pcie-root at the first slot from 1 that is free or
 *     already holds root ports (VIR_PCI_CONNECT_AGGREGATE_SLOT: 00:01.0 to 00:01.7, then
 *     00:02.0 ...); the function 0 of a slot with more than one function gets multifunction=on;
 *     chassis defaults to the index, port to (slot &lt;&lt; 3) + function.</li>
 * </ul>
 */
final class PciPlacement {
    /** Where a device or root port ends up: bus index (0 = pcie.0) and devfn. */
    record Place(int bus, int slot, int function, boolean multifunction) {
        String busName() {
            return bus == 0 ? "pcie.0" : "pci." + bus;
        }

        /** libvirt's JSON addr: "0x5", or "0x1.0x2" for a function other than 0. */
        String addr() {
            return function == 0 ? "0x" + Integer.toHexString(slot)
                    : "0x" + Integer.toHexString(slot) + ".0x" + Integer.toHexString(function);
        }
    }

    /** A root port of the final topology. */
    record RootPort(int index, int chassis, int port, Place place) {
    }

    /** The result: a place per device key, the root ports in index order. */
    record Result(Map<String, Place> devices, List<RootPort> rootPorts) {
    }

    /** A device wanting an address, in assignment order: key, and the XML's address if any. */
    record Want(String key, Optional<PciAddress> address) {
    }

    private PciPlacement() {
    }

    static Result assign(List<Domain.Controller> controllers, List<Want> wants) throws LibvirtException {
        Map<Integer, Domain.Controller> ports = new HashMap<>();
        int maxIndex = 0;
        for (Domain.Controller c : controllers) {
            maxIndex = Math.max(maxIndex, c.index());
            if (c.model().equals("pcie-root-port")) {
                ports.put(c.index(), c);
            }
        }
        // slots used: bus -> slot -> function bitmap; root-port slots are "aggregate"
        Map<Integer, int[]> used = new HashMap<>();
        Map<Integer, boolean[]> aggregate = new HashMap<>();
        int buses = maxIndex + 1;
        reserve(used, 0, 0x1f, 0);
        reserve(used, 0, 0x1f, 2);
        reserve(used, 0, 0x1f, 3);
        Map<String, Place> devices = new HashMap<>();
        // explicit addresses: controllers first, then devices (qemuDomainCollectPCIAddress)
        for (Domain.Controller c : controllers) {
            if (c.address().isPresent()) {
                PciAddress a = c.address().get();
                claim(used, a);
                aggregate.computeIfAbsent(a.bus(), b -> new boolean[32])[a.slot()] = true;
            }
        }
        List<Integer> added = new ArrayList<>();
        for (Want w : wants) {
            if (w.address().isPresent()) {
                PciAddress a = w.address().get();
                if (a.domain() != 0) {
                    throw new LibvirtException("XML error: Invalid PCI address " + name(a)
                            + ". Only PCI domain 0 is available");
                }
                while (a.bus() >= buses) { // the first pass grows the topology up to the bus named
                    added.add(buses++);
                }
                if (a.bus() > 0 && a.slot() != 0) {
                    throw new LibvirtException("XML error: Invalid PCI address " + name(a) + ". slot must be <= 0");
                }
                claim(used, a);
                devices.put(w.key(), new Place(a.bus(), a.slot(), a.function(), Boolean.TRUE.equals(a.multifunction())));
            }
        }
        // the devices without an address, each on the first root port with a free slot
        List<Integer> portIndexes = new ArrayList<>();
        for (int i = 1; i < buses; i++) {
            if (ports.containsKey(i) || added.contains(i)) {
                portIndexes.add(i);
            }
        }
        for (Want w : wants) {
            if (w.address().isPresent()) {
                continue;
            }
            int bus = freePort(used, portIndexes);
            if (bus < 0) {
                bus = buses++;
                portIndexes.add(bus);
                added.add(bus);
            }
            reserve(used, bus, 0, 0);
            devices.put(w.key(), new Place(bus, 0, 0, false));
        }
        if (maxIndex == 0 && buses > 1 && freePort(used, portIndexes) < 0) {
            added.add(buses++); // the one spare port for hotplug
        }
        // root ports without an address, in index order, on pcie-root's aggregate slots
        List<Integer> all = new ArrayList<>();
        for (int i = 1; i < buses; i++) {
            if (ports.containsKey(i) || added.contains(i)) {
                all.add(i);
            }
        }
        Map<Integer, Place> portPlaces = new HashMap<>();
        for (int i : all) {
            Domain.Controller c = ports.get(i);
            if (c != null && c.address().isPresent()) {
                PciAddress a = c.address().get();
                portPlaces.put(i, new Place(a.bus(), a.slot(), a.function(), Boolean.TRUE.equals(a.multifunction())));
                continue;
            }
            Place p = null;
            int[] fns = used.computeIfAbsent(0, b -> new int[32]);
            boolean[] agg = aggregate.computeIfAbsent(0, b -> new boolean[32]);
            for (int slot = 1; slot < 32 && p == null; slot++) {
                if (fns[slot] == 0) {
                    p = new Place(0, slot, 0, false);
                } else if (agg[slot]) {
                    for (int fn = 0; fn < 8 && p == null; fn++) {
                        if ((fns[slot] & (1 << fn)) == 0) {
                            p = new Place(0, slot, fn, false);
                        }
                    }
                }
            }
            if (p == null) {
                throw new LibvirtException("internal error: No more available PCI slots");
            }
            fns[p.slot()] |= 1 << p.function();
            agg[p.slot()] = true;
            portPlaces.put(i, p);
        }
        // virDomainPCIAddressSetAllMulti: function 0 of a slot with other functions in use
        List<RootPort> rootPorts = new ArrayList<>();
        for (int i : all) {
            Place p = multi(used, portPlaces.get(i));
            Domain.Controller c = ports.get(i);
            int chassis = c != null && c.chassis() >= 0 ? c.chassis() : i;
            int port = c != null && c.port() >= 0 ? c.port() : (p.slot() << 3) + p.function();
            rootPorts.add(new RootPort(i, chassis, port, p));
        }
        devices.replaceAll((k, p) -> multi(used, p));
        return new Result(devices, rootPorts);
    }

    private static Place multi(Map<Integer, int[]> used, Place p) {
        int fns = used.getOrDefault(p.bus(), new int[32])[p.slot()];
        if (p.function() == 0 && (fns & ~1) != 0 && !p.multifunction()) {
            return new Place(p.bus(), p.slot(), 0, true);
        }
        return p;
    }

    private static int freePort(Map<Integer, int[]> used, List<Integer> ports) {
        for (int bus : ports) {
            int[] fns = used.get(bus);
            if (fns == null || fns[0] == 0) {
                return bus;
            }
        }
        return -1;
    }

    private static void claim(Map<Integer, int[]> used, PciAddress a) throws LibvirtException {
        int[] fns = used.computeIfAbsent(a.bus(), b -> new int[32]);
        if ((fns[a.slot()] & (1 << a.function())) != 0) {
            throw new LibvirtException("XML error: Attempted double use of PCI Address " + name(a));
        }
        fns[a.slot()] |= 1 << a.function();
    }

    /** virPCIDeviceAddressAsString: {@code 0000:00:05.0}. */
    private static String name(PciAddress a) {
        return String.format("%04x:%02x:%02x.%d", a.domain(), a.bus(), a.slot(), a.function());
    }

    private static void reserve(Map<Integer, int[]> used, int bus, int slot, int fn) {
        used.computeIfAbsent(bus, b -> new int[32])[slot] |= 1 << fn;
    }
}
