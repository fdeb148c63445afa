package io.viommu.machine;

import io.viommu.machine.acpi.AcpiTable;
import io.viommu.machine.acpi.DmarTable;
import io.viommu.machine.acpi.TableLoader;
import io.viommu.machine.device.FwCfg;
import io.viommu.machine.device.Ich9Functions;
import io.viommu.machine.device.Mch;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.AccessRules;
import io.viommu.pci.Bar;
import io.viommu.pci.BusNumbering;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.DmaPort;
import io.viommu.pci.MsiSink;
import io.viommu.pci.PciBus;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.Topology;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A q35-like platform, built the way QEMU 7.2 builds {@code -machine q35}: RAM, the root bus
 * {@code pcie.0} with the MCH at 00:00.0 and the ICH9 functions at 00:1f.0/2/3, configuration
 * access through ports 0xCF8/0xCFC and (once PCIEXBAR enables it) ECAM. Devices are plugged
 * onto it ({@link #plug}, {@link #plugDevice}); the command line → machine wiring (QEMU's
 * default devices, {@code -device} options) is {@code io.viommu.machine.config.MachineBuilder},
 * the device models are in {@code io.viommu.machine.device}.
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
 * see {@link MsiWindow}) reaches the local APICs ({@link io.viommu.machine.device.LocalApicSink}) through the VT-d
 * unit's interrupt remapping when the device is behind it, straight otherwise; the unit's own
 * fault and completion events go straight to the APICs, as in QEMU.
 *
 * <p>{@link #close} gives back the memory the machine owns (its RAM when it has its own, the
 * firmware image): a process that builds many machines closes each when done with it. A
 * machine that is never closed gives it back once unreachable.
 *
 * <p>Every device's DMA goes through its {@link DmaPort}: translated by the IOMMU when the
 * machine has {@code -device intel-iommu}, wherever it is listed (QEMU sets bus-master address
 * spaces up at machine done), an explicit bypass otherwise. The order trap is vfio-pci's alone
 * (io.viommu.vmm.VfioPciDevice takes its address space at realize).
 */
public final class Machine implements AutoCloseable {
    public static final long ECAM_DEFAULT_BASE = Mch.PCIEXBAR_DEFAULT;
    public static final long BELOW_4G_LIMIT = 0xb000_0000L;
    public static final long PAM_HOLE_START = 0xc_0000L;
    public static final long PAM_HOLE_END = 0x10_0000L;
    public static final int ICH9_SLOT = 0x1f;

    private final PhysicalMemory ram;
    /** Memory this machine allocated and gives back on {@link #close}: its RAM, firmware images. */
    private final List<PhysicalMemory> owned = new ArrayList<>();
    private final io.viommu.memory.AddressSpace ramSpace;
    private final long ramSize;
    private final AddressMap memory = new AddressMap("memory", 0x00);
    private final AddressMap io = new AddressMap("io", 0xff);
    private final PlatformInterrupts interrupts = new PlatformInterrupts();
    private final PciBus rootBus;
    private final PciHost host;
    private final List<PciFunction> userDevices = new ArrayList<>();
    private final List<PciFunction> dmaFunctions = new ArrayList<>();
    private final FwCfg fwCfg;
    private IntelIommu iommu;
    private final SmpTopology smp;
    private final GuestOptions guest;
    /** A model of a recorded host: no q35 board functions, bus numbers as its firmware left them. */
    private final boolean recordedBoard;
    /** The recorded host's DMAR table, published instead of the one built from the unit; null: built. */
    private byte[] firmwareDmar;

    /** The fw_cfg file holding the ACPI tables, and the firmware's loader script for it. */
    public static final String ACPI_TABLES_FILE = "etc/acpi/tables";
    public static final String TABLE_LOADER_FILE = "etc/table-loader";

    /** ICH9's reset control register (RST_CNT), one byte over the CONFIG_ADDRESS port at a higher priority. */
    public static final int RESET_CONTROL_PORT = 0xcf9;
    /** RST_CNT bit 2: reset the CPU (a system reset request); bits 1 and 3 (SYS_RST, FULL_RST) are kept. */
    public static final int RESET_CONTROL_RESET_CPU = 1 << 2;

    private int resetControl;
    private boolean resetRequested;

    /**
     * {@code ich9_rst_cnt_read/write} (hw/isa/lpc_ich9.c): a write with bit 2 set requests a
     * system reset ({@code qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET)}), which the
     * main loop carries out after the access ({@link #takeResetRequest}); otherwise the register
     * keeps bits 1 and 3.
     */
    private final io.viommu.memory.Mmio resetControlPort = new io.viommu.memory.Mmio() {
        @Override
        public long load(long offset, int size) {
            return resetControl;
        }

        @Override
        public void store(long offset, long value, int size) {
            if ((value & RESET_CONTROL_RESET_CPU) != 0) {
                resetRequested = true;
                return;
            }
            resetControl = (int) value & 0xa;
        }
    };

