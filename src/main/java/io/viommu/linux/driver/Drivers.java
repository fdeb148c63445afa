package io.viommu.linux.driver;

import io.viommu.pci.PciRegs;
import io.viommu.pci.PcieCapability;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The drivers the kernel model knows, as Linux 6.1 defines them: name, module, id table (the
 * entries that matter for QEMU's devices, not every id the real tables list), whether they
 * manage DMA themselves, probe rules and sriov_configure.
 *
 * <ul>
 * <li>{@code pcieport} (built in): PCI bridge class, binds only root, upstream and downstream
 *     ports and event collectors ({@code pcie_portdrv_probe}; -ENODEV for PCIe-to-PCI and
 *     conventional bridges); driver_managed_dma.</li>
 * <li>{@code nvme}: NVMe class and QEMU's 1b36:0010; sriov_configure = pci_sriov_configure_simple.
 *     A VF of QEMU's nvme is offline until the PF assigns it resources (NVMe virtualization
 *     management, which Linux does not do), so its probe ends with "Device not ready; aborting
 *     initialisation, CSTS=0x2" and the driver lets go of it, as in the t5 capture.</li>
 * <li>{@code e1000e}, {@code e1000}, {@code igbvf}: bind their ids.</li>
 * <li>{@code igb}: 82576 and friends; probe lowers the VF limit to 7 ({@code igb_probe_vfs});
 *     sriov_configure refuses more than 7 VFs with -EPERM; remove disables SR-IOV.</li>
 * <li>{@code virtio-pci}: vendor 1af4, probe only device ids 0x1000..0x107f.</li>
 * <li>{@code vfio-pci}: override-only id table, driver_managed_dma; probe refuses non-type-0
 *     headers and devices without a group (-EINVAL) and PFs with VFs enabled (-EBUSY);
 *     sriov_configure -ENOENT unless loaded with enable_sriov=1; module param ids=.</li>
 * <li>{@code pci-stub}: no id table (ids= / new_id / override), driver_managed_dma.</li>
 * <li>{@code uio_pci_generic}: no id table; takes the default domain like any DMA-API driver;
 *     probe -ENODEV when the function has an INTx pin but cannot mask INTx.</li>
 * </ul>
 * The DMA-API drivers (nvme, e1000e, e1000, igb, igbvf, virtio-pci) set their DMA mask and map
 * their rings through the kernel's DMA API while bound ({@link DriverDma}); pcieport, vfio-pci,
 * pci-stub and uio_pci_generic map nothing.
 * Modules without a PCI driver that scripts load ({@code vfio}, {@code vfio_iommu_type1},
 * {@code uio}, ...) are accepted and do nothing here.
 */
public final class Drivers {
    private Drivers() {
    }

    public static final String PCIEPORT = "pcieport";
    public static final String VFIO_PCI = "vfio-pci";

    private static final Map<String, String> MODULE_DRIVER = Map.of(
            "nvme", "nvme", "e1000e", "e1000e", "e1000", "e1000", "virtio_pci", "virtio-pci",
            "igb", "igb", "igbvf", "igbvf", "vfio_pci", VFIO_PCI, "pci_stub", "pci-stub",
            "uio_pci_generic", "uio_pci_generic");
    private static final Set<String> OTHER_MODULES = Set.of("vfio", "vfio_iommu_type1", "vfio_pci_core",
            "vfio_virqfd", "uio", "nvme_core", "virtio", "virtio_ring", "virtio_net", "virtio_blk", "kvm", "kvm_intel");

    /** modprobe's name normalisation: dashes and underscores are the same. */
    public static String moduleName(String name) {
        return name == null ? "" : name.replace('-', '_');
    }

    static boolean known(String module) {
        return MODULE_DRIVER.containsKey(module) || OTHER_MODULES.contains(module);
    }

