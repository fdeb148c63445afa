package io.viommu.vmm;

import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.driver.ResetMethod;
import io.viommu.linux.vfio.RegionInfo;
import io.viommu.linux.vfio.Vfio;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.linux.vfio.VfioDevice;
import io.viommu.linux.vfio.VfioException;
import io.viommu.linux.vfio.VfioGroup;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.memory.Mmio;
import io.viommu.pci.AccessRules;
import io.viommu.pci.Bar;
import io.viommu.pci.ConfigSpace;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * QEMU 7.2's {@code vfio-pci} (hw/vfio/pci.c, common.c): a host PCI function assigned to the VM
 * through the host kernel's VFIO. Realized as {@code vfio_realize} does it — group first and its
 * viability, then the container (API version, extensions, SET_CONTAINER, SET_IOMMU type1v2,
 * IOMMU info, the memory listener's mappings of all guest RAM), then GET_DEVICE_FD, device and
 * region info and the config space — with QEMU's message at the step that fails.
 *
 * <p>The VM's view of the function is QEMU's: every config access goes to the VFIO config
 * region (where the host kernel virtualises its part) except the bits QEMU emulates
 * ({@code emulated_config_bits}: the BARs, the ROM BAR, the header type's multifunction bit,
 * the capability list pointers, the whole MSI and MSI-X capabilities); writes go to VFIO and to the emulated
 * copy. The BARs are QEMU's, at guest addresses; their accesses reach the host BAR through the
 * mmap'ed region, or with {@code x-no-mmap=on} through the device file's pread/pwrite.
 */
public final class VfioPciDevice extends PciFunction {
    public static final String DRIVER = "vfio-pci";
    private static final Set<String> PROPERTIES = Set.of("host", "sysfsdev", "x-no-mmap", "rombar", "romfile",
            "bootindex", "failover_pair_id", "x-pci-vendor-id", "x-pci-device-id", "x-pci-sub-vendor-id",
            "x-pci-sub-device-id", "x-req", "x-intx-mmap-timeout-ms", "x-no-kvm-intx", "x-no-kvm-msi",
            "x-no-kvm-msix");
    private static final String SYSFS_DEVICES = "/sys/bus/pci/devices/";

    private final Vmm vmm;
    private final String name;
    private final VfioDevice device;
    private final Vmm.Group group;
    private final byte[] emulated;
    private final boolean resetWorks;
    private final boolean hasFlr;
    private final boolean hasPmReset;
    private final VfioPciInterrupts irq;
    private io.viommu.pci.MsixTable msixTable;
    /** BARs whose region is the mmap of the device file (QEMU: a RAM device subregion). */
    private final boolean[] mmapped = new boolean[6];
    private boolean closed;

    private VfioPciDevice(Vmm vmm, String name, VfioDevice device, Vmm.Group group, long[] hostConfig, int cfgSize,
                          boolean noMmap) {
        super(DRIVER, (int) hostConfig[0] & 0xffff, (int) (hostConfig[0] >>> 16), (int) (hostConfig[2] >>> 8),
                (int) hostConfig[2] & 0xff, false, cfgSize);
        this.vmm = vmm;
        this.name = name;
        this.device = device;
        this.group = group;
        this.emulated = new byte[cfgSize];
        PciDevice host = device.pciDevice();
        this.resetWorks = (device.info().flags() & VfioDevice.FLAGS_RESET) != 0;
        this.hasFlr = host.resetMethods().contains(ResetMethod.FLR);
        this.hasPmReset = host.resetMethods().contains(ResetMethod.PM);
        this.irq = new VfioPciInterrupts(this, device, vmm);
        // vfio_realize: "Clear host resource mapping info": BARs and ROM are QEMU's
        fill(PciRegs.BAR0, 24);
        fill(0x30, 4);
        // the multifunction bit is QEMU's (vfio_realize: emulated_config_bits[PCI_HEADER_TYPE])
        emulated[PciRegs.HEADER_TYPE] = (byte) PciRegs.HEADER_TYPE_MULTI_FUNCTION;
        traceMsixEarlySetup(hostConfig);
        registerBars(hostConfig, noMmap);
        addCapabilities(hostConfig);
        int pin = (int) (hostConfig[0x3c / 4] >>> 8) & 0xff;
        if (pin != 0) {
            setInterruptPin(pin); // vfio_intx_enable: pci_config_set_interrupt_pin
        }
    }

    private void fill(int offset, int len) {
        for (int i = 0; i < len; i++) {
            emulated[offset + i] = (byte) 0xff;
        }
    }

    /** vfio_bars_prepare / vfio_bars_register: each BAR with a region, its type from the host BAR. */
    private void registerBars(long[] hostConfig, boolean noMmap) {
        for (int i = 0; i < 6; i++) {
            RegionInfo info = device.regionInfo(VfioDevice.BAR0_REGION + i);
            if (info.size() == 0) {
                continue;
            }
            long raw = hostConfig[(PciRegs.BAR0 + 4 * i) / 4];
            boolean io = (raw & 1) != 0;
            boolean mem64 = !io && (raw & 6) == 4;
            Bar.Kind kind = io ? Bar.Kind.IO : mem64 ? Bar.Kind.MEMORY64 : Bar.Kind.MEMORY32;
            Mmio region = msixDecoded(i, regionAccess(i, info, noMmap));
            registerBar(i, kind, info.size(), !io && (raw & 8) != 0, region, AccessRules.ANY);
            if (mem64) {
                i++;
            }
        }
    }

    /**
     * The BAR as the VM decodes it: QEMU's MSI-X table and PBA subregions (msix_init over the
     * BAR's region) above the host BAR, once the capability is set up.
     */
    private Mmio msixDecoded(int index, Mmio raw) {
        return new Mmio() {
            private Mmio decoded;

            private Mmio target() {
                if (decoded == null && msixTable != null) {
                    decoded = msixTable.overlay(index, raw);
                }
                return decoded == null ? raw : decoded;
            }

            @Override
            public long load(long offset, int size) {
                return target().load(offset, size);
            }

            @Override
            public void store(long offset, long value, int size) {
                target().store(offset, value, size);
            }
        };
    }

    /**
     * The BAR's MemoryRegion: the mmap of the region (vfio_region_mmap; a failure only warns
     * {@code Failed to mmap %s BAR %d. Performance may be slow}), else the slow path
     * vfio_region_read/write, a pread/pwrite of the device file per access.
     */
    private Mmio regionAccess(int index, RegionInfo info, boolean noMmap) {
        Mmio slow = slowPath(index, info);
        if (!noMmap && (info.flags() & RegionInfo.FLAG_MMAP) != 0) {
            try {
                Mmio mmap = device.mmap(index);
                mmapped[index] = true;
                vmm.traceEvent("vfio_region_mmap", String.format("Region %s BAR %d mmaps[0] [0x0 - 0x%x]", name, index,
                        info.size() - 1));
                // vfio_mmap_set_enabled: the mmap subregion is switched off while INTx is pending
                return new Mmio() {
                    @Override
                    public long load(long offset, int size) {
                        return irq.mmapEnabled() ? mmap.load(offset, size) : slow.load(offset, size);
                    }

                    @Override
                    public void store(long offset, long value, int size) {
                        if (irq.mmapEnabled()) {
                            mmap.store(offset, value, size);
                        } else {
                            slow.store(offset, value, size);
                        }
                    }
                };
            } catch (VfioException e) {
                vmm.report(String.format("Failed to mmap %s BAR %d. Performance may be slow", name, index));
            }
        }
        return slow;
    }

    /** vfio_region_read/write: a pread/pwrite of the device file, then the INTx EOI (vfio_intx_eoi). */
    private Mmio slowPath(int index, RegionInfo info) {
        long base = info.offset();
        return new Mmio() {
            @Override
            public long load(long offset, int size) {
                try {
                    return device.read(base + offset, size);
                } catch (VfioException e) {
                    // vfio_region_read: error_report, and the guest reads all ones
                    vmm.report(String.format("vfio_region_read(%s:region%d+0x%x, %d) failed: %s",
                            name, index, offset, size, e.errno().strerror));
                    return size == 8 ? -1L : (1L << (8 * size)) - 1;
                } finally {
                    irq.eoi();
                }
            }

            @Override
            public void store(long offset, long value, int size) {
                try {
                    device.write(base + offset, value, size);
                } catch (VfioException e) {
                    vmm.report(String.format("vfio_region_write(%s:region%d+0x%x, 0x%x, %d) failed: %s",
                            name, index, offset, value, size, e.errno().strerror));
                }
                irq.eoi();
            }
        };
    }

    /**
     * vfio_add_capabilities / vfio_add_std_cap: the standard list rebuilt with QEMU's pointers
     * (emulated), in the host's order; MSI emulated whole (vfio_msi_setup: msi_init at the same
     * offset, 64-bit as the host's); other capabilities read through to the device.
     */
    private void addCapabilities(long[] hostConfig) {
        if ((cfgByte(hostConfig, PciRegs.STATUS) & PciRegs.STATUS_CAP_LIST) == 0) {
            return;
        }
        emulated[PciRegs.CAPABILITY_LIST] = (byte) 0xff;
        emulated[PciRegs.STATUS] |= (byte) PciRegs.STATUS_CAP_LIST;
        int pos = cfgByte(hostConfig, PciRegs.CAPABILITY_LIST) & 0xfc;
        for (int n = 0; pos >= PciRegs.HEADER_SIZE && n < 48; n++) {
            int id = cfgByte(hostConfig, pos);
            int next = cfgByte(hostConfig, pos + 1) & 0xfc;
            if (id == PciRegs.CAP_ID_MSI) {
                boolean is64 = (cfgByte(hostConfig, pos + 2) & 0x80) != 0;
                addMsi(pos, is64);
                fill(pos, msi().length());
            } else if (id == PciRegs.CAP_ID_MSIX) {
                // vfio_msix_early_setup + vfio_msix_setup: QEMU's own table and PBA at the host's
                // BAR offsets, the whole capability emulated; the PBA decoded only while needed
                int control = cfgByte(hostConfig, pos + 2) | cfgByte(hostConfig, pos + 3) << 8;
                long table = hostConfig[(pos + 4) / 4];
                long pba = hostConfig[(pos + 8) / 4];
                msixTable = addMsix(pos, io.viommu.pci.MsixCapability.vectors(control), (int) (table & 7), table & ~7L,
                        (int) (pba & 7), pba & ~7L, this::sendMessage);
                msixTable.setPbaEnabled(false);
                fill(pos, io.viommu.pci.MsixCapability.SIZE);
            } else {
                addCapability(pos, 2);
                config.define(pos, 1, id, 0, 0);
            }
            emulated[pos + 1] = (byte) 0xff;
            pos = next;
        }
    }

    /** vfio_msix_early_setup's trace event (before vfio_bars_register maps the BARs). */
    private void traceMsixEarlySetup(long[] hostConfig) {
        if ((cfgByte(hostConfig, PciRegs.STATUS) & PciRegs.STATUS_CAP_LIST) == 0) {
            return;
        }
        int pos = cfgByte(hostConfig, PciRegs.CAPABILITY_LIST) & 0xfc;
        for (int n = 0; pos >= PciRegs.HEADER_SIZE && n < 48; n++) {
            if (cfgByte(hostConfig, pos) == PciRegs.CAP_ID_MSIX) {
                int control = cfgByte(hostConfig, pos + 2) | cfgByte(hostConfig, pos + 3) << 8;
                long table = hostConfig[(pos + 4) / 4];
                vmm.traceEvent("vfio_msix_early_setup", String.format("%s PCI MSI-X CAP @0x%x, BAR %d, offset 0x%x, entries %d",
                        name, pos, table & 7, table & ~7L, io.viommu.pci.MsixCapability.vectors(control)));
                return;
            }
            pos = cfgByte(hostConfig, pos + 1) & 0xfc;
        }
    }

    private static int cfgByte(long[] dwords, int offset) {
        return (int) (dwords[offset / 4] >>> (8 * (offset % 4))) & 0xff;
    }

    // ---------------------------------------------------------------- realize

    /** {@code vfio_realize}: the properties, then the host VFIO steps in QEMU 7.2's order. */
    static VfioPciDevice realize(Vmm vmm, Machine machine, io.viommu.pci.PciBus bus, int devfn, String prefix,
                                 Map<String, String> props)
            throws MachineConfigException {
        String host = null;
        String sysfsdev = null;
        boolean noMmap = false;
        for (Map.Entry<String, String> e : props.entrySet()) {
            String v = e.getValue();
            switch (e.getKey()) {
                case "host" -> {
                    host = parseHost(v);
                    if (host == null) {
                        throw new MachineConfigException(prefix + "Property 'vfio-pci.host' doesn't take value '" + v + "'");
                    }
                }
                case "sysfsdev" -> sysfsdev = v;
                case "x-no-mmap" -> noMmap = bool(prefix, "x-no-mmap", v);
                case "rombar", "x-req", "x-no-kvm-intx", "x-no-kvm-msi", "x-no-kvm-msix" -> bool(prefix, e.getKey(), v);
                default -> {
                    if (!PROPERTIES.contains(e.getKey())) {
                        throw new MachineConfigException(prefix + "Property 'vfio-pci." + e.getKey() + "' not found");
                    }
                }
            }
        }
        if (host == null && sysfsdev == null) {
            throw new MachineConfigException(prefix + "No provided host device\n"
                    + "Use -device vfio-pci,host=DDDD:BB:DD.F or -device vfio-pci,sysfsdev=PATH_TO_DEVICE");
        }
        if (sysfsdev == null) {
            sysfsdev = SYSFS_DEVICES + host;
        }
        String name = sysfsdev.substring(sysfsdev.lastIndexOf('/') + 1);
        io.viommu.linux.Kernel k = vmm.host();
        PciDevice dev = sysfsdev.startsWith(SYSFS_DEVICES) ? k.drivers().device(name).orElse(null) : null;
        if (dev == null) {
            throw new MachineConfigException(prefix + "vfio " + sysfsdev + ": no such host device: No such file or directory");
        }
        String fail = prefix + "vfio " + name + ": ";
        // the device's iommu_group link: its IOMMU group, or the one VFIO's no-IOMMU mode made for it
        // (QEMU 7.2 knows no /dev/vfio/noiommu-N: it opens /dev/vfio/N, which that mode does not create)
        OptionalInt groupId = k.drivers().groupOf(dev);
        if (groupId.isEmpty() && k.vfio().isPresent()) {
            groupId = k.vfio().get().noiommuGroup(name);
        }
        if (groupId.isEmpty()) {
            throw new MachineConfigException(fail + "no iommu_group found: No such file or directory");
        }
        int g = groupId.getAsInt();
        // pci_device_iommu_address_space, taken at realize: the vIOMMU's for the device's DMA
        // alias (itself, or behind a conventional bus the bridge's: DmaAlias) when intel-iommu
        // was realized before, else system memory. Devices with one alias share its address
        // space (and so a container). Bus numbers are read when used (the guest or its firmware
        // numbers buses after realize).
        io.viommu.vtd.IntelIommu viommu = machine.iommu();
        io.viommu.pci.DmaAlias alias = io.viommu.pci.DmaAlias.of(bus, Math.max(devfn, 0));
        java.util.function.Supplier<io.viommu.pci.RequesterId> rid = alias::rid;
        String space = viommu == null ? "system" : "vtd-" + alias.bus().name() + "/" + alias.devfn();
        vmm.traceEvent("vfio_realize", String.format(" (%s) group %d", name, g));
        Vmm.Group shared = vmm.group(g);
        if (shared != null && !shared.space.equals(space)) {
            throw new MachineConfigException(fail + "group " + g + " used in multiple address spaces");
        }
        boolean fresh = shared == null;
        if (fresh) {
            shared = openGroup(vmm, k, g, fail, space, viommu, rid); // vfio_get_group: the group and its container
            vmm.register(shared);
        }
        VfioDevice device = null;
        try {
            // vfio_get_device
            for (VfioDevice open : shared.group().openDevices()) {
                if (open.name().equals(name)) {
                    throw new MachineConfigException(fail + "device is already attached");
                }
            }
            try {
                device = shared.group().deviceFd(name);
            } catch (VfioException e) {
                throw new MachineConfigException(fail + "error getting device from group " + g + ": "
                        + e.errno().strerror + "\nVerify all devices in group " + g
                        + " are bound to vfio-pci or pci-stub and not already in use");
            }
            VfioDevice.DeviceInfo info = device.info();
            vmm.traceEvent("vfio_get_device", String.format("Device %s flags: %d, regions: %d, irqs: %d", name,
                    info.flags(), info.numRegions(), info.numIrqs()));
            if ((info.flags() & VfioDevice.FLAGS_PCI) == 0) {
                throw new MachineConfigException(fail + "this isn't a PCI device");
            }
            RegionInfo cfg;
            try {
                for (int i = 0; i < 6; i++) {
                    RegionInfo r = device.regionInfo(i);
                    vmm.traceEvent("vfio_region_setup", String.format("Device %s, region %d \"%s BAR %d\", flags: 0x%x,"
                            + " offset: 0x%x, size: 0x%x", name, i, name, i, r.flags(), r.offset(), r.size()));
                }
            } catch (VfioException e) {
                throw new MachineConfigException(fail + "failed to get region info");
            }
            try {
                cfg = device.regionInfo(VfioDevice.CONFIG_REGION);
                vmm.traceEvent("vfio_populate_device_config", String.format("Device %s config:\n  size: 0x%x,"
                        + " offset: 0x%x, flags: 0x%x", name, cfg.size(), cfg.offset(), cfg.flags()));
            } catch (VfioException e) {
                throw new MachineConfigException(fail + "failed to get config info");
            }
            int cfgSize = cfg.size() >= ConfigSpace.PCIE_SIZE ? ConfigSpace.PCIE_SIZE : ConfigSpace.CONVENTIONAL_SIZE;
            long[] hostConfig = new long[ConfigSpace.CONVENTIONAL_SIZE / 4];
            try {
                for (int i = 0; i < hostConfig.length; i++) {
                    hostConfig[i] = device.read(cfg.offset() + 4L * i, 4);
                }
            } catch (VfioException e) {
                throw new MachineConfigException(fail + "failed to read device config space");
            }
            VfioPciDevice d = new VfioPciDevice(vmm, name, device, shared, hostConfig, cfgSize, noMmap);
            try {
                d.irq.intxEnable();
            } catch (VfioPciInterrupts.IntxFailure e) {
                throw new MachineConfigException(fail + e.getMessage());
            }
            shared.users++;
            return d;
        } catch (MachineConfigException | RuntimeException e) {
            if (device != null) {
                device.close();
            }
            if (fresh) {
                vmm.release(shared);
            }
            throw e;
        }
    }

    /**
     * vfio_get_group: open /dev/vfio/N, check viability, then vfio_connect_container: first
     * VFIO_GROUP_SET_CONTAINER on each container the VM already has (one set of mappings for
     * the address space), else a new container set up and its guest RAM mapped.
     */
    private static Vmm.Group openGroup(Vmm vmm, io.viommu.linux.Kernel k, int g, String fail, String space,
                                       io.viommu.vtd.IntelIommu viommu,
                                       java.util.function.Supplier<io.viommu.pci.RequesterId> rid)
            throws MachineConfigException {
        Vfio vfio = k.vfio().orElse(null);
        String groupPath = "/dev/vfio/" + g;
        if (vfio == null) {
            throw new MachineConfigException(fail + "failed to open " + groupPath + ": No such file or directory");
        }
        VfioGroup group;
        try {
            group = vfio.openGroup(vmm.process(), groupPath);
        } catch (VfioException e) {
            throw new MachineConfigException(fail + "failed to open " + groupPath + ": " + e.errno().strerror);
        }
        VfioContainer container = null;
        VfioListener listener = null;
        try {
            if ((group.status() & VfioGroup.FLAGS_VIABLE) == 0) {
                throw new MachineConfigException(fail + "group " + g + " is not viable\n"
                        + "Please ensure all devices within the iommu_group are bound to their vfio bus driver.");
            }
            for (Vmm.Group other : vmm.groups()) {
                if (!other.space.equals(space)) {
                    continue; // containers are per address space (vfio_get_address_space)
                }
                try {
                    group.setContainer(other.container());
                    return new Vmm.Group(g, space, group, other.container(), other.listener());
                } catch (VfioException e) {
                    // not compatible with that container's IOMMU domain: try the next, then a new one
                }
            }
            String setup = fail + "failed to setup container for group " + g + ": ";
            container = vfio.openContainer(vmm.process());
            int version = container.apiVersion();
            if (version != Vfio.API_VERSION) {
                throw new MachineConfigException(setup + "supported vfio version: " + Vfio.API_VERSION
                        + ", reported version: " + version);
            }
            long type = 0;
            for (long t : new long[] {Vfio.TYPE1v2_IOMMU, Vfio.TYPE1_IOMMU, Vfio.SPAPR_TCE_v2_IOMMU, Vfio.SPAPR_TCE_IOMMU}) {
                if (container.checkExtension(t) > 0) {
                    type = t;
                    break;
                }
            }
            if (type == 0) {
                throw new MachineConfigException(setup + "No available IOMMU models");
            }
            try {
                group.setContainer(container);
            } catch (VfioException e) {
                throw new MachineConfigException(setup + "Failed to set group container: " + e.errno().strerror);
            }
            try {
                container.setIommu(type);
            } catch (VfioException e) {
                throw new MachineConfigException(setup + "Failed to set iommu for container: " + e.errno().strerror);
            }
            try {
                container.iommuInfo();
            } catch (VfioException e) {
                throw new MachineConfigException(setup + "Failed to get VFIO IOMMU info");
            }
            listener = new VfioListener(container, vmm.processRam(), new VfioListener.ErrorSink() {
                @Override
                public void report(String message) {
                    vmm.report(message);
                }

                @Override
                public void hardwareError(String message) {
                    vmm.hardwareError(message);
                }
            });
            listener.setSectionTrace(vmm.sectionTrace());
            try {
                if (viommu == null) {
                    listener.mapGuestRam();
                } else {
                    listener.attach(viommu, vmm.notifier(viommu), rid);
                }
            } catch (VfioListener.InitFailure e) {
                listener = null; // nothing stays mapped
                throw new MachineConfigException(setup + e.getMessage());
            }
            return new Vmm.Group(g, space, group, container, listener);
        } catch (MachineConfigException | RuntimeException e) {
            if (listener != null) {
                listener.detach();
            }
            if (group.container() != null) {
                group.unsetContainer();
            }
            group.close();
            throw e;
        }
    }

    /** {@code [DDDD:]BB:DD.F} in hex (QEMU's PCIHostDevice property), as Linux names it; null if malformed. */
    public static String parseHost(String v) {
        String[] parts = v.split(":", -1);
        if (parts.length < 2 || parts.length > 3) {
            return null;
        }
        String dom = parts.length == 3 ? parts[0] : "0";
        String bus = parts[parts.length - 2];
        String[] df = parts[parts.length - 1].split("\\.", -1);
        if (df.length != 2) {
            return null;
        }
        Integer d = hex(dom, 0xffff);
        Integer b = hex(bus, 0xff);
        Integer s = hex(df[0], 0x1f);
        Integer f = hex(df[1], 7);
        if (d == null || b == null || s == null || f == null) {
            return null;
        }
        return String.format(Locale.ROOT, "%04x:%02x:%02x.%x", d, b, s, f);
    }

    private static Integer hex(String s, int max) {
        if (s.isEmpty() || s.length() > 4 || !s.matches("[0-9a-fA-F]+")) {
            return null;
        }
        int v = Integer.parseInt(s, 16);
        return v > max ? null : v;
    }

    private static boolean bool(String prefix, String key, String v) throws MachineConfigException {
        return switch (v) {
            case "on", "true", "yes" -> true;
            case "off", "false", "no" -> false;
            default -> throw new MachineConfigException(prefix + "Parameter '" + key + "' expects 'on' or 'off'");
        };
    }

    // ---------------------------------------------------------------- the guest's view

    /** vfio_pci_read_config: emulated bits from QEMU's copy, the rest from the VFIO config region. */
    @Override
    public long configRead(int offset, int len) {
        if (closed || offset < 0 || offset + len > emulated.length) {
            return super.configRead(offset, len);
        }
        long emu = 0;
        for (int i = 0; i < len; i++) {
            emu |= (emulated[offset + i] & 0xffL) << (8 * i);
        }
        long all = len == 8 ? -1L : (1L << (8 * len)) - 1;
        long phys = 0;
        if ((emu & all) != all) {
            try {
                phys = device.read(((long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT) + offset, len);
            } catch (VfioException e) {
                vmm.report(String.format("vfio: Failed to read PCI config space: %s", e.errno().strerror));
                return all; // QEMU returns (uint32_t)-1
            }
        }
        return (super.configRead(offset, len) & emu) | (phys & ~emu & all);
    }

    /**
     * vfio_pci_write_config: everything to VFIO (it filters), then to QEMU's copy for the
     * emulated bits; a write to the MSI capability that changes its enable bit enables or
     * disables MSI ({@link VfioPciInterrupts}).
     */
    @Override
    public void configWrite(int offset, long value, int len) {
        List<VfioListener.ViewSection> viewBefore = offset < PciRegs.BAR0 + 24 && offset + len > PciRegs.COMMAND
                ? vmm.traceSystemView() : null;
        configWriteNow(offset, value, len);
        if (viewBefore != null && !closed && group != null && group.listener() != null) {
            group.listener().systemViewChanged(viewBefore);
        }
    }

    /**
     * The device's memory BARs in system memory's flat view (for the listener's trace): a BAR
     * the guest enabled and placed is a RAM section while it is the mmap of the device file,
     * MMIO otherwise (x-no-mmap); a BAR holding QEMU's MSI-X table or PBA is left out (QEMU
     * splits it around them: not traced). The host address is a stand-in for QEMU's mmap.
     */
    List<VfioListener.ViewSection> barSections() {
        List<VfioListener.ViewSection> out = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Bar b = bar(i);
            long addr = barAddress(i);
            if (b == null || b.kind() == Bar.Kind.IO || addr == Bar.UNMAPPED
                    || (msixTable != null && (msixTable.tableBir() == i || msixTable.pbaBir() == i))) {
                continue;
            }
            out.add(new VfioListener.ViewSection(addr, addr + b.size() - 1,
                    mmapped[i] ? VfioListener.ViewSection.Kind.RAM : VfioListener.ViewSection.Kind.SKIP,
                    BAR_MMAP_HVA + ((long) i << 32)));
        }
        return out;
    }

    /** Where the model says the BAR mmaps are (QEMU's are wherever mmap put them). */
    private static final long BAR_MMAP_HVA = 0x7f10_0000_0000L;

    private void configWriteNow(int offset, long value, int len) {
        boolean msiWrite = !closed && msi() != null && msi().overlaps(offset, len);
        boolean msiWas = msiEnabled();
        boolean msixWrite = !closed && msixTable != null && offset < msixTable.capability() + io.viommu.pci.MsixCapability.SIZE
                && offset + len > msixTable.capability();
        boolean msixWas = msixWrite && msixTable.enabled();
        if (!closed && offset >= 0 && offset + len <= emulated.length) {
            try {
                device.write(((long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT) + offset, value, len);
            } catch (VfioException e) {
                vmm.report(String.format("%s: failed to write config space", name));
            }
        }
        super.configWrite(offset, value, len);
        if (msiWrite) {
            irq.msiWritten(msiWas);
        } else if (msixWrite) {
            irq.msixWritten(msixWas);
        }
    }

    /** msi_send_message: a DWORD write on the device's bus-master address space (the vIOMMU when there is one). */
    void sendMessage(long address, int data) {
        byte[] le = {(byte) data, (byte) (data >>> 8), (byte) (data >>> 16), (byte) (data >>> 24)};
        if (dma() != null) {
            dma().write(io.viommu.memory.Iova.of(address), le, 0, 4);
        }
    }

    /**
     * {@code vfio_pci_reset}: pre-reset (interrupts off; I/O, memory, bus master and
     * INTx-disable cleared in the command register), then VFIO_DEVICE_RESET when it works and is
     * an FLR or there is no PM reset, else a hot reset of the bus ({@link #hotReset}), else the
     * PM reset; post-reset (INTx enabled again).
     */
    void reset() {
        if (closed) {
            return;
        }
        vmm.traceEvent("vfio_pci_reset", " (" + name + ")");
        preReset();
        if (!(resetWorks && (hasFlr || !hasPmReset) && tryReset()) && !hotReset() && resetWorks && hasPmReset) {
            tryReset();
        }
        irq.enableIntxReporting(); // vfio_pci_post_reset: vfio_intx_enable
    }

    /**
     * vfio_pci_compute_needs_reset: a device without a VFIO reset, or whose only one is a PM
     * reset, is bus-reset by QEMU's reset handler before the devices' own resets.
     */
    boolean needsReset() {
        return !closed && (!resetWorks || (!hasFlr && hasPmReset));
    }

    /** vfio_pci_hot_reset_multi (from vfio_reset_handler): pre-reset, the bus reset, post-reset. */
    void hotResetMulti() {
        if (closed) {
            return;
        }
        preReset();
        hotReset();
        irq.enableIntxReporting();
    }

    /** vfio_pci_pre_reset: vfio_disable_interrupts, then I/O, memory and bus mastering off. */
    private void preReset() {
        irq.disableAll();
        int cmd = (int) configRead(PciRegs.COMMAND, 2);
        cmd &= ~(PciRegs.COMMAND_IO | PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER | PciRegs.COMMAND_INTX_DISABLE);
        configWrite(PciRegs.COMMAND, cmd, 2);
    }

    /**
     * vfio_pci_hot_reset: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO fails for a device on a root bus
     * (pci_probe_reset_slot/bus: no bridge to reset), and QEMU says so when there is no PM reset
     * either. A secondary-bus reset of a non-root bus is not modelled (false, silently).
     */
    private boolean hotReset() {
        if (device.pciDevice().parent() == null && !hasPmReset) {
            vmm.report("vfio: Cannot reset device " + name + ", no available reset mechanism.");
        }
        return false;
    }

    private boolean tryReset() {
        try {
            device.reset();
            return true;
        } catch (VfioException e) {
            return false;
        }
    }

    /** QEMU's MSI-X table of the device (null without the capability). */
    io.viommu.pci.MsixTable msixTable() {
        return msixTable;
    }

    /** The main loop's handlers of this device's eventfds (INTx, MSI vectors); how many fired. */
    int pollInterrupts() {
        return closed ? 0 : irq.poll();
    }

    /** Whether an INTx is pending (asserted to the VM, not yet EOI'd by a BAR access). */
    public boolean intxPending() {
        return irq.intxPending();
    }

    /** Whether the assigned device's interrupts are delivered as MSI-X now (the guest enabled it). */
    public boolean msixActive() {
        return irq.mode() == VfioPciInterrupts.Mode.MSIX;
    }

    /** Whether the assigned device's interrupts are delivered as MSI now (the guest enabled it). */
    public boolean msiActive() {
        return irq.mode() == VfioPciInterrupts.Mode.MSI;
    }

    /** Whether the container listens on system memory (all guest RAM mapped at its GPA), not on a vIOMMU. */
    public boolean inSystemMemory() {
        return group.space.equals("system");
    }

    /** The host device's name ({@code 0000:00:04.0}). */
    /** The VMM this device belongs to. */
    Vmm vmm() {
        return vmm;
    }

    public String hostName() {
        return name;
    }

    public VfioDevice vfioDevice() {
        return device;
    }

    public VfioContainer container() {
        return group.container();
    }

    public VfioListener listener() {
        return group.listener();
    }

    /** vfio_exitfn / vfio_put_group: the device file, the mappings, the group and container released. */
    void close() {
        if (closed) {
            return;
        }
        irq.exit(); // vfio_exitfn: vfio_disable_interrupts (QEMU ends on SIGTERM without it: nothing traced)
        closed = true;
        device.close();
        if (--group.users == 0) {
            vmm.release(group);
        }
    }
}
