package io.viommu.machine.config;

import io.viommu.machine.device.Bridges;
import io.viommu.machine.device.Endpoints;
import io.viommu.machine.device.VirtioFunction;
import io.viommu.machine.device.VirtioFunctions;
import io.viommu.pci.PciBus;
import io.viommu.pci.PciFunction;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code -device} PCI models besides edu and how their properties are read and checked
 * (QEMU 7.2 property names, defaults and error texts; checked with the binary where noted):
 * <pre>
 *  pcie-root-port      chassis slot port disable-acs power_controller_present hotplug
 *  ioh3420             chassis slot port disable-acs (no ACS either way) power_controller_present hotplug
 *  x3130-upstream      port
 *  xio3130-downstream  chassis slot port power_controller_present hotplug
 *  pcie-pci-bridge     msi
 *  pci-bridge          chassis_nr (required, > 0) msi shpc
 *  VGA                 vgamem_mb mmio
 *  e1000 e1000e        mac netdev (e1000e: subsys_ven subsys)
 *  virtio-net-pci      mac netdev disable-legacy disable-modern iommu_platform ats vectors
 *  virtio-blk-pci      drive (required) disable-legacy disable-modern iommu_platform ats vectors num-queues
 *  virtio-rng-pci      rng max-bytes period disable-legacy disable-modern iommu_platform ats vectors
 *                      (no entropy flows: the function occupies its slot with QEMU's ids and BARs)
 *  virtio-balloon-pci  disable-legacy disable-modern iommu_platform ats (no ballooning: the function
 *                      occupies its slot with QEMU's ids and BARs; libvirt adds one to every domain)
 *  qemu-xhci           p2 p3 (no USB: the function occupies its slot with QEMU's ids and BAR)
 *  nvme                serial (required) subsys drive max_ioqpairs num_queues msix_qsize sriov_max_vfs
 *                      sriov_vq_flexible sriov_vi_flexible sriov_max_vq_per_vf sriov_max_vi_per_vf
 *                      mdts vsl zoned.zasl cmb_size_mb
 *  igb-82576, igb      mac netdev  (not in QEMU 7.2: see Endpoints.Igb82576)
 * </pre>
 * Every PCI device also takes bus, addr, multifunction, rombar, romfile, bootindex,
 * failover_pair_id and acpi-index. Properties a model only records (iommu_platform, ats on
 * conventional placements, hotplug, ...) stay visible through {@link PciFunction#properties()}.
 */
final class DeviceCatalog {
    private DeviceCatalog() {
    }

    private static final Set<String> COMMON = Set.of("bus", "addr", "multifunction", "rombar", "romfile",
            "romsize", "bootindex", "failover_pair_id", "acpi-index", "x-pcie-lnksta-dllla",
            "x-pcie-extcap-init");
    private static final List<String> DEVICES = List.of("pcie-root-port", "ioh3420", "x3130-upstream",
            "xio3130-downstream", "pcie-pci-bridge", "pci-bridge", "VGA", "e1000", "e1000e",
            "virtio-net-pci", "virtio-blk-pci", "virtio-rng-pci", "nvme", "igb-82576", "igb", "virtio-balloon-pci", "qemu-xhci");

    static boolean isPciDevice(String driver) {
        return DEVICES.contains(driver);
    }

    private static Set<String> known(String... own) {
        Set<String> s = new HashSet<>(COMMON);
        s.addAll(List.of(own));
        return s;
    }

    static void realize(MachineBuilder m, String driver, String id, DeviceProps p) throws MachineConfigException {
        PciBus bus = m.resolveBus(p);
        int devfn = -1;
        if (p.has("addr")) {
            devfn = MachineBuilder.parseDevfn(p.string("addr", ""));
            if (devfn < 0) {
                throw p.error("Property '" + driver + ".addr' doesn't take value '" + p.string("addr", "") + "'");
            }
        }
        boolean multifunction = p.bool("multifunction", false);
        Endpoints.Placement at = new Endpoints.Placement(bus.isExpress(), bus.isRoot());
        String busName = id != null ? id : driver + "." + System.identityHashCode(p);
        PciFunction f = switch (driver) {
            case "pcie-root-port", "ioh3420" -> {
                p.checkKnown(known("chassis", "slot", "port", "disable-acs", "power_controller_present", "hotplug",
                        "aer_log_max", "bus-reserve", "io-reserve", "mem-reserve", "pref32-reserve", "pref64-reserve"));
                int chassis = (int) p.unsigned("chassis", 8, 0);
                int slot = (int) p.unsigned("slot", 16, 0);
                int port = (int) p.unsigned("port", 8, 0);
                boolean acs = !p.bool("disable-acs", false);
                boolean pcp = p.bool("power_controller_present", true);
                p.bool("hotplug", true);
                m.addChassisSlot(p, chassis, slot);
                yield driver.equals("ioh3420") ? new Bridges.Ioh3420(busName, slot, port, pcp)
                        : new Bridges.GenericRootPort(busName, chassis, slot, port, acs, pcp);
            }
            case "x3130-upstream" -> {
                p.checkKnown(known("port", "aer_log_max"));
                yield new Bridges.X3130Upstream(busName, (int) p.unsigned("port", 8, 0));
            }
            case "xio3130-downstream" -> {
                p.checkKnown(known("chassis", "slot", "port", "power_controller_present", "hotplug", "aer_log_max"));
                int chassis = (int) p.unsigned("chassis", 8, 0);
                int slot = (int) p.unsigned("slot", 16, 0);
                int port = (int) p.unsigned("port", 8, 0);
                boolean pcp = p.bool("power_controller_present", true);
                p.bool("hotplug", true);
                m.addChassisSlot(p, chassis, slot);
                yield new Bridges.Xio3130Downstream(busName, slot, port, pcp);
            }
            case "pcie-pci-bridge" -> {
                p.checkKnown(known("msi"));
                Boolean msi = p.onOffAuto("msi");
                yield new Bridges.PciePciBridge(busName, msi == null || msi);
            }
            case "pci-bridge" -> {
                p.checkKnown(known("chassis_nr", "msi", "shpc", "bus-reserve", "io-reserve", "mem-reserve",
                        "pref32-reserve", "pref64-reserve"));
                int chassis = (int) p.unsigned("chassis_nr", 8, 0);
                Boolean msi = p.onOffAuto("msi");
                boolean shpc = p.bool("shpc", true);
                if (chassis == 0) {
                    throw p.error("Bridge chassis not specified. Each bridge is required to be assigned a unique chassis id > 0.");
                }
                yield new Bridges.PciBridgeDev(busName, chassis, msi == null || msi, shpc);
            }
            case "VGA" -> {
                p.checkKnown(known("vgamem_mb", "mmio", "edid", "xres", "yres", "xmax", "ymax", "refresh_rate",
                        "qemu-extended-regs", "big-endian-framebuffer", "global-vmstate"));
                yield new Endpoints.StdVga((int) p.unsigned("vgamem_mb", 32, 16), p.bool("mmio", true));
            }
            case "e1000" -> {
                p.checkKnown(known("mac", "netdev", "autonegotiation", "mitigation", "extra_mac_registers", "init-vet"));
                m.claimNetdev(p, driver);
                m.mac(p);
                yield new Endpoints.E1000();
            }
            case "e1000e" -> {
                p.checkKnown(known("mac", "netdev", "subsys_ven", "subsys", "disable_vnet_hdr", "init-vet"));
                m.claimNetdev(p, driver);
                int ssv = (int) p.unsigned("subsys_ven", 16, 0x8086);
                int ss = (int) p.unsigned("subsys", 16, 0);
                yield new Endpoints.E1000e(at, m.mac(p), ssv, ss);
            }
            case "igb-82576", "igb" -> {
                p.checkKnown(known("mac", "netdev"));
                m.claimNetdev(p, driver);
                yield new Endpoints.Igb82576(driver, at, m.mac(p));
            }
            case "virtio-net-pci", "virtio-blk-pci", "virtio-rng-pci" -> virtio(m, driver, p, at);
            case "nvme" -> Nvme.realize(m, p, at);
            case "virtio-balloon-pci" -> {
                p.checkKnown(known("disable-legacy", "disable-modern", "iommu_platform", "ats", "deflate-on-oom",
                        "free-page-reporting", "free-page-hint", "guest-stats-polling-interval"));
                Boolean disableLegacy = p.onOffAuto("disable-legacy");
                boolean modern = !p.bool("disable-modern", false);
                boolean iommuPlatform = p.bool("iommu_platform", false);
                boolean ats = p.bool("ats", false);
                boolean legacy = disableLegacy == null ? !(at.expressBus() && !at.rootBus()) : !disableLegacy;
                refuseLegacyIommuPlatform(p, legacy, iommuPlatform);
                yield new Endpoints.VirtioPci(Endpoints.VirtioKind.BALLOON, at, legacy, modern, 0, ats);
            }
            case "qemu-xhci" -> {
                p.checkKnown(known("p2", "p3", "msi", "msix", "streams", "intrs", "slots"));
                yield new Endpoints.QemuXhci(at);
            }
            default -> throw p.error("'" + driver + "' is not a valid device model name");
        };
        f.setMultiFunction(multifunction || f.isMultiFunction());
        f.setProperties(p.all());
        m.plugUserDevice(p, id, f, bus, devfn);
    }

    /**
     * virtio_pci_device_plugged (QEMU 7.2): a device with its legacy interface (legacy-only or
     * transitional) cannot offer VIRTIO_F_IOMMU_PLATFORM.
     */
    private static void refuseLegacyIommuPlatform(DeviceProps p, boolean legacy, boolean iommuPlatform)
            throws MachineConfigException {
        if (legacy && iommuPlatform) {
            throw p.error("VIRTIO_F_IOMMU_PLATFORM was supported by neither legacy nor transitional device");
        }
    }

    /**
     * virtio-pci's modern/legacy choice (virtio_pci_realize, QEMU 7.2): disable-legacy=auto means
     * modern-only below a PCIe port (a PCIe bus that is not the root bus), transitional elsewhere.
     */
    private static PciFunction virtio(MachineBuilder m, String driver, DeviceProps p, Endpoints.Placement at)
            throws MachineConfigException {
        boolean net = driver.equals("virtio-net-pci");
        boolean rng = driver.equals("virtio-rng-pci");
        if (rng) {
            p.checkKnown(known("disable-legacy", "disable-modern", "iommu_platform", "ats", "aer", "vectors",
                    "ioeventfd", "packed", "page-per-vq", "modern-pio-notify", "event_idx", "indirect_desc",
                    "any_layout", "notify_on_empty", "use-disabled-flag", "use-started",
                    "virtio-pci-bus-master-bug-migration", "rng", "max-bytes", "period"));
        } else {
            p.checkKnown(known("disable-legacy", "disable-modern", "iommu_platform", "ats", "aer", "vectors",
                "ioeventfd", "packed", "page-per-vq", "modern-pio-notify", "queue_reset", "event_idx",
                "indirect_desc", "any_layout", "notify_on_empty", "use-disabled-flag", "use-started",
                "virtio-pci-bus-master-bug-migration",
                net ? "netdev" : "drive", net ? "mac" : "num-queues", net ? "mq" : "queue-size",
                net ? "rx_queue_size" : "serial", net ? "tx_queue_size" : "write-cache",
                net ? "host_mtu" : "discard", net ? "speed" : "config-wce"));
        }
        Boolean disableLegacy = p.onOffAuto("disable-legacy");
        boolean disableModern = p.bool("disable-modern", false);
        boolean iommuPlatform = p.bool("iommu_platform", false);
        boolean ats = p.bool("ats", false);
        boolean pciePort = at.expressBus() && !at.rootBus();
        boolean legacy = disableLegacy == null ? !pciePort : !disableLegacy;
        boolean modern = !disableModern;
        if (!legacy && !modern) {
            throw p.error("device cannot work as neither modern nor legacy mode is enabled\n"
                    + "Set either disable-modern or disable-legacy to off");
        }
        refuseLegacyIommuPlatform(p, legacy, iommuPlatform);
        int vectors;
        if (rng) {
            vectors = (int) p.unsigned("vectors", 32, 2); // virtio-rng-pci: vectors = 2 (QEMU 7.2 info qtree)
            return new Endpoints.VirtioPci(Endpoints.VirtioKind.RNG, at, legacy, modern, vectors, ats, iommuPlatform);
        }
        VirtioFunction function;
        if (net) {
            m.claimNetdev(p, "virtio-net-device");
            function = new VirtioFunctions.Net(m.mac(p));
            vectors = (int) p.unsigned("vectors", 32, 4);
        } else {
            String drive = p.string("drive", null);
            if (drive == null) {
                throw p.error("drive property not set");
            }
            if (!m.hasBlockNode(drive)) {
                throw p.error("Property 'virtio-blk-device.drive' can't find value '" + drive + "'");
            }
            long queues = p.unsigned("num-queues", 16, 0xffff);
            if (queues == 0xffff) {
                queues = Math.min(m.guestCpus(), 1024); // virtio_pci_optimal_num_queues
            }
            vectors = (int) p.unsigned("vectors", 32, queues + 1);
            function = new VirtioFunctions.Blk((int) queues, VirtioFunctions.Blk.MODEL_DISK_BYTES);
        }
        return new Endpoints.VirtioPci(net ? Endpoints.VirtioKind.NET : Endpoints.VirtioKind.BLK, at,
                legacy, modern, vectors, ats, iommuPlatform, function);
    }
}