    /**
     * The modules a module needs loaded first (modules.dep of Debian's 6.1, the parts modelled):
     * vfio-pci on vfio_pci_core and vfio, vfio_pci_core and vfio_iommu_type1 on vfio,
     * uio_pci_generic on uio.
     */
    static List<String> dependencies(String module) {
        return switch (module) {
            case "vfio_pci" -> List.of("vfio", "vfio_pci_core");
            case "vfio_pci_core", "vfio_iommu_type1", "vfio_virqfd" -> List.of("vfio");
            case "uio_pci_generic" -> List.of("uio");
            default -> List.of();
        };
    }

    /**
     * {@code MODULE_SOFTDEP("post: ...")}: loaded right after the module. vfio (6.1
     * vfio_main.c) names vfio_iommu_type1 (and vfio_iommu_spapr_tce, which x86 does not have).
     */
    static List<String> softDependenciesPost(String module) {
        return module.equals("vfio") ? List.of("vfio_iommu_type1") : List.of();
    }

    static Set<String> builtinModules() {
        return Set.of(PCIEPORT);
    }

    static String driverOfModule(String module) {
        return MODULE_DRIVER.get(module);
    }

    private static final int INTEL = 0x8086;
    private static final int REDHAT = 0x1b36;
    private static final int QUMRANET = 0x1af4;
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
    /** NVME_QUIRK_BOGUS_NID, the driver_data of QEMU's controller entry. */
    private static final long NVME_QUIRK_BOGUS_NID = 1L << 18;
    private static final int CLASS_STORAGE_EXPRESS = 0x010802;

