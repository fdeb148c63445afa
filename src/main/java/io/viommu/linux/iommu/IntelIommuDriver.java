package io.viommu.linux.iommu;

import io.viommu.linux.acpi.DmarTable;
import io.viommu.linux.driver.DmaAliases;
import io.viommu.linux.driver.IommuUnit;
import io.viommu.linux.driver.ReservedRegion;
import io.viommu.machine.Machine;
import io.viommu.memory.AddressSpace;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.AtsCapability;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.PcieCapability.PortType;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import io.viommu.vtd.CapReg;
import io.viommu.vtd.EcapReg;
import io.viommu.vtd.VtdRegisters;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The intel-iommu driver of Linux 6.1 (drivers/iommu/intel/{dmar.c,iommu.c}) running on the
 * model: it programs the machine's VT-d unit through its registers and tables in RAM, and
 * keeps the IOMMU domains of the kernel's groups.
 *
 * <p>Boot ({@link #start}, called by the kernel where intel_iommu_init runs init_dmars):
 * <ol>
 * <li>intel_iommu_init_qi: clear old faults, QI off, then the queue page in RAM, IQT 0, IQA,
 *     GCMD.QIE and a poll of GSTS.QIES. "dmar0: Using Queued invalidation" is printed only when
 *     QIES showed; otherwise "Using Register based invalidation";</li>
 * <li>iommu_init_domains (ids 0, and 1 in scalable mode, reserved), init_translation_status,
 *     iommu_alloc_root_entry (a zeroed page), si_domain_init (the identity domain: pass-through
 *     when ECAP.PT, else every RAM page mapped 1:1);</li>
 * <li>iommu_flush_write_buffer, dmar_set_interrupt (FEDATA/FEADDR/FEUADDR, FECTL unmasked),
 *     iommu_set_root_entry (RTADDR, SRTP, poll RTPS, global context and IOTLB invalidation);</li>
 * <li>then, after the kernel has put every device in a group ({@link #probed}),
 *     {@link #finishBoot}: per group in creation order, the default domain, its direct
 *     mappings (RMRRs, the ISA floppy window) and the attach of each device, writing context
 *     entries for the device and each of its DMA aliases; finally GCMD.TE and a poll of TES.</li>
 * </ol>
 * Legacy mode only: with scalable mode selected (x-scalable-mode=on and not intel_iommu=sm_off)
 * {@link #start} returns null, the kernel keeps its old report and devices get no domains.
 */
public final class IntelIommuDriver {
    private final IommuKernel kernel;
    private final Platform platform;
    private final Options options;
    private final AddressSpace ram;
    private final Consumer<String> dmesg;
    private final List<String> messages = new ArrayList<>();
    private final IommuCounters.Tally tally = new IommuCounters.Tally();
    private final GuestPages pages;
    private final DmarUnit unit;
    private final boolean queued;
    private final boolean hwPassThrough;
    private final boolean superpages;
    private final VirtualClock clock = new VirtualClock();
    private final int cpus;
    private DmarDomain siDomain;
    private boolean interruptRemapping;
    private boolean x2apicRemapping;
    private boolean booted;
    private final List<IommuGroup> pendingGroups = new ArrayList<>();
    private final Map<IommuGroup, DmarDomain> defaultDomains = new LinkedHashMap<>();
    private final Map<IommuGroup, DmarDomain> currentDomains = new HashMap<>();
    private final Map<RequesterId, DmarDomain> deviceDomains = new HashMap<>();
    private final Map<DmarDomain, DmaCookie> cookies = new HashMap<>();
    private final DmaApi dma;

    /**
     * What the driver gets from the platform, as Linux's driver does: the CPU's physical address
     * space (the unit's registers at the DRHD base, RAM for its tables), the RAM size, the CPUs
     * (per-CPU IOVA caches, the boot CPU's APIC id for the fault interrupt) and PCI configuration
     * access. Nothing else: the unit is seen only through its registers.
     */
    public record Platform(AddressSpace cpu, long ramSize, int cpus, int bootApicId, ConfigAccess config) {
    }

    /**
     * The parameters of the kernel command line that reach this driver (parsed once by the
     * kernel's command-line parser): intel_iommu_sm, intel_iommu_superpage, iommu_dma_forcedac
     * (iommu.forcedac= or intel_iommu=forcedac) and intremap=off.
     */
    public record Options(boolean scalableModeAllowed, boolean superpage, boolean forcedac,
                          boolean interruptRemappingOff) {
    }

    private IntelIommuDriver(IommuKernel kernel, Platform platform, Options options, Consumer<String> dmesg,
                             long regBase) {
        this.kernel = kernel;
        this.platform = platform;
        this.options = options;
        this.ram = platform.cpu();
        this.dmesg = dmesg;
        this.pages = GuestPages.forRam(ram, platform.ramSize());
        Consumer<String> log = messages::add;
        this.unit = new DmarUnit("dmar0", new UnitRegisters(ram, regBase, tally), ram, pages, tally, log, false,
                clock::nanos);
        this.cpus = Math.max(1, platform.cpus());
        this.queued = unit.initInvalidation();
        this.hwPassThrough = EcapReg.passThrough(unit.ecap);
        this.superpages = options.superpage();
        this.dma = new DmaApi(this, options.forcedac());
    }

    /**
     * alloc_iommu / map_iommu (drivers/iommu/intel/dmar.c): what the kernel learns of a DMAR unit
     * by reading its registers at the DRHD's base address: CAP and ECAP (both all ones means
     * firmware pointed at nothing: warn_invalid_dmar, the unit is dropped), then VER. Null for
     * such a unit.
     */
    public static IommuUnit allocIommu(AddressSpace cpu, String name, long regBase) {
        long cap = cpu.read(PhysAddr.of(regBase + VtdRegisters.CAP), 8);
        long ecap = cpu.read(PhysAddr.of(regBase + VtdRegisters.ECAP), 8);
        if (cap == -1L && ecap == -1L) {
            return null;
        }
        int ver = (int) cpu.read(PhysAddr.of(regBase + VtdRegisters.VER), 4);
        return new IommuUnit(name, regBase, ver, cap, ecap);
    }

    /**
     * init_dmars for the (single) DRHD of the kernel's DMAR table. Prints the invalidation line
     * (and, in caching mode without scalable mode, "VT-d Scalable Mode not enabled, no PASID
     * allocation") through {@code dmesg}. Returns null when there is no DRHD, its registers read
     * as all ones, or scalable mode would be used (not modelled).
     */
    public static IntelIommuDriver start(IommuKernel kernel, Platform platform, Options options,
                                         Consumer<String> dmesg) {
        DmarTable dmar = kernel.dmarTable();
        if (dmar == null || dmar.of(DmarTable.TYPE_DRHD).isEmpty()) {
            return null;
        }
        long base = dmar.of(DmarTable.TYPE_DRHD).get(0).a();
        IommuUnit hw = allocIommu(platform.cpu(), "dmar0", base);
        if (hw == null || options.scalableModeAllowed() && EcapReg.scalableMode(hw.ecap())) {
            return null;
        }
        IntelIommuDriver d = new IntelIommuDriver(kernel, platform, options, dmesg, base);
        d.initDmars();
        return d;
    }

    private void initDmars() {
        dmesg.accept("DMAR: " + unit.name + ": " + (queued ? "Using Queued invalidation" : "Using Register based invalidation"));
        enableInterruptRemapping();
        unit.initDomains();
        if (unit.translationPreEnabled()) {
            unit.disableTranslation();
            dmesg.accept("DMAR: Translation was enabled for " + unit.name + " but we are not in kdump mode");
        }
        unit.allocRootEntry();
        siDomain = new DmarDomain(DomainType.IDENTITY, unit, hwPassThrough, superpages);
        if (!hwPassThrough) {
            identityMapRam(siDomain);
        }
        // register_pasid_allocator: caching mode wants a virtual command interface, which needs
        // scalable mode.
        if (CapReg.cachingMode(unit.cap)) {
            dmesg.accept("DMAR: VT-d Scalable Mode not enabled, no PASID allocation");
        }
        unit.flushWriteBuffer();
        kernel.requestIrq(DmarUnit.FAULT_VECTOR, () -> unit.faultInterrupt(dmesg));
        unit.setFaultInterrupt(platform.bootApicId());
        unit.setRootEntry();
    }

    /**
     * Interrupt remapping (drivers/iommu/intel/irq_remapping.c), when the DMAR table's
     * INTR_REMAP flag and ECAP.IR offer it and the command line does not say intremap=off:
     * extended (x2APIC) mode when the CPU has x2apic, the table does not opt out and ECAP.EIM
     * is set (intel_prepare_irq_remapping), then the table and GCMD.IRE through the registers.
     * Linux does this at APIC setup, before intel_iommu_init; here it follows the QI set-up,
     * which it needs, and the unit ends in the same state. Linux 6.1 under QEMU's TCG panics
     * with interrupt remapping (see io.viommu.linux.Kernel), so there is no captured line to match:
     * "DMAR-IR: Enabled IRQ remapping in ... mode" is Linux's text for the outcome.
     */
    private void enableInterruptRemapping() {
        DmarTable dmar = kernel.dmarTable();
        if (options.interruptRemappingOff() || dmar == null || !dmar.interruptRemapping()
                || !EcapReg.interruptRemapping(unit.ecap)) {
            return;
        }
        boolean eim = !dmar.x2apicOptOut() && EcapReg.extendedInterruptMode(unit.ecap);
        interruptRemapping = unit.enableInterruptRemapping(eim);
        x2apicRemapping = eim;
        if (interruptRemapping) {
            dmesg.accept("DMAR-IR: Enabled IRQ remapping in " + (eim ? "x2apic" : "xapic") + " mode");
        }
    }

    /** si_domain_init without pass-through: every RAM range mapped 1:1, read and write. */
    private void identityMapRam(DmarDomain d) {
        long size = platform.ramSize();
        long below = Math.min(size, Machine.BELOW_4G_LIMIT);
        d.domainMapping(0, 0, below >>> Page.SHIFT, DmarDomain.PTE_R | DmarDomain.PTE_W);
        if (size > below) {
            long pfn = 0x1_0000_0000L >>> Page.SHIFT;
            d.domainMapping(pfn, pfn, (size - below) >>> Page.SHIFT, DmarDomain.PTE_R | DmarDomain.PTE_W);
        }
    }

    // ---- probing and default domains ----

    /**
     * iommu_probe_device's part that reaches the driver: during boot groups are queued and get
     * their default domains in {@link #finishBoot} (bus_iommu_probe order); afterwards (an
     * SR-IOV VF) the device is attached at once.
     */
    public void probed(IommuGroup group, Topology.Function f) {
        if (!booted) {
            if (!pendingGroups.contains(group)) {
                pendingGroups.add(group);
            }
            return;
        }
        DmarDomain def = defaultDomains.get(group);
        if (def == null) {
            setupGroup(group);
        } else if (!deviceDomains.containsKey(f.rid())) {
            attachDevice(currentDomains.getOrDefault(group, def), f.rid());
        }
    }

    /** The end of intel_iommu_init: default domains for the queued groups, then TE. */
    public void finishBoot() {
        booted = true;
        for (IommuGroup g : pendingGroups) {
            setupGroup(g);
        }
        pendingGroups.clear();
        unit.enableTranslation();
    }

    /** probe_alloc_default_domain, iommu_group_create_direct_mappings, __iommu_group_dma_attach. */
    private void setupGroup(IommuGroup g) {
        DomainType type = g.defaultDomain() == null ? kernel.defaultDomainType() : g.defaultDomain();
        DmarDomain d = allocate(type);
        defaultDomains.put(g, d);
        if (type.isDma()) {
            createDirectMappings(g, d);
            DmaCookie cookie = new DmaCookie(d, cpus, type == DomainType.DMA_FQ, clock, tally);
            reserveRegions(g, cookie);
            cookies.put(d, cookie);
        }
        attachGroupInternal(g, d);
    }

    private DmarDomain allocate(DomainType type) {
        if (type == DomainType.IDENTITY) {
            return siDomain;
        }
        return new DmarDomain(type, unit, false, superpages);
    }

    private void createDirectMappings(IommuGroup g, DmarDomain d) {
        for (ReservedRegion r : reservedRegions(g)) {
            if (r.type() == ReservedRegion.Type.DIRECT || r.type() == ReservedRegion.Type.DIRECT_RELAXABLE) {
                long start = r.start() & -Page.SIZE;
                long end = (r.end() + Page.SIZE) & -Page.SIZE;
                for (long a = start; a < end; a += Page.SIZE) {
                    if (d.iovaToPhys(new io.viommu.memory.Iova(a)).isPresent()) {
                        continue; // iommu_create_device_direct_mappings skips what is mapped
                    }
                    long run = a;
                    while (run < end && d.iovaToPhys(new io.viommu.memory.Iova(run)).isEmpty()) {
                        run += Page.SIZE;
                    }
                    d.mapPages(a, a, run - a, DmarDomain.PTE_R | DmarDomain.PTE_W);
                    a = run - Page.SIZE;
                }
            }
        }
    }

    /** iova_reserve_iommu_regions: every reserved region is kept out of the IOVA allocator. */
    private void reserveRegions(IommuGroup g, DmaCookie cookie) {
        for (ReservedRegion r : reservedRegions(g)) {
            cookie.iovad.reserve(r.start() >>> Page.SHIFT, r.end() >>> Page.SHIFT);
        }
    }

    // ---- attach / detach ----

    private int attachGroupInternal(IommuGroup g, DmarDomain d) {
        for (RequesterId rid : g.devices()) {
            int rc = attachDevice(d, rid);
            if (rc != 0) {
                return rc;
            }
        }
        currentDomains.put(g, d);
        return 0;
    }

    /** intel_iommu_attach_device: off the old domain (dmar_remove_one_dev_info), onto the new. */
    private int attachDevice(DmarDomain d, RequesterId rid) {
        Topology.Function f = kernel.topology().function(rid).orElse(null);
        if (f == null) {
            return -19;
        }
        DmarDomain old = deviceDomains.get(rid);
        if (old == d) {
            return 0;
        }
        if (old != null) {
            removeDevice(old, f);
        }
        if (!d.attachIommu()) {
            return -28; // -ENOSPC: no free domain id
        }
        List<RequesterId> aliases = aliases(f);
        boolean atsSupported = atsSupported(f);
        for (RequesterId a : aliases) {
            unit.mapContext(d, d.domainId(), a.bus(), a.devfn(), atsSupported && a.equals(rid));
        }
        boolean atsEnabled = false;
        int qdep = 0;
        if (atsSupported && !d.passThrough()) {
            int off = f.capability(AtsCapability.ID, true).map(Topology.Capability::offset).orElse(-1);
            long capReg = platform.config().read(rid, off + AtsCapability.CAPABILITY, 2);
            if ((capReg & AtsCapability.CAP_PAGE_ALIGNED_REQUEST) != 0) {
                platform.config().write(rid, off + AtsCapability.CONTROL, AtsCapability.CONTROL_ENABLE, 2);
                atsEnabled = true;
            }
            qdep = (int) (capReg & 0x1f);
        }
        // iommu_enable_pci_caps: "If DIT is not set, PFSID will be treated as reserved, which should
        // be set to 0" (QEMU 7.2 rejects a device-TLB descriptor with PFSID bits as reserved)
        RequesterId pf = f.virtualFunction() && f.physicalFunction() != null ? f.physicalFunction() : rid;
        int pfsid = EcapReg.deviceTlbThrottling(unit.ecap) ? pf.value() : 0;
        d.addDevice(new DmarDomain.DeviceInfo(rid, atsEnabled, qdep, pfsid), aliases);
        deviceDomains.put(rid, d);
        return 0;
    }

    private void removeDevice(DmarDomain d, Topology.Function f) {
        DmarDomain.DeviceInfo info = d.deviceInfos().get(f.rid());
        if (info != null && info.atsEnabled()) { // iommu_disable_dev_iotlb
            int off = f.capability(AtsCapability.ID, true).map(Topology.Capability::offset).orElse(-1);
            platform.config().write(f.rid(), off + AtsCapability.CONTROL, 0, 2);
        }
        List<RequesterId> aliases = aliases(f);
        for (RequesterId a : aliases) {
            unit.clearContext(a.bus(), a.devfn());
        }
        d.removeDevice(f.rid(), aliases);
        d.detachIommu();
        deviceDomains.remove(f.rid());
    }

    /** pci_for_each_dma_alias: the requester ids that get a context entry, distinct, in walk order. */
    List<RequesterId> aliases(Topology.Function f) {
        List<RequesterId> out = new ArrayList<>();
        for (DmaAliases.Step s : DmaAliases.walk(kernel.topology(), f)) {
            if (!out.contains(s.alias())) {
                out.add(s.alias());
            }
        }
        return out;
    }

    /**
     * info->ats_supported: ECAP.DT, an ATS capability, and dmar_ats_supported (integrated
     * devices always; behind a root port only if an ATSR covers it; never through a PCI or
     * PCIe-to-PCI bridge).
     */
    private boolean atsSupported(Topology.Function f) {
        if (!EcapReg.deviceIotlb(unit.ecap) || !queued || f.capability(AtsCapability.ID, true).isEmpty()) {
            return false;
        }
        Topology topo = kernel.topology();
        Topology.Function d = f;
        if (d.virtualFunction() && d.physicalFunction() != null) {
            d = topo.function(d.physicalFunction()).orElse(d);
        }
        Topology.Function bridge = null;
        for (Topology.Function cur = d; ; ) {
            if (cur.parentBridge() == null) {
                return bridge == null ? true : atsrCovers(bridge);
            }
            bridge = topo.function(cur.parentBridge()).orElse(null);
            if (bridge == null || !bridge.isExpress() || bridge.portType() == PortType.PCIE_TO_PCI_BRIDGE) {
                return false;
            }
            if (bridge.portType() == PortType.ROOT_PORT) {
                return atsrCovers(bridge);
            }
            cur = bridge;
        }
    }

    private boolean atsrCovers(Topology.Function rootPort) {
        for (DmarTable.Structure s : kernel.dmarTable().of(DmarTable.TYPE_ATSR)) {
            if ((s.flags() & DmarTable.ATSR_ALL_PORTS) != 0) {
                return true;
            }
            for (DmarTable.Scope sc : s.scopes()) { // for_each_dev_scope: tmp == &bridge->dev
                if (DeviceScope.resolve(kernel.topology(), sc).filter(d -> d.rid().equals(rootPort.rid())).isPresent()) {
                    return true;
                }
            }
        }
        return false;
    }

    // ---- the IOMMU API for the rest of the kernel (VFIO) ----

    /**
     * iommu_domain_alloc / intel_iommu_domain_alloc: a new DMA, DMA-FQ or unmanaged domain with
     * an empty top-level table, or the shared identity domain. Empty for BLOCKED (6.1's
     * intel-iommu has no blocking domain type).
     */
    public Optional<IommuDomain> allocateDomain(DomainType type) {
        if (type == DomainType.BLOCKED) {
            return Optional.empty();
        }
        return Optional.of(allocate(type));
    }

    /**
     * iommu_attach_group: every device of the group (and its DMA aliases) is moved to
     * {@code domain}: the old context entries are cleared and invalidated, new ones written.
     * Returns 0, {@code -EINVAL} for a domain of another driver, {@code -ENOSPC} without a free
     * domain id.
     */
    public int attachGroup(IommuGroup group, IommuDomain domain) {
        if (!(domain instanceof DmarDomain d) || d.unit() != unit) {
            return -22;
        }
        return attachGroupInternal(group, d);
    }

    /**
     * iommu_domain_free / intel_iommu_domain_free: the page tables of a domain allocated by
     * {@link #allocateDomain} go back to the page allocator. Returns 0, or -EBUSY while a device
     * is still attached, -EINVAL for the identity domain, a default domain or another driver's
     * domain (those are never freed by their users).
     */
    public int freeDomain(IommuDomain domain) {
        if (!(domain instanceof DmarDomain d) || d.unit() != unit || d == siDomain
                || defaultDomains.containsValue(d)) {
            return -22;
        }
        if (!d.attachedDevices().isEmpty() || currentDomains.containsValue(d)) {
            return -16;
        }
        d.freeTables();
        return 0;
    }

    /** iommu_detach_group: the group goes back to its default domain. */
    public void detachGroup(IommuGroup group) {
        DmarDomain def = defaultDomains.get(group);
        if (def != null) {
            attachGroupInternal(group, def);
        }
    }

    /** The domain the group is attached to now (null if it has none). */
    public IommuDomain domainOf(IommuGroup group) {
        return currentDomains.get(group);
    }

    /** The group's default domain (null before boot finished or for groups without one). */
    public IommuDomain defaultDomainOf(IommuGroup group) {
        return defaultDomains.get(group);
    }

    /** iommu_get_group_resv_regions: the one rule, {@link ReservedRegions#ofGroup}. */
    public List<ReservedRegion> reservedRegions(IommuGroup group) {
        return ReservedRegions.ofGroup(kernel.topology(), kernel.dmarTable(), group.devices());
    }

    /**
     * iommu_capable(IOMMU_CAP_INTR_REMAP) / irq_remapping_enabled: whether this driver enabled
     * interrupt remapping on the unit ({@link #enableInterruptRemapping}), read back from
     * GSTS.IRES, so it is what the hardware does, not what was asked.
     */
    public boolean hasInterruptRemapping() {
        return interruptRemapping && (unit.regs.readl(VtdRegisters.GSTS)
                & VtdRegisters.GSTS_IRES) != 0;
    }

    /**
     * intel_irq_remapping_alloc + intel_irq_remapping_prepare_irte for a PCI device's MSI
     * vectors: {@code count} consecutive IRTEs (alloc_irte), each present, fixed delivery, edge,
     * physical destination {@code apicId} (IRTE_DEST: bits 15:8 of DST in xAPIC mode, all 32 in
     * x2APIC mode), redirection hint set, vector {@code vector + i}, and source validation of
     * the device's requester id (set_msi_sid: SVT 01, SQ 00), written with an index-selective
     * interrupt-entry-cache invalidation. Returns the first index (the MSI's handle; vector i
     * uses subhandle i), or -1 (no interrupt remapping, or the table is full).
     */
    public int allocateMsiIrtes(RequesterId rid, int vector, int apicId, int count) {
        if (!hasInterruptRemapping()) {
            return -1;
        }
        int index = unit.allocateIrtes(count);
        if (index < 0) {
            return -1;
        }
        long dest = x2apicRemapping ? apicId & 0xffff_ffffL : (long) (apicId & 0xff) << 8;
        long hi = (long) io.viommu.vtd.Irte.SVT_REQUESTER_ID << 18 | rid.value() & 0xffff;
        for (int i = 0; i < count; i++) {
            long lo = io.viommu.vtd.Irte.P | io.viommu.vtd.Irte.RH | (long) ((vector + i) & 0xff) << 16 | dest << 32;
            unit.writeIrte(index + i, lo, hi);
        }
        return index;
    }

    /**
     * intel_irq_remapping_alloc (X86_IRQ_ALLOC_TYPE_IOAPIC) + intel_irq_remapping_prepare_irte
     * for an I/O APIC pin: one IRTE, present, fixed delivery, physical destination
     * {@code apicId}, redirection hint, vector {@code vector}, trigger mode edge (prepare_irte:
     * the pin's level trigger lives in its redirection entry), and source validation of the I/O
     * APIC's requester id from the DMAR table's I/O APIC scope (set_ioapic_sid: SVT 01, SQ 00).
     * Returns the index, or -1 (no interrupt remapping, or the table is full).
     */
    public int allocateIoapicIrte(int vector, int apicId, int ioapicSid) {
        if (!hasInterruptRemapping()) {
            return -1;
        }
        int index = unit.allocateIrtes(1);
        if (index < 0) {
            return -1;
        }
        long dest = x2apicRemapping ? apicId & 0xffff_ffffL : (long) (apicId & 0xff) << 8;
        long hi = (long) io.viommu.vtd.Irte.SVT_REQUESTER_ID << 18 | ioapicSid & 0xffff;
        unit.writeIrte(index, io.viommu.vtd.Irte.P | io.viommu.vtd.Irte.RH | (long) (vector & 0xff) << 16 | dest << 32, hi);
        return index;
    }

    /** free_irte: the entries cleared, invalidated and released. */
    public void freeIrtes(int index, int count) {
        unit.freeIrtes(index, count);
    }

    // ---- state for the DMA API, tests and reports ----

    /** The DMA domain behind a device's DMA API calls, or null (identity, no group: dma-direct). */
    DmaCookie cookieOf(RequesterId rid) {
        Optional<IommuGroup> g = kernel.groups().groupOf(rid);
        if (g.isEmpty()) {
            return null;
        }
        DmarDomain def = defaultDomains.get(g.get());
        return def == null ? null : cookies.get(def);
    }

    IommuCounters.Tally tally() {
        return tally;
    }

    int cpus() {
        return cpus;
    }

    /** The DMA API of this kernel (dma_map_* for drivers). */
    public DmaApi dma() {
        return dma;
    }

    public IommuCounters counters() {
        return tally.snapshot();
    }

    public VirtualClock clock() {
        return clock;
    }

    public GuestPages pages() {
        return pages;
    }

    /** True when queued invalidation is in use (GSTS.QIES was seen). */
    public boolean queuedInvalidation() {
        return queued;
    }

    /** Where the root table is in RAM. */
    public PhysAddr rootTable() {
        return unit.rootTable();
    }

    /** The IOVA allocator of a DMA domain (tests, benchmarks); null for other domains. */
    public IovaDomain iovaDomain(IommuDomain d) {
        DmaCookie c = cookies.get(d);
        return c == null ? null : c.iovad;
    }

    /** Kernel messages after boot (PTE warnings, invalidation errors), in order. */
    public List<String> messages() {
        return List.copyOf(messages);
    }

    /** The identity domain every identity group shares (si_domain). */
    public IommuDomain identityDomain() {
        return siDomain;
    }

}
