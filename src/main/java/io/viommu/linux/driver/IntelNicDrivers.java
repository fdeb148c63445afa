package io.viommu.linux.driver;

import java.util.ArrayList;
import java.util.List;

/**
 * Intel's Ethernet drivers for the NICs QEMU emulates, all DMA-API drivers (descriptor rings and
 * receive buffers, {@link DriverDma#nic}): {@code e1000e}, {@code e1000} and {@code igbvf} bind
 * their ids; {@code igb} (82576 and friends) lowers the VF limit to 7 in probe
 * ({@code igb_probe_vfs}), refuses more than 7 VFs with -EPERM in sriov_configure and disables
 * SR-IOV on remove. The id tables hold the entries of Linux 6.1's tables, not the subvendor
 * variants.
 */
final class IntelNicDrivers {
    private IntelNicDrivers() {
    }

    private static final int INTEL = 0x8086;
    /** e1000e_pci_tbl: the 8257x/8258x/ICH/PCH parts, board index as driver_data (subset). */
    private static final int[][] E1000E_IDS = {
        {0x105e, 0}, {0x105f, 0}, {0x10a4, 0}, {0x10bc, 0}, {0x10a5, 0}, {0x1060, 0}, {0x10d9, 0}, {0x10da, 0},
        {0x10d5, 1}, {0x10b9, 1}, {0x107d, 1}, {0x107e, 1}, {0x107f, 1}, {0x108b, 2}, {0x108c, 2}, {0x109a, 2},
        {0x10d3, 3}, {0x10f6, 3}, {0x150c, 4}, {0x1096, 5}, {0x10ba, 5}, {0x1098, 5}, {0x10bb, 5},
        {0x1049, 6}, {0x104a, 6}, {0x104b, 6}, {0x104c, 6}, {0x10c4, 6}, {0x10c5, 6}, {0x104d, 6},
        {0x10bf, 7}, {0x10f5, 7}, {0x10cb, 7}, {0x10cc, 7}, {0x10cd, 7}, {0x10ce, 7}, {0x10de, 8}, {0x10df, 8},
        {0x10ea, 9}, {0x10eb, 9}, {0x10ef, 9}, {0x10f0, 9}, {0x1502, 10}, {0x1503, 10}, {0x153a, 11}, {0x153b, 11},
        {0x155a, 12}, {0x1559, 12}, {0x15a0, 12}, {0x15a1, 12}, {0x15a2, 12}, {0x15a3, 12}, {0x156f, 13}, {0x1570, 13},
        {0x15b7, 13}, {0x15b8, 13}, {0x15b9, 13}, {0x15d7, 13}, {0x15e3, 13},
    };
    /** e1000_pci_tbl (subset), driver_data 0. */
    private static final int[] E1000_IDS = {
        0x1000, 0x1001, 0x1004, 0x1008, 0x1009, 0x100c, 0x100d, 0x100e, 0x100f, 0x1010, 0x1011, 0x1012,
        0x1013, 0x1014, 0x1015, 0x1016, 0x1017, 0x1018, 0x1019, 0x101a, 0x101d, 0x101e, 0x1026, 0x1027,
        0x1028, 0x1075, 0x1076, 0x1077, 0x1078, 0x1079, 0x107a, 0x107b, 0x107c, 0x108a, 0x1099, 0x10b5, 0x2e6e,
    };
    /** igb_pci_tbl (subset), board_82575 = 0 for all. */
    private static final int[] IGB_IDS = {
        0x10c9, 0x10e6, 0x10e7, 0x10e8, 0x1526, 0x150a, 0x1518, 0x150d, 0x10a7, 0x10a9, 0x10d6, 0x150e,
        0x150f, 0x1510, 0x1511, 0x1516, 0x1521, 0x1522, 0x1523, 0x1524, 0x1533, 0x1536, 0x1537, 0x1538,
        0x157b, 0x157c, 0x1539, 0x1f40, 0x1f41, 0x1f45, 0x0438, 0x043a, 0x043c, 0x0440,
    };

    static final DriverModule E1000E = DriverModule.pciDriver("e1000e", "e1000e", params -> {
        List<PciDeviceId> ids = new ArrayList<>();
        for (int[] e : E1000E_IDS) {
            ids.add(PciDeviceId.device(INTEL, e[0], e[1]));
        }
        return DriverDma.nic(64).around(new PciDriver("e1000e", "e1000e", false, ids, null, null, null));
    });

    static final DriverModule E1000 = DriverModule.pciDriver("e1000", "e1000", params -> {
        List<PciDeviceId> ids = new ArrayList<>();
        for (int d : E1000_IDS) {
            ids.add(PciDeviceId.device(INTEL, d));
        }
        // e1000_probe: 64 bits only on a PCI-X bus; QEMU's e1000 reports conventional PCI
        // (no STATUS.PCIX_MODE), so the driver settles for 32 bits.
        return DriverDma.nic(32).around(new PciDriver("e1000", "e1000", false, ids, null, null, null));
    });

    static final DriverModule IGB = DriverModule.pciDriver("igb", "igb", params -> {
        List<PciDeviceId> ids = new ArrayList<>();
        for (int d : IGB_IDS) {
            ids.add(PciDeviceId.device(INTEL, d));
        }
        return DriverDma.nic(64).around(new PciDriver("igb", "igb", false, ids,
                (c, dev) -> {
                    c.setSriovTotalVfs(dev, 7); // igb_probe_vfs
                    return 0;
                },
                (c, dev) -> c.disableSriov(dev), // igb_remove -> igb_disable_sriov
                (c, pf, n) -> {
                    if (n == 0) {
                        c.disableSriov(pf);
                        return 0;
                    }
                    if (n > 7) {
                        return Errno.EPERM.negative(); // igb_enable_sriov
                    }
                    int rc = c.enableSriov(pf, n);
                    return rc < 0 ? rc : n;
                }));
    });

    static final DriverModule IGBVF = DriverModule.pciDriver("igbvf", "igbvf",
            params -> DriverDma.nic(64).around(new PciDriver("igbvf", "igbvf", false, List.of(
                    PciDeviceId.device(INTEL, 0x10ca, 0), PciDeviceId.device(INTEL, 0x1520, 1)), null, null, null)));
}
