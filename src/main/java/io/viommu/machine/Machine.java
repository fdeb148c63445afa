package io.viommu.machine;

import io.viommu.machine.acpi.AcpiTable;
import io.viommu.machine.acpi.DmarTable;
import io.viommu.machine.acpi.TableLoader;
import io.viommu.machine.config.Accelerator;
import io.viommu.machine.config.DeviceCatalog;
import io.viommu.machine.config.DeviceProps;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.config.QemuCommandLine;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.Endpoints;
import io.viommu.machine.device.FwCfg;
import io.viommu.machine.device.Ich9Functions;
import io.viommu.machine.device.MachineLog;
import io.viommu.machine.device.Mch;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.AccessRules;
import io.viommu.pci.AtsEndpoint;
import io.viommu.pci.Bar;
import io.viommu.pci.BusNumbering;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.DmaPort;
import io.viommu.pci.DmaRemapper;
import io.viommu.pci.MsiSink;
import io.viommu.pci.PciBridge;
import io.viommu.pci.PciBus;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.Topology;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A q35-like platform, built the way QEMU 7.2 builds {@code -machine q35}: RAM, the root bus
 * {@code pcie.0} with the MCH at 00:00.0 and the ICH9 functions at 00:1f.0/2/3, configuration
 * access through ports 0xCF8/0xCFC and (once PCIEXBAR enables it) ECAM; then QEMU's default
 * devices (std VGA unless -nodefaults or -vga none; the NICs of -nic/-net, or the default e1000e
 * when there is no -net/-netdev/-nic and no -nodefaults), first free slots from 00:01.0 in that
 * order; then the {@code -device} options in order ({@link DeviceCatalog} lists the models).
 * Configuration cycles reach functions behind bridges by the programmed bus numbers only
 * (QEMU's {@code pci_find_bus_nr}); {@link #enumerate()} numbers them as SeaBIOS does and
 * returns the Linux view of the hierarchy ({@link Topology}).
 *
 * <p>Physical address map (system memory):
 * <pre>
 *  0x0000_0000 .. 0x000b_ffff   RAM
 *  0x000c_0000 .. 0x000f_ffff   not RAM at reset (QEMU's PAM routes it to PCI); with -bios,
 *                               the image's last min(size, 128 KiB) ends at 0x10_0000 (read-only)
 *  0x0010_0000 .. below-4G end  RAM (all of it below 0xb000_0000; from 2.75 GiB of RAM up,
 *                               2 GiB below 4 GiB and the rest from 0x1_0000_0000, as QEMU)
 *  PCIEXBAR (reset 0xb000_0000, disabled)   ECAM, 64..256 MiB
 *  0xfed9_0000 .. +0xfff        VT-d registers (with -device intel-iommu)
 *  memory BARs                  below RAM and ECAM in priority, as QEMU's PCI address space
 *  4 GiB - bios size .. 4 GiB   the -bios image, read-only, below BARs in priority
 *  anything else                reads 0, writes dropped
 * </pre>
 * Port I/O: 0xCF8 CONFIG_ADDRESS, 0xCFC CONFIG_DATA, 0x510/0x511 and 0x514 fw_cfg
 * ({@link FwCfg}: etc/acpi/tables carries the DMAR table with {@code -device intel-iommu}),
 * I/O BARs; anything else reads all ones.
 *
 * <p>Interrupts: a device's MSI (its capability, or any DMA write into 0xFEE00000-0xFEEFFFFF,
 * see {@link MsiWindow}) reaches the local APICs ({@link LocalApicSink}) through the VT-d
 * unit's interrupt remapping when the device is behind it, straight otherwise; the unit's own
 * fault and completion events go straight to the APICs, as in QEMU.
 *
 * <p>Every device's DMA goes through its {@link DmaPort}: translated by the IOMMU when the
 * device was realized after {@code -device intel-iommu}, an explicit bypass otherwise (QEMU
 * has no check for that ordering; a device realized first silently bypasses the vIOMMU).
 */
public final class Machine {
    public static final long ECAM_DEFAULT_BASE = Mch.PCIEXBAR_DEFAULT;
    public static final long BELOW_4G_LIMIT = 0xb000_0000L;
    public static final long PAM_HOLE_START = 0xc_0000L;
    public static final long PAM_HOLE_END = 0x10_0000L;
    public static final int ICH9_SLOT = 0x1f;

    private final PhysicalMemory ram;
    private final AddressMap memory = new AddressMap("memory", 0x00);
    private final AddressMap io = new AddressMap("io", 0xff);
    private final PlatformInterrupts interrupts = new PlatformInterrupts();
    private final PciBus rootBus;
    private final PciHost host;
    private final MachineLog log;
    private final List<PciFunction> userDevices = new ArrayList<>();
    private final Map<String, Object> ids = new LinkedHashMap<>();
    private final Map<String, PciBus> busesById = new HashMap<>();
    private final Set<Long> chassisSlots = new HashSet<>();
    private final Set<String> nvmeSubsystems = new HashSet<>();
    private final Set<String> usedNetdevs = new HashSet<>();
    private QemuCommandLine commandLine;
    private int nextMacIndex;
    private final FwCfg fwCfg;
    private IntelIommu iommu;
    private SmpTopology smp = SmpTopology.SINGLE;
    private Accelerator accelerator = Accelerator.TCG;

    /** The fw_cfg file holding the ACPI tables, and the firmware's loader script for it. */
    public static final String ACPI_TABLES_FILE = "etc/acpi/tables";
    public static final String TABLE_LOADER_FILE = "etc/table-loader";

    private Machine(long ramSize, MachineLog log) {
        this.log = log;
        this.ram = new PhysicalMemory(ramSize);
        this.rootBus = new PciBus("pcie.0", 0, this::intxChanged);
        this.host = new PciHost(rootBus);
        busesById.put(rootBus.name(), rootBus);
        long lowmem = ramSize >= BELOW_4G_LIMIT ? 0x8000_0000L : BELOW_4G_LIMIT;
        long below4g = Math.min(ramSize, lowmem);
        memory.mapRam("ram-below-640k..", 0, Math.min(below4g, PAM_HOLE_START), ram, 0, 0);
        if (below4g > PAM_HOLE_END) {
            memory.mapRam("ram-below-4g", PAM_HOLE_END, below4g - PAM_HOLE_END, ram, PAM_HOLE_END, 0);
        }
        if (ramSize > below4g) {
            memory.mapRam("ram-above-4g", 1L << 32, ramSize - below4g, ram, below4g, 0);
        }
        memory.addWindow(host.ecamWindow(), 0);
        memory.addWindow(addr -> barWindow(addr, false), -1);
        io.map("pci-conf-idx", PciHost.CONFIG_ADDRESS_PORT, 4, host.configAddressPort, AccessRules.UP_TO_4, 0);
        io.map("pci-conf-data", PciHost.CONFIG_DATA_PORT, 4, host.configDataPort, AccessRules.UP_TO_4, 0);
        io.addWindow(addr -> barWindow(addr, true), -1);
        fwCfg = new FwCfg(memory);
        io.map("fwcfg", FwCfg.PORT_SELECTOR, 2, fwCfg.ioPorts, new AccessRules(1, 2, false), 0);
        io.map("fwcfg.dma", FwCfg.PORT_DMA, 8, fwCfg.dmaPort, new AccessRules(1, 8, false), 0);
        fwCfg.addFile(ACPI_TABLES_FILE, this::acpiTablesBlob);
        fwCfg.addFile(TABLE_LOADER_FILE, this::tableLoader);
        try {
            plugBoard(new Mch(host), 0);
            plugBoard(new Ich9Functions.Lpc(), ICH9_SLOT << 3);
            plugBoard(new Ich9Functions.Ahci(), ICH9_SLOT << 3 | 2);
            plugBoard(new Ich9Functions.Smbus(), ICH9_SLOT << 3 | 3);
        } catch (PciBus.PlugException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A machine with no {@code -device} options. */
    public static Machine q35(long ramSize) {
        return new Machine(ramSize, MachineLog.SILENT);
    }

    /** Builds the machine a QEMU command line describes. */
    public static Machine fromCommandLine(List<String> qemuArgs, MachineLog log) throws MachineConfigException {
        QemuCommandLine cl = QemuCommandLine.parse(qemuArgs);
        try {
            cl.accelerator().checkApicIdLimit(cl.smp().apicIdLimit());
        } catch (MachineConfigException e) {
            throw new MachineConfigException(QemuCommandLine.PROGRAM + ": " + e.getMessage());
        }
        Machine m = new Machine(cl.ramSize(), log);
        m.smp = cl.smp();
        m.accelerator = cl.accelerator();
        m.commandLine = cl;
        m.addDefaultDevices(cl);
        if (cl.bios() != null) {
            m.loadBios(cl.bios());
        }
        for (QemuCommandLine.DeviceOption d : cl.devices()) {
            m.addDevice(d);
        }
        return m;
    }

    /**
     * QEMU's machine-init devices, before any -device (pc_vga_init, then pc_nic_init): checked
     * with 7.2, where they take 00:01.0 and 00:02.0 and push -device functions to 00:03.0.
     */
    private void addDefaultDevices(QemuCommandLine cl) throws MachineConfigException {
        String vga = cl.defaults().vga();
        switch (vga) {
            case "none" -> { }
            case "std" -> plugDefault(new Endpoints.StdVga(16, true), QemuCommandLine.PROGRAM + ": -vga std: ");
            default -> throw new MachineConfigException(QemuCommandLine.PROGRAM + ": -vga " + vga
                    + ": viommu models only -vga std and -vga none");
        }
        for (QemuCommandLine.NicOption nic : cl.nics()) {
            String prefix = QemuCommandLine.PROGRAM + ": -nic " + nic.argument() + ": ";
            DeviceProps props = new DeviceProps(prefix, nic.model(),
                    nic.mac() == null ? Map.of() : Map.of("mac", nic.mac()));
            Endpoints.Placement at = new Endpoints.Placement(true, true);
            PciFunction f = switch (nic.model()) {
                case "e1000e" -> new Endpoints.E1000e(at, mac(props), 0x8086, 0);
                case "e1000", "e1000-82540em" -> {
                    mac(props);
                    yield new Endpoints.E1000();
                }
                case "virtio", "virtio-net-pci" -> {
                    mac(props);
                    yield new Endpoints.VirtioPci(Endpoints.VirtioKind.NET, at, true, true, 4, false);
                }
                case "igb", "igb-82576" -> new Endpoints.Igb82576(nic.model(), at, mac(props));
                default -> throw new MachineConfigException(prefix + "viommu models NIC models e1000e, e1000,"
                        + " virtio-net-pci and igb (got '" + nic.model() + "')");
            };
            plugDefault(f, prefix);
        }
    }

    private void plugDefault(PciFunction f, String prefix) throws MachineConfigException {
        try {
            rootBus.plug(f, -1);
        } catch (PciBus.PlugException e) {
            throw new MachineConfigException(prefix + e.getMessage());
        }
        connectDma(f);
    }

    /**
     * A function's DMA path: translated by the IOMMU when one was realized before it (else an
     * explicit bypass), with writes to 0xFEEx_xxxx becoming MSIs (QEMU's vtd-ir region), and its
     * interrupts going through interrupt remapping when it sits behind the IOMMU.
     */
    private DmaPort connectDma(PciFunction f) {
        MsiSink msiSink = iommu != null ? interrupts.remappingSink() : interrupts;
        DmaPort port = new DmaPort(f::address, new MsiWindow(memory, f::address, msiSink), iommu,
                f::busMasterEnabled);
        f.connect(port, msiSink);
        return port;
    }

    /**
     * The MAC a NIC gets: its {@code mac} property, else QEMU's
     * {@code qemu_macaddr_default_if_unset}: 52:54:00:12:34:56 plus a counter over the NICs
     * created without one, in creation order (checked through e1000e serial numbers).
     */
    public byte[] mac(DeviceProps props) throws MachineConfigException {
        String v = props.string("mac", null);
        if (v != null) {
            String[] parts = v.split(":");
            if (parts.length != 6) {
                throw props.error("Property '" + props.type() + ".mac' doesn't take value '" + v + "'");
            }
            byte[] mac = new byte[6];
            for (int i = 0; i < 6; i++) {
                try {
                    mac[i] = (byte) Integer.parseInt(parts[i], 16);
                } catch (NumberFormatException e) {
                    throw props.error("Property '" + props.type() + ".mac' doesn't take value '" + v + "'");
                }
            }
            return mac;
        }
        int idx = nextMacIndex++;
        return new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, (byte) (0x56 + idx)};
    }

    /** Largest part of the firmware image that is also visible below 1 MiB (QEMU's isa-bios). */
    public static final int ISA_BIOS_MAX = 128 << 10;

    /**
     * Maps a firmware image as QEMU's {@code x86_bios_rom_init} does: whole, read-only, ending at
     * 4 GiB, and its last {@code min(size, 128 KiB)} again ending at 1 MiB. Writes are dropped
     * (checked with QEMU 7.2: a qtest write to 0xf0000 or 0xfffff000 leaves the image bytes).
     * The size must be a non-zero multiple of 64 KiB, else QEMU refuses the image.
     */
    private void loadBios(String file) throws MachineConfigException {
        byte[] image;
        try {
            image = java.nio.file.Files.readAllBytes(java.nio.file.Path.of(file));
        } catch (java.io.IOException | RuntimeException e) {
            image = new byte[0];
        }
        if (image.length == 0 || image.length % (64 << 10) != 0) {
            throw new MachineConfigException("qemu: could not load PC BIOS '" + file + "'");
        }
        PhysicalMemory rom = new PhysicalMemory(image.length);
        rom.writeBytes(0, image, 0, image.length);
        long size = image.length;
        int isaSize = Math.min(image.length, ISA_BIOS_MAX);
        memory.map("pc.bios", (1L << 32) - size, size, readOnly(rom, 0), AccessRules.ANY, -2);
        memory.map("isa-bios", PAM_HOLE_END - isaSize, isaSize, readOnly(rom, size - isaSize), AccessRules.ANY, -2);
    }

    private static io.viommu.memory.Mmio readOnly(PhysicalMemory rom, long offset) {
        return new io.viommu.memory.Mmio() {
            @Override
            public long load(long off, int sz) {
                return rom.read(offset + off, sz);
            }

            @Override
            public void store(long off, long value, int sz) {
                // ROM: writes are dropped
            }
        };
    }

    private void plugBoard(PciFunction f, int devfn) throws PciBus.PlugException {
        rootBus.plug(f, devfn);
        f.connect(new DmaPort(f.address(), memory, null, f::busMasterEnabled), interrupts);
    }

    /** Realizes one {@code -device} option, as QEMU's {@code qdev_device_add}. */
    public void addDevice(QemuCommandLine.DeviceOption d) throws MachineConfigException {
        String prefix = QemuCommandLine.PROGRAM + ": -device " + d.argument() + ": ";
        Map<String, String> props = new LinkedHashMap<>(d.properties());
        String id = props.remove("id");
        if (id != null && ids.containsKey(id)) {
            throw new MachineConfigException(prefix + "Duplicate ID '" + id + "' for device");
        }
        switch (d.driver()) {
            case "intel-iommu" -> addIommu(prefix, props);
            case "edu" -> addEdu(prefix, id, props);
            case "nvme-subsys" -> {
                new DeviceProps(prefix, d.driver(), props).checkKnown(Set.of("nqn"));
                if (id != null) {
                    nvmeSubsystems.add(id);
                }
            }
            default -> {
                if (!DeviceCatalog.isPciDevice(d.driver())) {
                    throw new MachineConfigException(prefix + "'" + d.driver() + "' is not a valid device model name");
                }
                DeviceCatalog.realize(this, d.driver(), id, new DeviceProps(prefix, d.driver(), props));
            }
        }
        if (id != null) {
            ids.put(id, d);
        }
    }

    // ---- services for DeviceCatalog ----

    /** The bus named by {@code bus=} (pcie.0 or a bridge's id), or QEMU's error. */
    public PciBus resolveBus(DeviceProps p) throws MachineConfigException {
        String name = p.string("bus", rootBus.name());
        PciBus b = busesById.get(name);
        if (b == null) {
            throw p.error("Bus '" + name + "' not found");
        }
        return b;
    }

    /** Registers a PCIe slot (QEMU pcie_chassis_add_slot): chassis and slot must be unique. */
    public void addChassisSlot(DeviceProps p, int chassis, int slot) throws MachineConfigException {
        if (!chassisSlots.add((long) chassis << 16 | slot)) {
            throw p.error("Can't add chassis slot, error -16");
        }
    }

    public boolean hasNvmeSubsystem(String id) {
        return nvmeSubsystems.contains(id);
    }

    /** Checks {@code netdev=} of a NIC: it must exist and be unused (QEMU's texts). */
    public void claimNetdev(DeviceProps p, String propertyOwner) throws MachineConfigException {
        String nd = p.string("netdev", null);
        if (nd == null) {
            return;
        }
        if (commandLine == null || !commandLine.netdevs().containsKey(nd)) {
            throw p.error("Property '" + propertyOwner + ".netdev' can't find value '" + nd + "'");
        }
        if (!usedNetdevs.add(nd)) {
            throw p.error("Property '" + propertyOwner + ".netdev' can't take value '" + nd + "', it's in use");
        }
    }

    public boolean hasBlockNode(String name) {
        return commandLine != null && commandLine.blockNodes().contains(name);
    }

    public int guestCpus() {
        return commandLine == null ? 1 : commandLine.guest().cpus();
    }

    /** Plugs a realized -device function at {@code devfn} (-1: first free slot) and wires its DMA. */
    public void plugUserDevice(DeviceProps p, String id, PciFunction f, PciBus bus, int devfn) throws MachineConfigException {
        f.setId(id);
        try {
            bus.plug(f, devfn);
        } catch (PciBus.PlugException e) {
            throw p.error(e.getMessage());
        }
        if (f instanceof PciBridge b && id != null) {
            busesById.put(id, b.secondaryBus());
        }
        connectDma(f);
        userDevices.add(f);
    }

    private void addIommu(String prefix, Map<String, String> props) throws MachineConfigException {
        if (iommu != null) {
            throw new MachineConfigException(prefix + "QEMU does not support multiple vIOMMUs for x86 yet.");
        }
        props.remove("bus"); // a sysbus device; QEMU accepts no PCI bus for it anyway
        // viommu extension: interrupt entry cache size (0, the default, reads every IRTE as QEMU).
        String iec = props.remove("iec-entries");
        int iecEntries = 0;
        if (iec != null) {
            Long n = QemuCommandLine.parseUnsigned(iec);
            if (n == null || n < 0 || n > 65536) {
                throw new MachineConfigException(prefix + "iec-entries must be between 0 and 65536");
            }
            iecEntries = n.intValue();
        }
        VtdConfig config;
        try {
            config = VtdConfig.fromQemuProperties(accelerator.iommuProperties(props));
        } catch (IllegalArgumentException e) {
            throw new MachineConfigException(prefix + e.getMessage());
        }
        iommu = new IntelIommu(config, memory, interrupts);
        iommu.interruptRemapping().setEntryCacheCapacity(iecEntries);
        interrupts.attachInterruptRemapping(iommu.interruptRemapping());
        memory.map("intel-iommu", IntelIommu.DEFAULT_BASE, IntelIommu.REGISTER_BLOCK_SIZE, iommu,
                new AccessRules(4, 8, false), 0);
    }

    private void addEdu(String prefix, String id, Map<String, String> props) throws MachineConfigException {
        long dmaMask = EduDevice.DEFAULT_DMA_MASK;
        int devfn = -1;
        boolean multifunction = false;
        boolean ats = false;
        for (Map.Entry<String, String> e : props.entrySet()) {
            String v = e.getValue();
            switch (e.getKey()) {
                case "dma_mask" -> {
                    Long m = QemuCommandLine.parseUnsigned(v);
                    if (m == null) {
                        throw new MachineConfigException(prefix + "Parameter 'dma_mask' expects integer");
                    }
                    dmaMask = m;
                }
                case "addr" -> {
                    devfn = parseDevfn(v);
                    if (devfn < 0) {
                        throw new MachineConfigException(prefix + "Property 'edu.addr' doesn't take value '" + v + "'");
                    }
                }
                case "bus" -> {
                    if (!busesById.containsKey(v)) {
                        throw new MachineConfigException(prefix + "Bus '" + v + "' not found");
                    }
                }
                case "multifunction" -> {
                    if (!v.equals("on") && !v.equals("off") && !v.equals("true") && !v.equals("false")) {
                        throw new MachineConfigException(prefix + "Parameter 'multifunction' expects 'on' or 'off'");
                    }
                    multifunction = v.equals("on") || v.equals("true");
                }
                case "x-ats" -> { // viommu extension: ATS capability on edu
                    if (!v.equals("on") && !v.equals("off") && !v.equals("true") && !v.equals("false")) {
                        throw new MachineConfigException(prefix + "Parameter 'x-ats' expects 'on' or 'off'");
                    }
                    ats = v.equals("on") || v.equals("true");
                }
                default -> throw new MachineConfigException(prefix + "Property 'edu." + e.getKey() + "' not found");
            }
        }
        EduDevice edu = new EduDevice(dmaMask, log, ats);
        edu.setId(id);
        edu.setProperties(props);
        edu.setMultiFunction(multifunction);
        try {
            busesById.get(props.getOrDefault("bus", rootBus.name())).plug(edu, devfn);
        } catch (PciBus.PlugException e) {
            throw new MachineConfigException(prefix + e.getMessage());
        }
        DmaPort port = connectDma(edu); // no IOMMU before -device intel-iommu: an explicit bypass
        if (ats && iommu != null) {
            // ATS needs a translation agent; without an IOMMU the capability is inert.
            AtsEndpoint endpoint = new AtsEndpoint(edu.address(), edu.atsCapability(), iommu.ats());
            iommu.ats().attach(edu.address(), endpoint.deviceTlb());
            port.attachAts(endpoint);
        }
        userDevices.add(edu);
    }

    /** QEMU's PCI devfn property syntax: {@code slot[.function]} in hex, slot <= 0x1f, function <= 7. */
    public static int parseDevfn(String v) {
        String[] parts = v.split("\\.", -1);
        if (parts.length > 2) {
            return -1;
        }
        Long slot = parseHex(parts[0]);
        Long fn = parts.length == 2 ? parseHex(parts[1]) : Long.valueOf(0);
        if (slot == null || fn == null || slot > 0x1f || fn > 7) {
            return -1;
        }
        return (int) (slot << 3 | fn);
    }

    private static Long parseHex(String s) {
        String t = s.toLowerCase(java.util.Locale.ROOT);
        if (t.startsWith("0x")) {
            t = t.substring(2);
        }
        if (t.isEmpty() || t.length() > 8 || !t.matches("[0-9a-f]+")) {
            return null;
        }
        return Long.parseLong(t, 16);
    }

    private AddressMap.Hit barWindow(long addr, boolean ioSpace) {
        for (PciBus b : rootBus.allBuses()) {
            AddressMap.Hit hit = barWindow(b, addr, ioSpace);
            if (hit != null) {
                return hit;
            }
        }
        return null;
    }

    private static AddressMap.Hit barWindow(PciBus bus, long addr, boolean ioSpace) {
        for (PciFunction f : bus.functions()) {
            for (int i = 0; i < 6; i++) {
                Bar bar = f.bar(i);
                if (bar == null || bar.region() == null || (bar.kind() == Bar.Kind.IO) != ioSpace) {
                    continue;
                }
                long base = f.barAddress(i);
                if (base != Bar.UNMAPPED && Long.compareUnsigned(addr - base, bar.size()) < 0) {
                    return new AddressMap.Hit(f.typeName() + "-bar" + i, base, bar.size(),
                            bar.region(), bar.rules(), null, 0);
                }
            }
        }
        return null;
    }

    /**
     * INTx routing of the root bus to I/O APIC inputs, as QEMU's ICH9 with PIRQ routing
     * disabled (its reset state): slot s pin p (0 = INTA) goes to PIRQ (s + p) % 4 + 4 for
     * slots below 25 ({@code ich9_cc_init}), to PIRQ p for slots 25..31 (the D25IR..D31IR
     * defaults), and PIRQ n is GSI 16 + n. Checked: edu at 00:01.0 raises GSI 21.
     */
    public static int intxGsi(int slot, int pin) {
        int intx = (pin - 1) & 3;
        int pirq = slot < 25 ? (slot + intx) % 4 + 4 : intx;
        return 16 + pirq;
    }

    private void intxChanged(PciFunction f, boolean level) {
        int pin = f.interruptPin();
        if (pin == 0) {
            return;
        }
        interrupts.sourceLevel(intxGsi(f.address().device(), pin), level);
    }

    public PhysicalMemory ram() {
        return ram;
    }

    /** The CPU's (and devices' post-translation) physical address space. */
    public AddressMap memory() {
        return memory;
    }

    public AddressMap io() {
        return io;
    }

    public PlatformInterrupts interrupts() {
        return interrupts;
    }

    public PciBus rootBus() {
        return rootBus;
    }

    public PciHost host() {
        return host;
    }

    /** The VT-d unit, or null without {@code -device intel-iommu}. */
    public IntelIommu iommu() {
        return iommu;
    }

    /** The {@code -device} functions in the order they were realized. */
    public List<PciFunction> devices() {
        return Collections.unmodifiableList(userDevices);
    }

    /** The command line the machine was built from, or null for {@link #q35}. */
    public QemuCommandLine commandLine() {
        return commandLine;
    }

    /** Configuration cycles by routing id (ECAM semantics), as a kernel model issues them. */
    public ConfigAccess configAccess() {
        return ConfigAccess.of(rootBus);
    }

    /**
     * Firmware's part of a boot, as SeaBIOS does it on q35: enables ECAM at 0xB0000000 (256 MiB)
     * and numbers the buses depth first ({@link BusNumbering}); then returns the hierarchy as
     * Linux enumerates it. Idempotent.
     */
    public Topology enumerate() {
        Mch mch = (Mch) rootBus.function(0);
        mch.configWrite(Mch.PCIEXBAR, ECAM_DEFAULT_BASE | Mch.PCIEXBAR_ENABLE, 4);
        BusNumbering.assign(configAccess());
        return topology();
    }

    /** The hierarchy as Linux would enumerate it now (re-scanned: VFs enabled since show up). */
    public Topology topology() {
        return Topology.scan(rootBus);
    }

    public SmpTopology smp() {
        return smp;
    }

    public Accelerator accelerator() {
        return accelerator;
    }

    public FwCfg fwCfg() {
        return fwCfg;
    }

    /**
     * The DMAR table this platform publishes (checksum filled in), or null without
     * {@code -device intel-iommu}: one DRHD listing the root bus's functions in devfn order.
     */
    public byte[] dmarTable() {
        if (iommu == null) {
            return null;
        }
        List<DmarTable.PciScope> scopes = new ArrayList<>();
        for (PciFunction f : rootBus.functions()) {
            boolean bridge = (f.configSpace().get(PciRegs.HEADER_TYPE, 1) & 0x7f) == 1;
            scopes.add(new DmarTable.PciScope(rootBus.busNumber(), f.address().devfn(), bridge));
        }
        return DmarTable.build(iommu.config(), scopes);
    }

    /**
     * fw_cfg etc/acpi/tables: the ACPI tables modelled (only the DMAR), with checksum bytes 0 as
     * QEMU publishes them; {@link #tableLoader()} tells firmware to compute the checksums.
     */
    private byte[] acpiTablesBlob() {
        byte[] dmar = dmarTable();
        if (dmar == null) {
            return new byte[0];
        }
        dmar[AcpiTable.CHECKSUM_OFFSET] = 0;
        return dmar;
    }

    private byte[] tableLoader() {
        TableLoader l = new TableLoader().allocate(ACPI_TABLES_FILE, 64, TableLoader.ZONE_HIGH);
        byte[] dmar = dmarTable();
        if (dmar != null) {
            l.addChecksum(ACPI_TABLES_FILE, AcpiTable.CHECKSUM_OFFSET, 0, dmar.length);
        }
        return l.bytes();
    }

    /** Command-line ids in use. */
    public Set<String> ids() {
        return new HashSet<>(ids.keySet());
    }
}
