package io.viommu.pci;

import java.util.ArrayList;
import java.util.List;

/**
 * Bus numbering as a q35 guest ends up with it: SeaBIOS's {@code pci_bios_init_bus_rec}, which
 * Linux keeps. Depth first from bus 0, devices in devfn order: each bridge found gets the next
 * free number as secondary, subordinate 0xff while its bus is scanned, then the highest number
 * found below it. Done with configuration cycles only, like firmware; the same walk (in
 * scripts/qemu-pci-golden.py) numbers QEMU 7.2's buses for the golden tests.
 *
 * <p>No buses are reserved for SR-IOV: a VF whose routing id lands on a bus past the PF's is
 * reachable only if the bridge range covers it, which after this numbering it does only when
 * other buses follow below the same bridge. Linux then refuses such VFs ("not enough bus
 * numbers"); the models here (82576, nvme) keep their VFs on the PF's bus.
 */
public final class BusNumbering {
    private BusNumbering() {
    }

    /** Numbers every bridge reachable from bus 0; returns the bridges' RIDs in numbering order. */
    public static List<RequesterId> assign(ConfigAccess cfg) {
        List<RequesterId> bridges = new ArrayList<>();
        int[] next = {1};
        scan(cfg, 0, next, bridges);
        return bridges;
    }

    private static void scan(ConfigAccess cfg, int bus, int[] next, List<RequesterId> bridges) {
        for (int dev = 0; dev < 32; dev++) {
            for (int fn = 0; fn < 8; fn++) {
                RequesterId rid = RequesterId.of(bus, dev, fn);
                if (cfg.read(rid, PciRegs.VENDOR_ID, 4) == 0xffff_ffffL) {
                    if (fn == 0) {
                        break;
                    }
                    continue;
                }
                int ht = (int) cfg.read(rid, PciRegs.HEADER_TYPE, 1);
                if ((ht & PciRegs.HEADER_TYPE_LAYOUT_MASK) == PciRegs.HEADER_TYPE_BRIDGE && next[0] <= 0xff) {
                    int sec = next[0]++;
                    bridges.add(rid);
                    long keep = cfg.read(rid, PciRegs.PRIMARY_BUS, 4) & 0xff00_0000L;
                    cfg.write(rid, PciRegs.PRIMARY_BUS, keep | bus | sec << 8 | 0xff << 16, 4);
                    scan(cfg, sec, next, bridges);
                    cfg.write(rid, PciRegs.PRIMARY_BUS, keep | bus | sec << 8 | (next[0] - 1) << 16, 4);
                }
                if (fn == 0 && (ht & PciRegs.HEADER_TYPE_MULTI_FUNCTION) == 0) {
                    break;
                }
            }
        }
    }
}