    /** Whether the guest requested a system reset since the last call (and clears the request). */
    public boolean takeResetRequest() {
        boolean r = resetRequested;
        resetRequested = false;
        return r;
    }

    /**
     * A system reset's platform part, in QEMU 7.2's order: RST_CNT cleared ({@code ich9_lpc_reset}),
     * the VT-d unit ({@code vtd_reset}), the devices' own resets ({@code devicesOwnResets}, e.g.
     * vfio-pci's), then {@code pci_do_device_reset} of every function on every bus
     * ({@code pcibus_reset}, a bus's reset after its devices'). Device models' own state beyond
     * their configuration space is not reset.
     */
    public void resetPlatform(Runnable devicesOwnResets) {
        resetControl = 0;
        if (iommu != null) {
            iommu.reset();
        }
        devicesOwnResets.run();
        for (PciBus b : rootBus.allBuses()) {
            for (PciFunction f : b.functions()) {
                f.resetConfig();
            }
        }
    }

    private Machine(long ramSize, SmpTopology smp, GuestOptions guest, io.viommu.memory.AddressSpace ramBacking) {
        this(ramSize, smp, guest, ramBacking, false);
    }

    private Machine(long ramSize, SmpTopology smp, GuestOptions guest, io.viommu.memory.AddressSpace ramBacking,
                    boolean recordedBoard) {
        this.recordedBoard = recordedBoard;
        this.smp = smp;
        this.guest = guest;
        this.ramSize = ramSize;
        this.ram = ramBacking == null ? new PhysicalMemory(ramSize) : null;
        if (this.ram != null) {
            owned.add(this.ram);
        }
        io.viommu.memory.AddressSpace ram = ramBacking == null ? this.ram : ramBacking;
        this.ramSpace = ram;
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
        fwCfg = new FwCfg(memory);
        io.map("fwcfg", FwCfg.PORT_SELECTOR, 2, fwCfg.ioPorts, new AccessRules(1, 2, false), 0);
        io.map("fwcfg.dma", FwCfg.PORT_DMA, 8, fwCfg.dmaPort, new AccessRules(1, 8, false), 0);
        fwCfg.addFile(ACPI_TABLES_FILE, this::acpiTablesBlob);
        fwCfg.addFile(TABLE_LOADER_FILE, this::tableLoader);
        if (recordedBoard) {
            return; // the recorded host's own functions take 00:00.0 and 00:1f.x
        }
        io.map("lpc-reset-control", RESET_CONTROL_PORT, 1, resetControlPort, new AccessRules(1, 1, false), 1);
        try {
            plugBoard(new Mch(host::placeEcam), 0);
            plugBoard(new Ich9Functions.Lpc(), ICH9_SLOT << 3);
            plugBoard(new Ich9Functions.Ahci(), ICH9_SLOT << 3 | 2);
            plugBoard(new Ich9Functions.Smbus(), ICH9_SLOT << 3 | 3);
        } catch (PciBus.PlugException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A machine with one CPU and no devices besides the board's. */
    public static Machine q35(long ramSize) {
        return q35(ramSize, SmpTopology.SINGLE, GuestOptions.NONE);
    }

    /** A machine with {@code smp}'s CPUs, telling a guest model {@code guest}. */
    public static Machine q35(long ramSize, SmpTopology smp, GuestOptions guest) {
        return new Machine(ramSize, smp, guest, null);
    }

    /**
     * As {@link #q35(long, SmpTopology, GuestOptions)}, with RAM that lives elsewhere: offset
     * {@code o} of {@code ramBacking} is RAM byte {@code o} (below-4G RAM first, then above-4G),
     * as QEMU's {@code pc.ram} block is one host mapping. A VMM passes its process memory here.
     */
    public static Machine q35(long ramSize, SmpTopology smp, GuestOptions guest, io.viommu.memory.AddressSpace ramBacking) {
        return new Machine(ramSize, smp, guest, java.util.Objects.requireNonNull(ramBacking));
    }

    /**
     * A platform for a model of a recorded real host ({@code io.viommu.host.RecordedHost}): RAM,
     * the root bus, configuration access (ECAM always on at {@link #ECAM_DEFAULT_BASE}), and no
     * board functions: whoever builds it plugs the recorded functions, bridges with the bus numbers
     * the recorded firmware gave them, which {@link #enumerate()} keeps.
     */
    public static Machine recordedBoard(long ramSize, SmpTopology smp, GuestOptions guest) {
        return new Machine(ramSize, smp, guest, null, true);
    }

    /** True for a {@link #recordedBoard} machine. */
    public boolean isRecordedBoard() {
        return recordedBoard;
    }

    /**
     * Publishes a recorded firmware's DMAR table (its DRHD base, scopes, RMRRs, ATSRs as saved)
     * instead of the one this platform would build from its unit.
     */
    public void setFirmwareDmarTable(byte[] table) {
        firmwareDmar = table.clone();
    }

    /**
     * Plugs a function at {@code devfn} on {@code bus} (-1: first free slot) and wires its DMA
     * and interrupts (see {@link #connectDma}); for QEMU's default devices.
     */
    public DmaPort plug(PciFunction f, PciBus bus, int devfn) throws PciBus.PlugException {
        bus.plug(f, devfn);
        return connectDma(f);
    }

    /** As {@link #plug}, for a device given by the user ({@code -device}): listed by {@link #devices()}. */
    public DmaPort plugDevice(PciFunction f, PciBus bus, int devfn) throws PciBus.PlugException {
        DmaPort port = plug(f, bus, devfn);
        userDevices.add(f);
        return port;
    }

    /**
     * A function's DMA path: translated by the IOMMU when the machine has one (else an explicit
     * bypass; {@link #attachIommu} puts the functions plugged before it behind it), with writes to 0xFEEx_xxxx becoming MSIs (QEMU's vtd-ir region), and its
     * interrupts going through interrupt remapping when it sits behind the IOMMU.
     */
    private DmaPort connectDma(PciFunction f) {
        dmaFunctions.add(f);
        return connectDmaPort(f);
    }

    private DmaPort connectDmaPort(PciFunction f) {
        MsiSink msiSink = iommu != null ? interrupts.remappingSink() : interrupts;
        // pci_device_iommu_address_space: behind a conventional bus the IOMMU sees the bridge's alias
        DmaPort port = new DmaPort(f::dmaRequester, new MsiWindow(memory, f::dmaRequester, msiSink), iommu,
                f::busMasterEnabled);
        f.connect(port, msiSink);
        return port;
    }

    /** Largest part of the firmware image that is also visible below 1 MiB (QEMU's isa-bios). */
    public static final int ISA_BIOS_MAX = 128 << 10;

    /**
     * Maps a firmware image as QEMU's {@code x86_bios_rom_init} does: whole, read-only, ending at
     * 4 GiB, and its last {@code min(size, 128 KiB)} again ending at 1 MiB. Writes are dropped
     * (checked with QEMU 7.2: a qtest write to 0xf0000 or 0xfffff000 leaves the image bytes).
     * The size must be a non-zero multiple of 64 KiB, else QEMU refuses the image.
     */
    public void mapBios(byte[] image) {
        if (image.length == 0 || image.length % (64 << 10) != 0) {
            throw new IllegalArgumentException("firmware image of " + image.length + " bytes: not a multiple of 64 KiB");
        }
        PhysicalMemory rom = new PhysicalMemory(image.length);
        owned.add(rom);
        rom.writeBytes(PhysAddr.of(0), image, 0, image.length);
        long size = image.length;
        int isaSize = Math.min(image.length, ISA_BIOS_MAX);
        memory.map("pc.bios", (1L << 32) - size, size, readOnly(rom, 0), AccessRules.ANY, -2);
        memory.map("isa-bios", PAM_HOLE_END - isaSize, isaSize, readOnly(rom, size - isaSize), AccessRules.ANY, -2);
    }

    private static io.viommu.memory.Mmio readOnly(PhysicalMemory rom, long offset) {
        return new io.viommu.memory.Mmio() {
            @Override
            public long load(long off, int sz) {
                return rom.read(PhysAddr.of(offset + off), sz);
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

    /**
     * Realizes the VT-d unit at its default register base (QEMU's {@code vtd_realize}), with
     * interrupt remapping in front of the APICs and an interrupt entry cache of
     * {@code iecEntries} (0: none, as QEMU). Every function plugged with {@link #plug}, before or
     * after, is behind it (QEMU's machine-done bus-master address space); board functions are not
     * (a model simplification). A vfio-pci listed before it bypasses it (VfioPciDevice).
     */
    public IntelIommu attachIommu(VtdConfig config, int iecEntries) {
        return attachIommu(config, iecEntries, IntelIommu.DEFAULT_BASE);
    }

    /** As {@link #attachIommu(VtdConfig, int)}, with the register block at {@code base} (a recorded DRHD's). */
    public IntelIommu attachIommu(VtdConfig config, int iecEntries, long base) {
        if (iommu != null) {
            throw new IllegalStateException("one VT-d unit per machine");
        }
        iommu = new IntelIommu(config, memory, interrupts);
        iommu.interruptRemapping().setEntryCacheCapacity(iecEntries);
        interrupts.attachInterruptRemapping(iommu.interruptRemapping());
        memory.map("intel-iommu", base, IntelIommu.REGISTER_BLOCK_SIZE, iommu,
                new AccessRules(4, 8, false), 0);
        // QEMU 7.2 gives an emulated device its bus-master address space at machine done
        // (pcibus_machine_done -> pci_init_bus_master -> pci_device_iommu_address_space), so one
        // listed before -device intel-iommu is translated all the same (checked with QEMU 7.2:
        // an edu listed first DMAs through the vIOMMU and faults in it). Only vfio-pci takes its
        // address space at realize (vfio_realize): see VfioPciDevice.
        for (PciFunction f : dmaFunctions) {
            connectDmaPort(f);
        }
        return iommu;
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

    /** Bytes of RAM ({@code -m}), wherever it lives. */
    public long ramSize() {
        return ramSize;
    }

    /**
     * The RAM block itself: offset {@code o} is RAM byte {@code o} (below-4G RAM first, then
     * above-4G), so below 4 GiB an offset is the guest-physical address. Whatever backs it: the
     * machine's own {@link PhysicalMemory}, or a VMM process's memory.
     */
    public io.viommu.memory.AddressSpace ramSpace() {
        return ramSpace;
    }

    /** The machine's own RAM; throws for a machine whose RAM is a VMM process's memory (use {@link #ramSpace()}). */
    public PhysicalMemory ram() {
        if (ram == null) {
            throw new IllegalStateException("this machine's RAM is a VMM process's memory, not a PhysicalMemory");
        }
        return ram;
    }

    /**
     * Gives back the memory this machine owns (its own RAM, firmware images); a VMM process's
     * memory backing its RAM stays with the process. The machine must not be used afterwards:
     * its RAM refuses every access. Idempotent.
     */
    @Override
    public void close() {
        for (PhysicalMemory m : owned) {
            m.close();
        }
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

    /** The user's devices ({@link #plugDevice}, {@code -device}) in the order they were realized. */
    public List<PciFunction> devices() {
        return Collections.unmodifiableList(userDevices);
    }

    /** What the command line tells a guest model (kernel command line, CPU model). */
    public GuestOptions guest() {
        return guest;
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
        if (recordedBoard) {
            // the recorded firmware numbered the buses and set the devices up long ago
            host.placeEcam(ECAM_DEFAULT_BASE, 256L << 20);
            return topology();
        }
        Mch mch = (Mch) rootBus.function(0);
        mch.configWrite(Mch.PCIEXBAR, ECAM_DEFAULT_BASE | Mch.PCIEXBAR_ENABLE, 4);
        BusNumbering.assign(configAccess());
        for (PciBus b : rootBus.allBuses()) {
            for (PciFunction f : b.functions()) {
                firmwareInitDevice(f);
            }
        }
        return topology();
    }

    /** SeaBIOS's PCI IRQs for PIRQ A-D (and E-H): {@code pci_irqs} in src/fw/pciinit.c. */
    private static final int[] SEABIOS_PCI_IRQS = {10, 10, 11, 11};

    /**
     * SeaBIOS {@code pci_bios_init_device}: the interrupt line from {@code mch_pci_slot_get_irq}
     * (slots 0..24 rotate by slot plus the devices of the bridges above, 25..31 by pin only) and
     * SERR# enabled in the command register, as the real captures' host devices show them
     * (a VMM reads them through VFIO). SeaBIOS's BAR allocation, and the I/O and memory enables
     * that go with it, are not modelled: BARs stay where the machine put them.
     */
    private static void firmwareInitDevice(PciFunction f) {
        int pin = f.interruptPin();
        if (pin != 0) {
            int addend = 0;
            PciFunction top = f;
            while (top.bus() != null && top.bus().parentBridge() != null) {
                addend += top.devfn() >> 3;
                top = top.bus().parentBridge();
            }
            int slot = top.devfn() >> 3;
            int irq = SEABIOS_PCI_IRQS[(pin - 1 + addend + (slot <= 24 ? slot : 0)) % 4];
            f.configSpace().set(PciRegs.INTERRUPT_LINE, 1, irq);
        }
        f.configSpace().set(PciRegs.COMMAND, 2, f.command() | PciRegs.COMMAND_SERR);
    }

    /** The hierarchy as Linux would enumerate it now (re-scanned: VFs enabled since show up). */
    public Topology topology() {
        return Topology.scan(rootBus);
    }

    public SmpTopology smp() {
        return smp;
    }

    public FwCfg fwCfg() {
        return fwCfg;
    }

    /**
     * The DMAR table this platform publishes (checksum filled in), or null without
     * {@code -device intel-iommu}: one DRHD listing the root bus's functions in devfn order.
     */
    public byte[] dmarTable() {
        if (firmwareDmar != null) {
            return firmwareDmar.clone();
        }
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
}
