package io.viommu.linux;

import io.viommu.linux.iommu.IntelIommuDriver;
import io.viommu.machine.Machine;
import io.viommu.pci.PcieCapability.PortType;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdRegisters;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A Linux 6.1 guest booted on a {@link Machine}, as far as the IOMMU stack goes: the kernel
 * command line, the DMAR table, PCI enumeration with ACS enabled, the intel-iommu driver's
 * initialisation (what it prints, from the unit's real VER/CAP/ECAP read over MMIO) and the
 * IOMMU groups with their default domain types.
 *
 * <p>Usage: {@code Kernel k = Kernel.boot(machine);} then {@link #groups()},
 * {@link #topology()}, {@link #dmesg()}; devices that appear later (SR-IOV VFs) go through
 * {@link #probeDevice} and {@link #releaseDevice}.
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
 *     advertised, if ACS was requested;</li>
 * <li>iommu_subsys_init: "iommu: Default domain type", "DMA domain TLB invalidation policy";</li>
 * <li>intel_iommu_init: stop if iommu=off or VT-d disabled; "No RMRR/ATSR/SATC found",
 *     per unit "Using Queued invalidation", "VT-d Scalable Mode not enabled, no PASID
 *     allocation" (caching mode without scalable mode), "IOMMU batching disallowed due to
 *     virtualization" (caching mode with second-level tables: strict), then
 *     iommu_device_register probes every PCI device in enumeration order ("Adding to iommu
 *     group N"), then "Intel(R) Virtualization Technology for Directed I/O".</li>
 * </ol>
 * Interrupt remapping (ECAP.IR, QEMU's intremap=on) is not modelled: Linux 6.1 under TCG panics
 * with it (see the fixtures' README), so there is no ground truth for its lines.
 */
public final class Kernel {
    /** Linux's pr_fmt prefixes. */
    static final String DMAR = "DMAR: ";
    static final String IOMMU = "iommu: ";
    /** The pcieport driver is built in and binds to these port types (pcie_portdrv_probe). */
    public static final String PCIEPORT = "pcieport";

    private final Machine machine;
    private final KernelConfig config;
    private final KernelCommandLine cmdline;
    private final DmarTable dmar;
    private final List<String> dmesg = new ArrayList<>();
    private final IommuGroups groups;
    private final Map<RequesterId, String> drivers = new HashMap<>();
    private Topology topology;
    private boolean acsRequested;
    private boolean driverActive;
    private DomainType defaultType;
    private boolean strict;
    private boolean gfxIdentity;
    private IntelIommuDriver iommuDriver; // programs the unit (null: scalable mode, not modelled)

    private Kernel(Machine machine, KernelCommandLine cmdline, KernelConfig config) {
        this.machine = machine;
        this.cmdline = cmdline;
        this.config = config;
        this.dmar = DmarTable.of(machine);
        this.groups = new IommuGroups(new AcsCheck(cmdline.acsOverride()));
    }

    /** Boots with the machine's {@code -append} and the fixtures' kernel (Debian 6.1). */
    public static Kernel boot(Machine machine) {
        String append = machine.commandLine() == null ? null : machine.commandLine().guest().append();
        return boot(machine, KernelCommandLine.parse(append), KernelConfig.DEBIAN_6_1);
    }

    public static Kernel boot(Machine machine, KernelCommandLine cmdline, KernelConfig config) {
        Kernel k = new Kernel(machine, cmdline, config);
        k.run();
        return k;
    }

    private void run() {
        // setup_arch
        dmesg.add("Command line: " + cmdline.text());
        dmesg.addAll(cmdline.earlyMessages());
        if (dmar != null) {
            long at = acpiTableAddress();
            dmesg.add(dmar.acpiLine(at));
            dmesg.add(dmar.reserveLine(at));
        }
        boolean dmarDisabled = cmdline.dmarDisabled(config);
        boolean detected = dmar != null && !dmar.of(DmarTable.TYPE_DRHD).isEmpty();
        acsRequested = detected && !cmdline.noIommu() && !dmarDisabled;
        // start_kernel
        dmesg.add("Kernel command line: " + cmdline.text());
        dmesg.addAll(cmdline.setupMessages());
        boolean parsedEarly = false;
        if (detected && !cmdline.interruptRemappingOff()) {
            parseDmarTable();
            parsedEarly = true;
        }
        // PCI enumeration (subsys_initcall acpi_pci_root): firmware numbering, then pci_acs_init
        topology = machine.enumerate();
        if (acsRequested) {
            AcsCheck.enableAcs(machine.configAccess(), topology);
            topology = machine.topology();
        }
        for (Topology.Function f : topology.functions()) {
            if (isPciePort(f)) {
                drivers.put(f.rid(), PCIEPORT);
            }
        }
        iommuSubsysInit();
        if (!detected) {
            return;
        }
        // intel_iommu_init
        if (!parsedEarly) {
            parseDmarTable();
        }
        if (cmdline.noIommu() || dmarDisabled) {
            return;
        }
        if (dmar.of(DmarTable.TYPE_RMRR).isEmpty()) {
            dmesg.add(DMAR + "No RMRR found");
        }
        if (dmar.of(DmarTable.TYPE_ATSR).isEmpty()) {
            dmesg.add(DMAR + "No ATSR found");
        }
        if (dmar.of(DmarTable.TYPE_SATC).isEmpty()) {
            dmesg.add(DMAR + "No SATC found");
        }
        IntelIommu unit = machine.iommu();
        long cap = unit.load(VtdRegisters.CAP, 8);
        long ecap = unit.load(VtdRegisters.ECAP, 8);
        boolean sm = cmdline.scalableModeAllowed(config) && VtdBits.smts(ecap);
        // init_dmars through the registers: its lines say what the unit actually did
        iommuDriver = IntelIommuDriver.start(this, dmesg::add);
        if (iommuDriver == null) {
            dmesg.add(DMAR + "dmar0: " + (VtdBits.qi(ecap) ? "Using Queued invalidation" : "Using Register based invalidation"));
        }
        gfxIdentity = cmdline.gfxMappingDisabled(); // IDENTMAP_GFX
        // intel_iommu_init: CM with second-level tables forces strict invalidation
        if (VtdBits.cachingMode(cap) && !firstLevelByDefault(sm, ecap)) {
            dmesg.add(DMAR + "IOMMU batching disallowed due to virtualization");
            strict = true;
            if (defaultType == DomainType.DMA_FQ) {
                defaultType = DomainType.DMA;
            }
        }
        driverActive = true;
        for (Topology.Function f : topology.functions()) {
            probeDevice(f);
        }
        if (iommuDriver != null) {
            iommuDriver.finishBoot();
        }
        dmesg.add(DMAR + "Intel(R) Virtualization Technology for Directed I/O");
    }

    /** first_level_by_default(IOMMU_DOMAIN_DMA) in 6.1.y. */
    private static boolean firstLevelByDefault(boolean sm, long ecap) {
        if (!sm) {
            return false;
        }
        boolean fl = VtdBits.flts(ecap);
        boolean sl = VtdBits.slts(ecap);
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
        dmesg.add(IOMMU + "Default domain type: " + defaultType.bootName() + " "
                + (requested != null ? "(set via kernel command line)" : ""));
        if (defaultType != DomainType.IDENTITY) {
            dmesg.add(IOMMU + "DMA domain TLB invalidation policy: " + (strict ? "strict" : "lazy") + " mode "
                    + (s != null ? "(set via kernel command line)" : ""));
        }
    }

    /** parse_dmar_table: printing each structure, and alloc_iommu's line for each DRHD. */
    private void parseDmarTable() {
        dmesg.add(DMAR + "Host address width " + (dmar.hostAddressWidth() + 1));
        int unit = 0;
        for (DmarTable.Structure s : dmar.structures()) {
            switch (s.type()) {
                case DmarTable.TYPE_DRHD -> {
                    dmesg.add(DMAR + String.format("DRHD base: %#016x flags: 0x%x", s.a(), s.flags()));
                    IntelIommu iommu = machine.iommu();
                    long ver = iommu.load(VtdRegisters.VER, 4);
                    dmesg.add(DMAR + String.format("dmar%d: reg_base_addr %x ver %d:%d cap %x ecap %x", unit++,
                            s.a(), (ver >> 4) & 0xf, ver & 0xf, iommu.load(VtdRegisters.CAP, 8),
                            iommu.load(VtdRegisters.ECAP, 8)));
                }
                case DmarTable.TYPE_RMRR -> dmesg.add(DMAR + String.format("RMRR base: %#016x end: %#016x", s.a(), s.b()));
                case DmarTable.TYPE_ATSR -> dmesg.add(DMAR + String.format("ATSR flags: 0x%x", s.flags()));
                case DmarTable.TYPE_SATC -> dmesg.add(DMAR + String.format("SATC flags: 0x%x", s.flags()));
                default -> { }
            }
        }
    }

    /**
     * iommu_probe_device for a device the IOMMU covers: its group (pci_device_group), the
     * "Adding to iommu group" line, and the group's default domain when it has none yet.
     * Returns empty when the VT-d driver is not active or no DRHD covers the device.
     */
    public Optional<IommuGroup> probeDevice(Topology.Function f) {
        if (!driverActive || !covered(f)) {
            return Optional.empty();
        }
        boolean known = groups.groupOf(f.rid()).isPresent();
        IommuGroup g = groups.add(topology, f);
        if (!known) {
            dmesg.add("pci " + f.bdf() + ": Adding to iommu group " + g.id());
        }
        if (g.defaultDomain() == null) {
            g.setDefaultDomain(defaultDomainFor(g));
        }
        if (iommuDriver != null) {
            iommuDriver.probed(g, f);
        }
        return Optional.of(g);
    }

    /** Re-reads the hierarchy (after VFs were enabled or disabled) and probes new devices. */
    public void rescan() {
        topology = machine.topology();
        for (Topology.Function f : topology.functions()) {
            probeDevice(f);
        }
    }

    /** iommu_release_device. */
    public void releaseDevice(RequesterId rid) {
        groups.remove(rid);
    }

    /**
     * probe_alloc_default_domain: a member's own requirement (device_def_domain_type: identity
     * for display-class devices when intel_iommu=igfx_off) else iommu_def_domain_type.
     */
    private DomainType defaultDomainFor(IommuGroup g) {
        DomainType need = null;
        for (RequesterId rid : g.devices()) {
            Optional<Topology.Function> f = topology.function(rid);
            if (f.isPresent() && gfxIdentity && (f.get().classCode() >> 16) == 0x03) {
                need = DomainType.IDENTITY;
            }
        }
        return need != null ? need : defaultType;
    }

    /** dmar_find_matched_drhd_unit: INCLUDE_PCI_ALL, the device's scope, or a bridge scope above it. */
    boolean covered(Topology.Function f) {
        Map<RequesterId, Topology.Function> byRid = DmaAliases.index(topology);
        Topology.Function d = f;
        if (d.virtualFunction()) {
            d = byRid.getOrDefault(d.physicalFunction(), d); // VFs are matched through their PF
        }
        for (DmarTable.Structure s : dmar.of(DmarTable.TYPE_DRHD)) {
            if ((s.flags() & DmarTable.DRHD_INCLUDE_PCI_ALL) != 0) {
                return true;
            }
            for (Topology.Function a = d; a != null; a = DmaAliases.bridgeAbove(byRid, a)) {
                for (DmarTable.Scope sc : s.scopes()) {
                    if ((sc.type() == DmarTable.SCOPE_ENDPOINT || sc.type() == DmarTable.SCOPE_BRIDGE)
                            && sc.startBus() == a.rid().bus() && sc.path().size() == 1 && sc.devfn() == a.rid().devfn()) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    static boolean isPciePort(Topology.Function f) {
        PortType t = f.portType();
        return t == PortType.ROOT_PORT || t == PortType.UPSTREAM_PORT || t == PortType.DOWNSTREAM_PORT
                || t == PortType.RC_EVENT_COLLECTOR;
    }

    /**
     * Where the report says firmware put the DMAR table. A placeholder chosen by viommu (64 KiB
     * below the top of low RAM, where SeaBIOS puts its ACPI tables); real firmware picks its
     * own address, so comparisons ignore it.
     */
    long acpiTableAddress() {
        long ram = machine.ram().size();
        long low = Math.min(ram, ram >= Machine.BELOW_4G_LIMIT ? 0x8000_0000L : Machine.BELOW_4G_LIMIT);
        return low - 0x1_0000;
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
    public DmarTable dmarTable() {
        return dmar;
    }

    /** The PCI hierarchy as this kernel enumerated it (after ACS was enabled). */
    public Topology topology() {
        return topology;
    }

    /** The IOMMU-related boot messages, in order, without timestamps. */
    public List<String> dmesg() {
        return Collections.unmodifiableList(dmesg);
    }

    /** IOMMU groups; empty when the VT-d driver did not initialise. */
    public IommuGroups groups() {
        return groups;
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

    /** The driver bound at the end of boot (only the built-in pcieport binds), if any. */
    public Optional<String> driver(RequesterId rid) {
        return Optional.ofNullable(drivers.get(rid));
    }
}