    /** Creates the driver named {@code name} (its state, like nvme's instance numbers, is per kernel). */
    static PciDriver create(String name, Map<String, String> params, DriverCore core) {
        switch (name) {
            case PCIEPORT -> {
                return new PciDriver(PCIEPORT, null, true, List.of(
                        PciDeviceId.classMatch(0x060400, 0xffffff), PciDeviceId.classMatch(0x060401, 0xffffff),
                        PciDeviceId.classMatch(0x080700, 0xffffff)),
                        Drivers::pcieportProbe, null, null);
            }
            case "nvme" -> {
                BitSet instances = new BitSet();
                Map<PciDevice, Integer> ctrl = new java.util.HashMap<>();
                return withDma(DriverDma.nvme(), new PciDriver("nvme", "nvme", false, List.of(
                        PciDeviceId.device(REDHAT, 0x0010, NVME_QUIRK_BOGUS_NID),
                        PciDeviceId.classMatch(CLASS_STORAGE_EXPRESS, 0xffffff)),
                        (c, dev) -> nvmeProbe(c, dev, instances, ctrl),
                        (c, dev) -> {
                            Integer n = ctrl.remove(dev);
                            if (n != null) {
                                instances.clear(n);
                            }
                        },
                        DriverCore::sriovConfigureSimple));
            }
            case "e1000e" -> {
                List<PciDeviceId> ids = new ArrayList<>();
                for (int[] e : E1000E_IDS) {
                    ids.add(PciDeviceId.device(INTEL, e[0], e[1]));
                }
                return withDma(DriverDma.nic(64), new PciDriver("e1000e", "e1000e", false, ids, null, null, null));
            }
            case "e1000" -> {
                List<PciDeviceId> ids = new ArrayList<>();
                for (int d : E1000_IDS) {
                    ids.add(PciDeviceId.device(INTEL, d));
                }
                // e1000_probe: 64 bits only on a PCI-X bus; QEMU's e1000 reports conventional PCI
                // (no STATUS.PCIX_MODE), so the driver settles for 32 bits.
                return withDma(DriverDma.nic(32), new PciDriver("e1000", "e1000", false, ids, null, null, null));
            }
            case "igb" -> {
                List<PciDeviceId> ids = new ArrayList<>();
                for (int d : IGB_IDS) {
                    ids.add(PciDeviceId.device(INTEL, d));
                }
                return withDma(DriverDma.nic(64), new PciDriver("igb", "igb", false, ids,
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
            }
            case "igbvf" -> {
                return withDma(DriverDma.nic(64), new PciDriver("igbvf", "igbvf", false, List.of(
                        PciDeviceId.device(INTEL, 0x10ca, 0), PciDeviceId.device(INTEL, 0x1520, 1)), null, null, null));
            }
            case "virtio-pci" -> {
                return withDma(DriverDma.virtio(), new PciDriver("virtio-pci", "virtio_pci", false,
                        List.of(PciDeviceId.device(QUMRANET, PciDeviceId.ANY)),
                        (c, dev) -> {
                            int d = dev.function().deviceId();
                            return d < 0x1000 || d > 0x107f ? Errno.ENODEV.negative() : 0;
                        }, null, null));
            }
            case VFIO_PCI -> {
                return new PciDriver(VFIO_PCI, "vfio_pci", true, List.of(PciDeviceId.overrideOnly(PciDeviceId.ANY, PciDeviceId.ANY)),
                        Drivers::vfioPciProbe,
                        (c, dev) -> c.disableSriov(dev),
                        (c, pf, n) -> {
                            // vfio_pci_sriov_configure reads the parameter now (0644: settable at run time)
                            if (!c.moduleFlag("vfio_pci", "enable_sriov")) {
                                return Errno.ENOENT.negative();
                            }
                            return c.sriovConfigureSimple(pf, n);
                        });
            }
            case "pci-stub" -> {
                return new PciDriver("pci-stub", "pci_stub", true, null,
                        (c, dev) -> {
                            c.devLog(KernelMessage.INFO, dev, "claimed by stub");
                            return 0;
                        }, null, null);
            }
            case "uio_pci_generic" -> {
                return new PciDriver("uio_pci_generic", "uio_pci_generic", false, null, Drivers::uioProbe, null, null);
            }
            default -> throw new IllegalArgumentException("no driver " + name);
        }
    }

    /**
     * A DMA-API driver: after its own probe succeeds, the DMA mask and buffers of {@code dma}
     * (a failure there undoes the probe through its remove and fails it); on remove, its own
     * remove first, then the buffers are unmapped and freed.
     */
    private static PciDriver withDma(DriverDma dma, PciDriver d) {
        PciDriver.Probe probe = d.probe();
        PciDriver.Remove remove = d.remove();
        PciDriver out = new PciDriver(d.name(), d.module(), d.driverManagedDma(), d.idTable(),
                (c, dev) -> {
                    int rc = probe == null ? 0 : probe.probe(c, dev);
                    if (rc != 0) {
                        return rc;
                    }
                    rc = dma.setUp(c, dev);
                    if (rc != 0 && remove != null) {
                        remove.remove(c, dev);
                    }
                    return rc;
                },
                (c, dev) -> {
                    if (remove != null) {
                        remove.remove(c, dev);
                    }
                    dma.tearDown(c, dev);
                },
                d.sriovConfigure());
        out.setDma(dma);
        return out;
    }

    /** Module parameters that add dynamic ids once the driver is registered ({@code vfio_pci_fill_ids}). */
    static void afterRegister(PciDriver d, Map<String, String> params, DriverCore core) {
        String ids = params.get("ids");
        if (ids == null || !(d.name().equals(VFIO_PCI) || d.name().equals("pci-stub"))) {
            return;
        }
        String prefix = d.name().equals(VFIO_PCI) ? "vfio_pci: " : "pci-stub: ";
        for (String id : ids.split(",", -1)) {
            if (id.isEmpty()) {
                continue;
            }
            long[] f = KernelText.scanHex(id, 6, ':');
            if (f.length < 2) {
                core.log(KernelMessage.WARNING, prefix + "invalid id string \"" + id + "\"");
                continue;
            }
            int sv = f.length > 2 ? (int) f[2] : PciDeviceId.ANY;
            int sd = f.length > 3 ? (int) f[3] : PciDeviceId.ANY;
            int cls = f.length > 4 ? (int) f[4] : 0;
            int mask = f.length > 5 ? (int) f[5] : 0;
            core.log(KernelMessage.INFO, String.format("%sadd [%04x:%04x[%04x:%04x]] class %#08x/%08x",
                    prefix, (int) f[0], (int) f[1], sv, sd, cls, mask));
            core.addDynamicId(d, new PciDeviceId((int) f[0], (int) f[1], sv, sd, cls, mask, 0, false));
        }
    }

    private static int pcieportProbe(DriverCore core, PciDevice dev) {
        PcieCapability.PortType t = dev.function().portType();
        if (t == null || !(t == PcieCapability.PortType.ROOT_PORT || t == PcieCapability.PortType.UPSTREAM_PORT
                || t == PcieCapability.PortType.DOWNSTREAM_PORT || t == PcieCapability.PortType.RC_EVENT_COLLECTOR)) {
            return Errno.ENODEV.negative();
        }
        return 0;
    }

    private static int nvmeProbe(DriverCore core, PciDevice dev, BitSet instances, Map<PciDevice, Integer> ctrl) {
        int n = instances.nextClearBit(0);
        instances.set(n);
        ctrl.put(dev, n);
        if (dev.isVirtfn() && "nvme-vf".equals(dev.function().qemuType())) {
            // nvme_reset_work: CSTS.CFS on an offline secondary controller; nvme_remove_dead_ctrl
            // then releases the driver (device_release_driver) from a work item.
            core.schedule(() -> {
                if (dev.driver() != null && dev.driver().name().equals("nvme")) {
                    core.log(KernelMessage.ERR, "nvme nvme" + n + ": Device not ready; aborting initialisation, CSTS=0x2");
                    core.deviceReleaseDriver(dev);
                }
            });
        }
        return 0;
    }

    /** {@code vfio_pci_probe} / {@code vfio_pci_core_register_device}. */
    private static int vfioPciProbe(DriverCore core, PciDevice dev) {
        if (dev.function().headerLayout() != PciRegs.HEADER_TYPE_NORMAL) {
            return Errno.EINVAL.negative();
        }
        if (dev.sriov() != null && dev.sriov().numVfs() > 0) {
            core.devLog(KernelMessage.WARNING, dev, "Cannot bind to PF with SR-IOV enabled");
            return Errno.EBUSY.negative();
        }
        if (core.groupOf(dev).isEmpty() && !core.moduleFlag("vfio", "enable_unsafe_noiommu_mode")) {
            return Errno.EINVAL.negative(); // vfio_group_find_or_alloc: no group and no noiommu
        }
        return 0;
    }

    /** {@code uio_pci_generic} probe: a function with an INTx pin must support INTx masking. */
    private static int uioProbe(DriverCore core, PciDevice dev) {
        var cfg = core.config();
        var rid = dev.rid();
        int pin = (int) cfg.read(rid, PciRegs.INTERRUPT_PIN, 1);
        if (pin == 0) {
            core.devLog(KernelMessage.WARNING, dev, "No IRQ assigned to device: no support for interrupts?");
            return 0;
        }
        // pci_intx_mask_supported: toggle INTx Disable, see whether it sticks, restore.
        long orig = cfg.read(rid, PciRegs.COMMAND, 2);
        cfg.write(rid, PciRegs.COMMAND, orig ^ PciRegs.COMMAND_INTX_DISABLE, 2);
        long now = cfg.read(rid, PciRegs.COMMAND, 2);
        boolean supported = ((now ^ orig) & PciRegs.COMMAND_INTX_DISABLE) != 0
                && ((now ^ orig) & ~PciRegs.COMMAND_INTX_DISABLE) == 0;
        cfg.write(rid, PciRegs.COMMAND, orig, 2);
        return supported ? 0 : Errno.ENODEV.negative();
    }
}
