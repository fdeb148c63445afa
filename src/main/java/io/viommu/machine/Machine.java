package io.viommu.machine;

import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.AccessRules;
import io.viommu.pci.Bar;
import io.viommu.pci.DmaPort;
import io.viommu.pci.DmaRemapper;
import io.viommu.pci.PciBus;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A q35-like platform, built the way QEMU 7.2 builds {@code -machine q35 -nodefaults}:
 * RAM, the root bus {@code pcie.0} with the MCH at 00:00.0 and the ICH9 functions at 00:1f.0/2/3,
 * configuration access through ports 0xCF8/0xCFC and (once PCIEXBAR enables it) ECAM, then the
 * {@code -device} options in order.
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
 * Port I/O: 0xCF8 CONFIG_ADDRESS, 0xCFC CONFIG_DATA, I/O BARs; anything else reads all ones.
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
    private IntelIommu iommu;

    private Machine(long ramSize, MachineLog log) {
        this.log = log;
        this.ram = new PhysicalMemory(ramSize);
        this.rootBus = new PciBus("pcie.0", 0, this::intxChanged);
        this.host = new PciHost(rootBus);
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
        Machine m = new Machine(cl.ramSize(), log);
        if (cl.bios() != null) {
            m.loadBios(cl.bios());
        }
        for (QemuCommandLine.DeviceOption d : cl.devices()) {
            m.addDevice(d);
        }
        return m;
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
            default -> throw new MachineConfigException(prefix + "'" + d.driver()
                    + "' is not a valid device model name");
        }
        if (id != null) {
            ids.put(id, d);
        }
    }

    private void addIommu(String prefix, Map<String, String> props) throws MachineConfigException {
        if (iommu != null) {
            throw new MachineConfigException(prefix + "QEMU does not support multiple vIOMMUs for x86 yet.");
        }
        props.remove("bus"); // a sysbus device; QEMU accepts no PCI bus for it anyway
        VtdConfig config;
        try {
            config = VtdConfig.fromQemuProperties(props);
        } catch (IllegalArgumentException e) {
            throw new MachineConfigException(prefix + e.getMessage());
        }
        iommu = new IntelIommu(config, memory, interrupts);
        memory.map("intel-iommu", IntelIommu.DEFAULT_BASE, IntelIommu.REGISTER_BLOCK_SIZE, iommu,
                new AccessRules(4, 8, false), 0);
    }

    private void addEdu(String prefix, String id, Map<String, String> props) throws MachineConfigException {
        long dmaMask = EduDevice.DEFAULT_DMA_MASK;
        int devfn = -1;
        boolean multifunction = false;
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
                    if (!v.equals(rootBus.name())) {
                        throw new MachineConfigException(prefix + "Bus '" + v + "' not found");
                    }
                }
                case "multifunction" -> {
                    if (!v.equals("on") && !v.equals("off") && !v.equals("true") && !v.equals("false")) {
                        throw new MachineConfigException(prefix + "Parameter 'multifunction' expects 'on' or 'off'");
                    }
                    multifunction = v.equals("on") || v.equals("true");
                }
                default -> throw new MachineConfigException(prefix + "Property 'edu." + e.getKey() + "' not found");
            }
        }
        EduDevice edu = new EduDevice(dmaMask, log);
        edu.setId(id);
        if (multifunction) {
            edu.configSpace().set(PciRegs.HEADER_TYPE, 1,
                    PciRegs.HEADER_TYPE_MULTI_FUNCTION);
        }
        try {
            rootBus.plug(edu, devfn);
        } catch (PciBus.PlugException e) {
            throw new MachineConfigException(prefix + e.getMessage());
        }
        DmaRemapper remapper = iommu; // null before -device intel-iommu: an explicit bypass
        edu.connect(new DmaPort(edu.address(), memory, remapper, edu::busMasterEnabled), interrupts);
        userDevices.add(edu);
    }

    /** QEMU's PCI devfn property syntax: {@code slot[.function]} in hex, slot <= 0x1f, function <= 7. */
    static int parseDevfn(String v) {
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
        for (PciFunction f : rootBus.functions()) {
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

    /** Command-line ids in use. */
    public Set<String> ids() {
        return new HashSet<>(ids.keySet());
    }
}
