package io.viommu.linux;

import io.viommu.linux.acpi.DmarTable;
import io.viommu.linux.block.BlockDevices;
import io.viommu.linux.driver.AcsCheck;
import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.IommuUnit;
import io.viommu.linux.driver.KernelLog;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.iommu.DeviceScope;
import io.viommu.linux.iommu.DomainType;
import io.viommu.linux.iommu.IntelIommuDriver;
import io.viommu.linux.iommu.IommuGroup;
import io.viommu.linux.iommu.IommuGroups;
import io.viommu.linux.iommu.IommuKernel;
import io.viommu.linux.net.NetworkInterfaces;
import io.viommu.linux.sysfs.SysfsTree;
import io.viommu.linux.uio.Uio;
import io.viommu.linux.vfio.IommuApiBackend;
import io.viommu.linux.vfio.PageFrames;
import io.viommu.linux.vfio.Vfio;
import io.viommu.machine.Machine;
import io.viommu.pci.PciFunction;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import io.viommu.vtd.CapReg;
import io.viommu.vtd.EcapReg;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A Linux 6.1 guest booted on a {@link Machine}: the kernel command line, the DMAR table, PCI
 * enumeration with ACS enabled, the PCI driver core ({@link DriverCore}: devices, drivers,
 * binding, SR-IOV), the intel-iommu driver's initialisation (what it prints, from the unit's real
 * VER/CAP/ECAP read over MMIO), the IOMMU groups with their default domain types, and sysfs
 * ({@link SysfsTree}) over all of it. This is the one boot path of the kernel model.
 *
 * <p>Usage: {@code Kernel k = Kernel.boot(machine);} then {@link #groups()}, {@link #drivers()}
 * (modules, binding, SR-IOV), {@link #sysfs()} (the file interface), {@link #topology()},
 * {@link #dmesg()}, {@link #exportTo} (the guest's /sys and /proc as files), and once their
 * modules are loaded {@link #vfio()} and {@link #uio()} (user-space drivers, whose processes take
 * memory from {@link #userMemory()}). Devices that appear
 * later (SR-IOV VFs, enabled through {@code sriov_numvfs}) are added by the driver core, which
 * hands them to this kernel's group code ({@link KernelGroupView}: iommu_probe_device /
 * iommu_release_device).
 *
 * <p>Boot order modelled (init/main.c, arch/x86, drivers/iommu):
 * <ol>
 * <li>setup_arch: "Command line:", early parameters (iommu=, iommu.strict=, iommu.passthrough=,
 *     intremap=, the pcie_acs_override what-if), ACPI table list ("ACPI: DMAR ..."),
 *     detect_intel_iommu (DMAR present, !iommu=off, VT-d not disabled: pci_request_acs);</li>
 * <li>start_kernel: "Kernel command line:", __setup handlers (intel_iommu=);</li>
 * <li>APIC setup: IRQ remapping prepare parses the DMAR table (its lines print here) unless
 *     intremap=off, in which case intel_iommu_init parses it;</li>
 * <li>PCI enumeration (SeaBIOS numbered the buses): pci_acs_init enables SV|RR|CR|UF where
 *     advertised, if ACS was requested; the driver core adds every function (ARI, SR-IOV init,
 *     reset methods);</li>
 * <li>iommu_subsys_init: "iommu: Default domain type", "DMA domain TLB invalidation policy";</li>
 * <li>intel_iommu_init: stop if iommu=off or VT-d disabled; "No RMRR/ATSR/SATC found",
 *     per unit "Using Queued invalidation", "VT-d Scalable Mode not enabled, no PASID
 *     allocation" (caching mode without scalable mode), "IOMMU batching disallowed due to
 *     virtualization" (caching mode with second-level tables: strict), then
 *     iommu_device_register probes every PCI device in enumeration order ("Adding to iommu
 *     group N"), then "Intel(R) Virtualization Technology for Directed I/O";</li>
 * <li>device_initcall: the built-in pcieport driver binds the PCIe ports.</li>
 * </ol>
 * Everything is logged to one {@link KernelLog}: boot lines and, later, the driver core's and the
 * drivers' messages.
 * Interrupt remapping (ECAP.IR, QEMU's intremap=on): the intel-iommu driver enables it through
 * the registers unless intremap=off (what VFIO's type1 asks for); Linux 6.1 under TCG panics with
 * it (see the fixtures' README), so there is no captured boot to hold its lines against.
 */
public final class Kernel implements IommuKernel {
    /** Linux's pr_fmt prefixes. */
    static final String DMAR = "DMAR: ";
    static final String IOMMU = "iommu: ";

    private final Machine machine;
    private final KernelConfig config;
    private final KernelCommandLine cmdline;
    private final DmarTable dmar;
    private final KernelLog log = new KernelLog();
    private final IommuGroups groups;
    private DriverCore drivers;
    private SysfsTree sysfs;
    private boolean detected;
    private boolean dmarDisabled;
    private boolean dmarParsed;
    private boolean acsRequested;
    private boolean driverActive;
    private DomainType defaultType;
    private boolean strict;
    private boolean gfxIdentity;
    private final List<IommuUnit> dmarUnits = new ArrayList<>(); // alloc_iommu: what each DRHD's registers said
    private IntelIommuDriver iommuDriver; // programs the unit (null: scalable mode, not modelled)
    private PageFrames userMemory;
    private Vfio vfio;
    private Uio uio;
    private NetworkInterfaces network;
    private final BlockDevices blockDevices = new BlockDevices();
    private final Interrupts interrupts;

    private Kernel(Machine machine, KernelCommandLine cmdline, KernelConfig config) {
        this.machine = machine;
        this.cmdline = cmdline;
        this.config = config;
        this.dmar = DmarTable.of(machine);
        this.groups = new IommuGroups(new AcsCheck(cmdline.acsOverride()));
        this.interrupts = new Interrupts(machine.interrupts(), machine.smp().apicId(0));
    }

    /** Boots with the machine's {@code -append} and the fixtures' kernel (Debian 6.1). */
    public static Kernel boot(Machine machine) {
        String append = machine.guest().append();
        return boot(machine, KernelCommandLine.parse(append), KernelConfig.DEBIAN_6_1);
    }

    public static Kernel boot(Machine machine, KernelCommandLine cmdline, KernelConfig config) {
        Kernel k = new Kernel(machine, cmdline, config);
        k.run();
        return k;
    }

    private void run() {
        setupArch();
        startKernel();
        if (detected && !cmdline.interruptRemappingOff()) {
            parseDmarTable(); // APIC setup: IRQ remapping prepare reads the table first
        }
        pciSubsysInit();
        iommuSubsysInit();
        intelIommuInit();
        drivers.setDmaOps(new KernelDma(this));
        drivers.setIrqCore(new PciIrqs(drivers, machine.configAccess(), interrupts, machine.smp().apicId(0),
                () -> iommuDriver, d -> machine.rootBus().route(d.rid().bus(), d.rid().devfn())));
        drivers.addModuleListener(new ModuleInit());
        network = new NetworkInterfaces(log, nicsInCreationOrder());
        drivers.addModuleListener(network);
        drivers.addBindingListener(network);
        drivers.addBindingListener(blockDevices);
        drivers.registerBuiltinDrivers();
        sysfs = new SysfsTree(drivers, acpiTables());
        sysfs.setResources(this::resourceFile);
        sysfs.addClassDevices(network);
        sysfs.addClassDevices(blockDevices);
    }

    /**
     * The init and exit of the modules whose state lives outside the driver core: {@code vfio}
     * (vfio_init: /dev/vfio/vfio, and the group nodes that follow vfio-pci bindings) and
     * {@code uio} (uio_init: the uio class that uio_pci_generic's devices join).
     */
    private final class ModuleInit implements DriverCore.ModuleListener {
        @Override
        public void loaded(String module) {
            switch (module) {
                case "vfio" -> vfio = new Vfio(drivers, machine,
                        iommuDriver != null ? new IommuApiBackend(iommuDriver, groups) : null, log);
                case "uio" -> uio = new Uio(drivers, machine);
                default -> { }
            }
        }

        @Override
        public void unloaded(String module) {
            switch (module) {
                case "vfio" -> vfio = null;
                case "uio" -> uio = null;
                default -> { }
            }
        }
    }

    /** The machine's network-class functions in the order QEMU created them (their default MACs follow it). */
    private List<String> nicsInCreationOrder() {
        List<String> out = new ArrayList<>();
        Topology t = topology();
        for (PciFunction pf : machine.devices()) {
            t.function(pf.address()).filter(f -> (f.classCode() >> 16) == 0x02).ifPresent(f -> out.add(f.bdf()));
        }
        return out;
    }

    @Override
    public void requestIrq(int vector, Runnable handler) {
        interrupts.request(vector, handler);
    }

    /**
     * The boot CPU takes the interrupts delivered to it since the last call (e.g. the DMAR
     * unit's fault event: dmar_fault prints and clears the fault records). No CPU runs in the
     * model: whoever drives the host (a test, the VMM between qtest commands) calls this where a
     * real CPU would long have taken them. Returns how many handlers ran.
     */
    public int takeInterrupts() {
        return interrupts.take();
    }

    /** True when a delivered interrupt waits for {@link #takeInterrupts}. */
    public boolean interruptsPending() {
        return interrupts.anyPending();
    }

    private void printk(String text) {
        log.info(text);
    }

    /** setup_arch: the command line, early parameters, the ACPI table list, detect_intel_iommu. */
    private void setupArch() {
        printk("Command line: " + cmdline.text());
        cmdline.earlyMessages().forEach(this::printk);
        if (dmar != null) {
            long at = acpiTableAddress();
            printk(dmar.acpiLine(at));
            printk(dmar.reserveLine(at));
        }
        dmarDisabled = cmdline.dmarDisabled(config);
        detected = dmar != null && !dmar.of(DmarTable.TYPE_DRHD).isEmpty();
        acsRequested = detected && !cmdline.noIommu() && !dmarDisabled; // pci_request_acs
    }

    /** start_kernel: the command line again and the __setup handlers (intel_iommu=). */
    private void startKernel() {
        printk("Kernel command line: " + cmdline.text());
        cmdline.setupMessages().forEach(this::printk);
    }

    /**
     * subsys_initcall acpi_pci_root: Linux walks the hierarchy SeaBIOS numbered; pci_acs_init
     * enables ACS where requested; the driver core adds every function.
     */
    private void pciSubsysInit() {
        Topology t = machine.enumerate();
        if (acsRequested) {
            AcsCheck.enableAcs(machine.configAccess(), t);
        }
        drivers = new DriverCore(machine.configAccess(), machine::topology, new KernelGroupView(this), log);
    }

    /** first_level_by_default(IOMMU_DOMAIN_DMA) in 6.1.y. */
    private static boolean firstLevelByDefault(boolean sm, long ecap) {
        if (!sm) {
            return false;
        }
        boolean fl = EcapReg.firstLevel(ecap);
        boolean sl = EcapReg.secondLevel(ecap);
        return fl ^ sl ? fl : true;
    }

    /** iommu_subsys_init. */
    private void iommuSubsysInit() {
        DomainType requested = cmdline.requestedDefaultType();
        defaultType = requested != null ? requested
                : config.passthroughDefault() ? DomainType.IDENTITY : DomainType.DMA;
        Boolean s = cmdline.requestedStrict();
        strict = s != null ? s : config.dmaStrictDefault();
        if (cmdline.strictFromIntelOption()) {
            strict = true;
        }
        if (defaultType != DomainType.IDENTITY && !strict) {
            defaultType = DomainType.DMA_FQ;
        }
        printk(IOMMU + "Default domain type: " + defaultType.bootName() + " "
                + (requested != null ? "(set via kernel command line)" : ""));
        if (defaultType != DomainType.IDENTITY) {
            printk(IOMMU + "DMA domain TLB invalidation policy: " + (strict ? "strict" : "lazy") + " mode "
                    + (s != null ? "(set via kernel command line)" : ""));
        }
    }

    /**
     * intel_iommu_init (from pci_iommu_init, a rootfs_initcall): nothing without a DRHD, with
     * iommu=off or VT-d disabled; else the table's remaining lines, init_dmars, the unit's sysfs
     * registration and iommu_device_register, which probes every PCI device into its group.
     */
    private void intelIommuInit() {
        if (!detected) {
            return;
        }
        if (!dmarParsed) {
            parseDmarTable();
        }
        if (cmdline.noIommu() || dmarDisabled) {
            return;
        }
        if (dmar.of(DmarTable.TYPE_RMRR).isEmpty()) {
            printk(DMAR + "No RMRR found");
        }
        if (dmar.of(DmarTable.TYPE_ATSR).isEmpty()) {
            printk(DMAR + "No ATSR found");
        }
        if (dmar.of(DmarTable.TYPE_SATC).isEmpty()) {
            printk(DMAR + "No SATC found");
        }
        if (dmarUnits.isEmpty()) {
            return; // no unit answered at its DRHD base
        }
        // What the kernel knows of the unit is what alloc_iommu read from its registers.
        IommuUnit unit = dmarUnits.get(0);
        long cap = unit.cap();
        long ecap = unit.ecap();
        boolean sm = cmdline.scalableModeAllowed(config) && EcapReg.scalableMode(ecap);
        // init_dmars through the registers (IntelIommuDriver): its lines say what the unit
        // actually did (QI enabled, root table, TE). Scalable mode is not driven yet: then only
        // the line Linux prints for the invalidation method.
        iommuDriver = IntelIommuDriver.start(this, platform(), driverOptions(), this::printk);
        if (iommuDriver == null) {
            printk(DMAR + "dmar0: " + (EcapReg.queuedInvalidation(ecap) ? "Using Queued invalidation" : "Using Register based invalidation"));
        }
        gfxIdentity = cmdline.gfxMappingDisabled(); // IDENTMAP_GFX
        // intel_iommu_init: CM with second-level tables forces strict invalidation
        if (CapReg.cachingMode(cap) && !firstLevelByDefault(sm, ecap)) {
            printk(DMAR + "IOMMU batching disallowed due to virtualization");
            strict = true;
            if (defaultType == DomainType.DMA_FQ) {
                defaultType = DomainType.DMA;
            }
        }
        // iommu_device_sysfs_add: /sys/class/iommu/dmar0 with the unit's identity registers
        drivers.setIommuUnit(unit);
        driverActive = true;
        for (Topology.Function f : topology().functions()) {
            probeDevice(topology(), f);
        }
        if (iommuDriver != null) {
            iommuDriver.finishBoot();
        }
        printk(DMAR + "Intel(R) Virtualization Technology for Directed I/O");
    }

    /** parse_dmar_table: printing each structure, and alloc_iommu's line for each DRHD. */
    private void parseDmarTable() {
        dmarParsed = true;
        printk(DMAR + "Host address width " + (dmar.hostAddressWidth() + 1));
        int unit = 0;
        for (DmarTable.Structure s : dmar.structures()) {
            switch (s.type()) {
                case DmarTable.TYPE_DRHD -> {
                    printk(DMAR + String.format("DRHD base: %#016x flags: 0x%x", s.a(), s.flags()));
                    // alloc_iommu / map_iommu: the unit is known only by its registers at the base
                    IommuUnit u = IntelIommuDriver.allocIommu(machine.memory(), "dmar" + unit, s.a());
                    if (u == null) {
                        printk(DMAR + String.format("[Firmware Bug]: Your BIOS is broken; DMAR reported at address"
                                + " %x returns all ones!", s.a()));
                        continue;
                    }
                    dmarUnits.add(u);
                    unit++; // dmar_seq_ids: a unit that failed to map gives its id back
                    printk(DMAR + String.format("%s: reg_base_addr %x ver %d:%d cap %x ecap %x", u.name(),
                            u.regBase(), (u.version() >> 4) & 0xf, u.version() & 0xf, u.cap(), u.ecap()));
                }
                case DmarTable.TYPE_RMRR -> printk(DMAR + String.format("RMRR base: %#016x end: %#016x", s.a(), s.b()));
                case DmarTable.TYPE_ATSR -> printk(DMAR + String.format("ATSR flags: 0x%x", s.flags()));
                case DmarTable.TYPE_SATC -> printk(DMAR + String.format("SATC flags: 0x%x", s.flags()));
                default -> { }
            }
        }
    }

    // ---- IOMMU group membership (iommu_probe_device / iommu_release_device) ----

    /**
     * iommu_probe_device for a device the IOMMU covers: its group (pci_device_group), the
     * "Adding to iommu group" line, and the group's default domain when it has none yet.
     * Returns empty when the VT-d driver is not active or no DRHD covers the device. Called at
     * boot for every function and by the driver core (through {@link KernelGroupView}) for
     * functions added later.
     */
    Optional<IommuGroup> probeDevice(Topology topology, Topology.Function f) {
        if (!driverActive || !covered(topology, f)) {
            return Optional.empty();
        }
        boolean known = groups.groupOf(f.rid()).isPresent();
        IommuGroup g = groups.add(topology, f);
        if (!known) {
            printk("pci " + f.bdf() + ": Adding to iommu group " + g.id()); // iommu_group_add_device
        }
        if (g.defaultDomain() == null) {
            g.setDefaultDomain(defaultDomainFor(topology, g));
        }
        if (iommuDriver != null) {
            iommuDriver.probed(g, f);
        }
        return Optional.of(g);
    }

    /** iommu_release_device: the device leaves its group ("Removing from iommu group N"). */
    void releaseDevice(RequesterId rid) {
        Optional<IommuGroup> g = groups.groupOf(rid);
        if (g.isPresent()) {
            printk("pci 0000:" + rid + ": Removing from iommu group " + g.get().id());
            groups.remove(rid);
        }
    }

    /**
     * probe_alloc_default_domain: a member's own requirement (device_def_domain_type: identity
     * for display-class devices when intel_iommu=igfx_off) else iommu_def_domain_type.
     */
    DomainType defaultDomainFor(Topology topology, IommuGroup g) {
        DomainType need = null;
        for (RequesterId rid : g.devices()) {
            Optional<Topology.Function> f = topology.function(rid);
            if (f.isPresent() && gfxIdentity && (f.get().classCode() >> 16) == 0x03) {
                need = DomainType.IDENTITY;
            }
        }
        return need != null ? need : defaultType;
    }

    /** dmar_find_matched_drhd_unit: does any DRHD cover the device ({@link DeviceScope#drhdCovers}). */
    boolean covered(Topology topology, Topology.Function f) {
        for (DmarTable.Structure s : dmar.of(DmarTable.TYPE_DRHD)) {
            if (DeviceScope.drhdCovers(topology, s, f)) {
                return true;
            }
        }
        return false;
    }

    /** What intel_iommu_init's driver gets from the platform: the CPU's view of memory, no unit object. */
    private IntelIommuDriver.Platform platform() {
        return new IntelIommuDriver.Platform(machine.memory(), machine.ramSize(), machine.smp().cpus(),
                machine.smp().apicId(0), machine.configAccess());
    }

    /** The command-line parameters the intel-iommu driver reads. */
    private IntelIommuDriver.Options driverOptions() {
        return new IntelIommuDriver.Options(cmdline.scalableModeAllowed(config), !cmdline.superpageDisabled(),
                cmdline.forcedac(), cmdline.interruptRemappingOff());
    }

    /**
     * Where the report says firmware put the DMAR table. A placeholder chosen by viommu (64 KiB
     * below the top of low RAM, where SeaBIOS puts its ACPI tables); real firmware picks its
     * own address, so comparisons ignore it.
     */
    long acpiTableAddress() {
        long ram = machine.ramSize();
        long low = Math.min(ram, ram >= Machine.BELOW_4G_LIMIT ? 0x8000_0000L : Machine.BELOW_4G_LIMIT);
        return low - 0x1_0000;
    }

    /** The ACPI tables sysfs shows (only the DMAR table is modelled), signature to bytes. */
    private Map<String, byte[]> acpiTables() {
        Map<String, byte[]> out = new LinkedHashMap<>();
        byte[] d = machine.dmarTable();
        if (d != null) {
            out.put("DMAR", d);
        }
        return out;
    }

    /** IORESOURCE_* flags of drivers' resources (include/linux/ioport.h) that resource_show prints. */
    private static final long IORESOURCE_IO = 0x100;
    private static final long IORESOURCE_MEM = 0x200;
    private static final long IORESOURCE_PREFETCH = 0x2000;
    private static final long IORESOURCE_SIZEALIGN = 0x40000;
    private static final long IORESOURCE_MEM_64 = 0x100000;

    /**
     * /sys/bus/pci/devices/X/resource (resource_show): one "start end flags" line per resource,
     * 13 of them for an endpoint (6 BARs, the ROM, 6 SR-IOV BARs: the whole VF BAR space) and 17 for
     * a bridge (its 4 windows added, printed empty here); an absent one is all zeros. A BAR the
     * platform left unplaced starts at 0, as Linux shows an unassigned resource.
     */
    String resourceFile(RequesterId rid) {
        PciFunction f = machine.rootBus().route(rid.bus(), rid.devfn());
        StringBuilder out = new StringBuilder();
        int lines = f != null && f.headerLayout() == io.viommu.pci.PciRegs.HEADER_TYPE_BRIDGE ? 17 : 13;
        for (int i = 0; i < lines; i++) {
            long start = 0;
            long size = 0;
            long flags = 0;
            io.viommu.pci.Bar bar = f == null ? null : i < 6 ? f.bar(i)
                    : i >= 7 && i < 13 && f.sriov() != null ? sriovBar(f.sriov(), i - 7) : null;
            if (bar != null && bar.size() > 0) {
                size = i < 6 ? bar.size() : bar.size() * f.sriov().totalVfs();
                long at = i < 6 ? f.barAddress(i) : f.sriov().vfBarAddress(i - 7, 0);
                start = at == io.viommu.pci.Bar.UNMAPPED ? 0 : at;
                flags = IORESOURCE_SIZEALIGN | (bar.kind() == io.viommu.pci.Bar.Kind.IO ? IORESOURCE_IO
                        : IORESOURCE_MEM | (bar.kind() == io.viommu.pci.Bar.Kind.MEMORY64 ? IORESOURCE_MEM_64 : 0)
                        | (bar.prefetchable() ? IORESOURCE_PREFETCH : 0));
            }
            out.append(String.format("0x%016x 0x%016x 0x%016x%n", start, size == 0 ? 0 : start + size - 1, flags));
        }
        return out.toString();
    }

    private static io.viommu.pci.Bar sriovBar(io.viommu.pci.SriovCapability s, int index) {
        io.viommu.pci.SriovCapability.VfBar b = s.vfBar(index);
        return b == null ? null : new io.viommu.pci.Bar(b.index(), b.kind(), b.size(), b.prefetchable(), null,
                io.viommu.pci.AccessRules.ANY);
    }

    // ---- export ----

    /**
     * Writes what tools read from a running guest below {@code dir}, laid out like its root file
     * system: {@code dir/sys/...} ({@link SysfsTree#exportTo}) and the files of {@link #procFiles()}.
     * {@code viommu host scan --sysfs dir} reads it as it reads a real host.
     */
    public void exportTo(Path dir) throws IOException {
        sysfs.exportTo(dir);
        for (Map.Entry<String, String> e : procFiles().entrySet()) {
            Path p = dir.resolve(e.getKey().substring(1));
            Files.createDirectories(p.getParent());
            Files.writeString(p, e.getValue(), StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * The files outside /sys that host tools read, by absolute path: /proc/cmdline (the -append
     * text: QEMU's direct kernel boot passes it unchanged), a minimal /proc/cpuinfo
     * ({@link GuestCpu}), /proc/sys/kernel/osrelease and the kernel's /boot/config-RELEASE
     * ({@link KernelConfig#dotConfig}).
     */
    public Map<String, String> procFiles() {
        Map<String, String> out = new LinkedHashMap<>();
        out.put("/proc/cmdline", cmdline.text() + "\n");
        out.put("/proc/cpuinfo", GuestCpu.of(machine).cpuinfo());
        out.put("/proc/sys/kernel/osrelease", config.release() + "\n");
        out.put("/boot/config-" + config.release(), config.dotConfig());
        return out;
    }

    // ---- state ----

    public Machine machine() {
        return machine;
    }

    public KernelConfig config() {
        return config;
    }

    public KernelCommandLine commandLine() {
        return cmdline;
    }

    /** The DMAR table the kernel found, or null (no intel-iommu). */
    @Override
    public DmarTable dmarTable() {
        return dmar;
    }

    /** The PCI hierarchy as this kernel enumerated it (after ACS was enabled; re-scanned after SR-IOV changes). */
    @Override
    public Topology topology() {
        return drivers.topology();
    }

    /** The kernel log, without timestamps: boot lines, then whatever the driver core and drivers printed since. */
    public List<String> dmesg() {
        return log.texts();
    }

    /** The kernel log with printk levels. */
    public KernelLog log() {
        return log;
    }

    /** IOMMU groups; empty when the VT-d driver did not initialise. */
    @Override
    public IommuGroups groups() {
        return groups;
    }

    /** The PCI driver core: devices, drivers, modules, binding, SR-IOV, DMA ownership. */
    public DriverCore drivers() {
        return drivers;
    }

    /** sysfs over this kernel: the file interface to the driver core and the groups. */
    public SysfsTree sysfs() {
        return sysfs;
    }

    /**
     * VFIO (the container/group API behind /dev/vfio) while the {@code vfio} module is loaded:
     * {@code modprobe vfio-pci} loads it as a dependency, as on Linux; empty before.
     */
    public Optional<Vfio> vfio() {
        return Optional.ofNullable(vfio);
    }

    /** The network devices NIC drivers registered, with what {@code ip} set on them. */
    public NetworkInterfaces network() {
        return network;
    }

    /** The disks storage drivers added, with their mounts. */
    public BlockDevices blockDevices() {
        return blockDevices;
    }

    /** The UIO core (/dev/uioN of uio_pci_generic's devices) while the {@code uio} module is loaded. */
    public Optional<Uio> uio() {
        return Optional.ofNullable(uio);
    }

    /** Start of the frames user processes' anonymous memory comes from: 80 MiB. */
    public static final long USER_MEMORY_BASE = 0x0500_0000L;
    /** At most this much user memory below 4 GiB: the rest of low RAM. */
    public static final long USER_MEMORY_MAX = 0x1_0000_0000L;

    /**
     * The page frames user space's anonymous memory comes from (processes of the VFIO/UIO
     * scenarios: {@code UserProcess.root("dpdk", kernel.userMemory())}): {@link #USER_MEMORY_BASE}
     * up to the top of RAM below 4 GiB, then all RAM above 4 GiB (a VMM pins its guest's RAM
     * here: QEMU's guest RAM is anonymous memory of its process). Disjoint from the
     * first 16 MiB (low memory a test may treat as "kernel memory", the ISA DMA window) and from
     * the kernel's own page region at 16..80 MiB, where the intel-iommu driver allocates its
     * tables; so a process page is never also a page table. Needs more than 80 MiB of RAM.
     */
    public PageFrames userMemory() {
        if (userMemory == null) {
            long ram = machine.ramSize();
            long top = Math.min(ram, ram >= Machine.BELOW_4G_LIMIT ? 0x8000_0000L : Machine.BELOW_4G_LIMIT);
            long size = Math.min(USER_MEMORY_MAX, top - USER_MEMORY_BASE) & Page.MASK;
            if (size <= 0) {
                throw new IllegalStateException("user memory needs more than 80 MiB of RAM, the machine has "
                        + machine.ramSize());
            }
            if (ram > top) {
                userMemory = new PageFrames(machine.memory(), PhysAddr.of(USER_MEMORY_BASE), size,
                        PhysAddr.of(1L << 32), ram - top);
            } else {
                // below 4 GiB a RAM offset is the physical address (Machine#ramSpace)
                userMemory = new PageFrames(machine.ramSpace(), ram, PhysAddr.of(USER_MEMORY_BASE), size);
            }
        }
        return userMemory;
    }

    /** True when intel-iommu initialised and registered (groups exist). */
    public boolean iommuActive() {
        return driverActive;
    }

    /** The intel-iommu driver that programs the VT-d unit, or null when it did not start. */
    public IntelIommuDriver iommuDriver() {
        return iommuDriver;
    }

    /** iommu_def_domain_type after initialisation. */
    @Override
    public DomainType defaultDomainType() {
        return defaultType;
    }

    /** iommu_dma_strict after initialisation. */
    public boolean strictInvalidation() {
        return strict;
    }

    /** True when the kernel asked for ACS (an IOMMU driver will run), so pci_acs_init enabled it. */
    public boolean acsEnabled() {
        return acsRequested;
    }

    /** The driver bound to the function now (at the end of boot only the built-in pcieport), if any. */
    public Optional<String> driver(RequesterId rid) {
        for (PciDevice d : drivers.devices()) {
            if (d.rid().equals(rid)) {
                return Optional.ofNullable(d.driver()).map(drv -> drv.name());
            }
        }
        return Optional.empty();
    }
}
