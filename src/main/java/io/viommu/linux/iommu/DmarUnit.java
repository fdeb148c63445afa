package io.viommu.linux.iommu;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.MsiAddress;
import io.viommu.vtd.CapReg;
import io.viommu.vtd.ContextEntry;
import io.viommu.vtd.EcapReg;
import io.viommu.vtd.RootEntry;
import io.viommu.vtd.VtdRegisters;
import java.util.BitSet;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * One DMA-remapping unit as the driver sees it (struct intel_iommu): its register block, the
 * shadow of GCMD, queued or register-based invalidation, the root table and context tables it
 * allocated in RAM, and its domain-id bitmap. Legacy (non-scalable) mode only.
 *
 * <p>Domain ids (iommu_init_domains, 6.1): id 0 is always reserved (in caching mode the
 * hardware tags non-present entries with it, and Linux uses it as "no id"); id 1
 * (FLPT_DEFAULT_DID) is reserved only when the unit supports scalable mode. So on QEMU's default
 * legacy-mode unit the first domain gets id 1, on a scalable-mode unit id 2.
 */
final class DmarUnit {
    static final int POLL_LIMIT = 1000;

    /** __iommu_calculate_agaw: the largest SAGAW bit not above width_to_agaw(maxWidth). */
    static int calculateAgaw(long cap, int maxWidth) {
        int sagaw = CapReg.sagaw(cap);
        for (int agaw = (maxWidth - 30) / 9; agaw >= 0; agaw--) {
            if ((sagaw >>> agaw & 1) != 0) {
                return agaw;
            }
        }
        return -1;
    }

    /** IOMMU_WAIT_OP on GSTS: polls until {@code bit} is (not) set; false if it never settles. */
    static boolean waitStatus(UnitRegisters regs, int bit, boolean set) {
        for (int i = 0; i < POLL_LIMIT; i++) {
            boolean on = (regs.readl(VtdRegisters.GSTS) & bit) != 0;
            if (on == set) {
                return true;
            }
        }
        return false;
    }

    final String name;
    final UnitRegisters regs;
    final AddressSpace ram;
    final GuestPages pages;
    final IommuCounters.Tally tally;
    final Consumer<String> log;
    /** dmar_fault's static ratelimit state (one for all units in Linux; the model has one unit). */
    private final Ratelimit faultRatelimit;
    final long cap;
    final long ecap;
    final int agaw;
    final int msagaw;
    final boolean scalable;
    private final int[] gcmd = {0};
    private final BitSet domainIds = new BitSet();
    private Invalidation flush;
    private PhysAddr rootTable;
    private boolean translationEnabled;
    private PhysAddr irTable;

    DmarUnit(String name, UnitRegisters regs, AddressSpace ram, GuestPages pages, IommuCounters.Tally tally,
             Consumer<String> log, boolean scalable, LongSupplier clockNanos) {
        this.name = name;
        this.regs = regs;
        this.ram = ram;
        this.pages = pages;
        this.tally = tally;
        this.log = log;
        this.cap = regs.readq(VtdRegisters.CAP);
        this.ecap = regs.readq(VtdRegisters.ECAP);
        this.agaw = calculateAgaw(cap, 57);
        this.msagaw = calculateAgaw(cap, 64);
        this.scalable = scalable;
        this.faultRatelimit = new Ratelimit("dmar_fault", Ratelimit.DEFAULT_INTERVAL_NANOS,
                Ratelimit.DEFAULT_BURST, clockNanos);
    }

    /**
     * intel_iommu_init_qi: clear old faults ({@link DmarFault}: FSTS, then the fault recording
     * registers CAP.FRO/NFR locate), make sure QI is off
     * (dmar_disable_qi: reads GSTS), then try to enable it. Returns true for queued invalidation.
     */
    boolean initInvalidation() {
        int fsts = DmarFault.handle(regs, cap, log, faultRatelimit);
        if ((fsts & (VtdRegisters.FSTS_PFO | VtdRegisters.FSTS_IQE | 1 << 5 | 1 << 6)) != 0) {
            regs.writel(VtdRegisters.FSTS, fsts & (VtdRegisters.FSTS_PFO | VtdRegisters.FSTS_IQE | 1 << 5 | 1 << 6));
        }
        if (EcapReg.queuedInvalidation(ecap)) {
            int sts = regs.readl(VtdRegisters.GSTS);
            if ((sts & VtdRegisters.GSTS_QIES) != 0) { // left on by firmware or a previous kernel
                gcmd[0] = sts & ~VtdRegisters.GCMD_QIE & ~VtdRegisters.GCMD_SRTP;
                regs.writel(VtdRegisters.GCMD, gcmd[0]);
                waitStatus(regs, VtdRegisters.GSTS_QIES, false);
            }
            QueuedInvalidation q = QueuedInvalidation.enable(regs, ram, pages, tally, log, cap, gcmd);
            if (q != null) {
                flush = q;
                return true;
            }
        }
        flush = new RegisterInvalidation(regs, tally, log, cap, ecap);
        return false;
    }

    /** iommu_init_domains. */
    void initDomains() {
        domainIds.set(0);
        if (scalable) {
            domainIds.set(1); // FLPT_DEFAULT_DID
        }
    }

    /** init_translation_status: true when firmware left translation on (kdump case). */
    boolean translationPreEnabled() {
        return (regs.readl(VtdRegisters.GSTS) & VtdRegisters.GSTS_TES) != 0;
    }

    /** iommu_disable_translation. */
    void disableTranslation() {
        gcmd[0] &= ~VtdRegisters.GCMD_TE;
        regs.writel(VtdRegisters.GCMD, gcmd[0]);
        waitStatus(regs, VtdRegisters.GSTS_TES, false);
        translationEnabled = false;
    }

    /** iommu_alloc_root_entry. */
    boolean allocRootEntry() {
        rootTable = pages.allocate();
        if (rootTable != null) {
            tally.pageTablePages++;
        }
        return rootTable != null;
    }

    /** iommu_flush_write_buffer: only with CAP.RWBF (QEMU never sets it). */
    void flushWriteBuffer() {
        if (!CapReg.rwbf(cap)) {
            return;
        }
        tally.writeBufferFlushes++;
        regs.writel(VtdRegisters.GCMD, gcmd[0] | VtdRegisters.GCMD_WBF);
        waitStatus(regs, VtdRegisters.GCMD_WBF, false);
    }

    /**
     * dmar_set_interrupt / dmar_msi_write + dmar_msi_unmask: the fault-event MSI. The vector is
     * the one the model's kernel would get from the IRQ domain; 0x30 stands in for it.
     */
    void setFaultInterrupt(int apicId) {
        regs.writel(VtdRegisters.FEDATA, FAULT_VECTOR);
        regs.writel(VtdRegisters.FEADDR, (int) MsiAddress.forApic(apicId));
        regs.writel(VtdRegisters.FEUADDR, 0);
        regs.writel(VtdRegisters.FECTL, 0);
        regs.readl(VtdRegisters.FECTL); // readl to flush the posted write
    }

    static final int FAULT_VECTOR = 0x30;

    /**
     * dmar_fault as the fault-event interrupt's handler (request_irq in dmar_set_interrupt):
     * the same walk as at boot, printed through {@code printk}.
     */
    void faultInterrupt(Consumer<String> printk) {
        DmarFault.handle(regs, cap, printk, faultRatelimit);
    }

    /**
     * iommu_set_root_entry: RTADDR, GCMD.SRTP, poll RTPS, then (without CAP.ESRTPS) a global
     * context-cache and a global IOTLB invalidation.
     */
    boolean setRootEntry() {
        long addr = rootTable.value();
        if (scalable) {
            addr |= VtdRegisters.RTADDR_SMT;
        }
        regs.writeq(VtdRegisters.RTADDR, addr);
        regs.writel(VtdRegisters.GCMD, gcmd[0] | VtdRegisters.GCMD_SRTP);
        boolean ok = waitStatus(regs, VtdRegisters.GSTS_RTPS, true);
        if (CapReg.esrtps(cap)) {
            return ok;
        }
        flush.flushContext(0, 0, 0, Invalidation.CCMD_GLOBAL);
        flush.flushIotlb(0, 0, 0, Invalidation.TLB_GLOBAL);
        return ok;
    }

    /** iommu_enable_translation. */
    boolean enableTranslation() {
        gcmd[0] |= VtdRegisters.GCMD_TE;
        regs.writel(VtdRegisters.GCMD, gcmd[0]);
        translationEnabled = waitStatus(regs, VtdRegisters.GSTS_TES, true);
        return translationEnabled;
    }

    boolean translationEnabled() {
        return translationEnabled;
    }

    /** INTR_REMAP_TABLE_REG_SIZE: IRTA.S = 15, 2^16 entries of 16 bytes: 256 pages. */
    static final int IR_TABLE_SIZE_FIELD = 0xf;
    static final int IR_TABLE_PAGES = (1 << (IR_TABLE_SIZE_FIELD + 1)) * 16 / (int) Page.SIZE;

    /**
     * intel_setup_irq_remapping + iommu_set_irq_remapping + iommu_enable_irq_remapping: the
     * (empty) interrupt remapping table from the page allocator, IRTA with its size and EIME,
     * GCMD.SIRTP and a poll of IRTPS, a global interrupt-entry-cache invalidation, then GCMD.IRE
     * (CFI stays clear: compatibility-format interrupts are blocked) and a poll of IRES. Linux
     * does this only with queued invalidation. Returns whether GSTS.IRES is now set.
     */
    boolean enableInterruptRemapping(boolean eim) {
        if (!(flush instanceof QueuedInvalidation q)) {
            return false;
        }
        PhysAddr table = pages.allocateContiguous(IR_TABLE_PAGES);
        if (table == null) {
            return false;
        }
        irTable = table;
        regs.writeq(VtdRegisters.IRTA, table.value() | (eim ? VtdRegisters.IRTA_EIME : 0) | IR_TABLE_SIZE_FIELD);
        regs.writel(VtdRegisters.GCMD, gcmd[0] | VtdRegisters.GCMD_SIRTP);
        if (!waitStatus(regs, VtdRegisters.GSTS_IRTPS, true)) {
            return false;
        }
        q.flushInterruptEntryCacheGlobal();
        gcmd[0] = (gcmd[0] | VtdRegisters.GCMD_IRE) & ~VtdRegisters.GCMD_CFI;
        regs.writel(VtdRegisters.GCMD, gcmd[0]);
        return waitStatus(regs, VtdRegisters.GSTS_IRES, true);
    }

    /** The interrupt remapping table, or null when interrupt remapping was not set up. */
    PhysAddr interruptRemappingTable() {
        return irTable;
    }

    /** INTR_REMAP_TABLE_ENTRIES: which IRTEs are in use (ir_table->bitmap). */
    private final java.util.BitSet irtesInUse = new java.util.BitSet();

    /**
     * alloc_irte: {@code count} (a power of two) consecutive, naturally aligned free entries
     * (bitmap_find_free_region), the lowest first; -1 when the table is full or not set up.
     */
    int allocateIrtes(int count) {
        if (irTable == null) {
            return -1;
        }
        int entries = 1 << (IR_TABLE_SIZE_FIELD + 1);
        for (int index = 0; index + count <= entries; index += count) {
            if (irtesInUse.get(index, index + count).isEmpty()) {
                irtesInUse.set(index, index + count);
                return index;
            }
        }
        return -1;
    }

    /**
     * modify_irte: writes entry {@code index} (low then high quadword, as the 128-bit cmpxchg
     * leaves it) and invalidates the unit's interrupt entry cache for it (qi_flush_iec,
     * index-selective).
     */
    void writeIrte(int index, long lo, long hi) {
        long at = io.viommu.vtd.Irte.address(irTable.value(), index);
        ram.write(PhysAddr.of(at), lo, 8);
        ram.write(PhysAddr.of(at + 8), hi, 8);
        if (flush instanceof QueuedInvalidation q) {
            q.flushInterruptEntryCache(index, 0);
        }
    }

    /** free_irte: the entries cleared (and invalidated) and returned to the bitmap. */
    void freeIrtes(int index, int count) {
        for (int i = index; i < index + count; i++) {
            writeIrte(i, 0, 0);
        }
        irtesInUse.clear(index, index + count);
    }

    Invalidation flush() {
        return flush;
    }

    PhysAddr rootTable() {
        return rootTable;
    }

    /** find_first_zero_bit over the domain ids; -1 when all are used ("No free domain ids"). */
    int allocateDomainId() {
        int num = domainIds.nextClearBit(0);
        if (num >= CapReg.domains(cap)) {
            log.accept("DMAR: " + name + ": No free domain ids");
            return -1;
        }
        domainIds.set(num);
        return num;
    }

    void freeDomainId(int did) {
        domainIds.clear(did);
    }

    /**
     * iommu_context_addr with alloc: the context entry's address, allocating the bus's context
     * table and setting the root entry's present bit on first use; -1 without memory.
     */
    long contextEntryAddress(int bus, int devfn, boolean alloc) {
        long root = RootEntry.address(rootTable.value(), bus);
        long lo = ram.read(PhysAddr.of(root), 8);
        if (!RootEntry.isPresent(lo)) {
            if (!alloc) {
                return -1;
            }
            PhysAddr table = pages.allocate();
            if (table == null) {
                return -1;
            }
            tally.pageTablePages++;
            ram.write(PhysAddr.of(root), table.value() | RootEntry.P, 8);
            lo = ram.read(PhysAddr.of(root), 8);
        }
        return ContextEntry.address(RootEntry.contextTable(lo), devfn);
    }

    /**
     * domain_context_mapping_one (legacy mode): writes a present context entry for
     * {@code bus:devfn} unless one is there already, then tells the hardware: in caching mode a
     * device-selective context invalidation tagged with domain 0 and a domain-selective IOTLB
     * flush of the new domain (the hardware may have cached the non-present entry), otherwise
     * only a write-buffer flush.
     *
     * @return true when an entry was written
     */
    boolean mapContext(DmarDomain domain, int did, int bus, int devfn, boolean ats) {
        long at = contextEntryAddress(bus, devfn, true);
        if (at < 0) {
            return false;
        }
        if (ContextEntry.isPresent(ram.read(PhysAddr.of(at), 8))) {
            return false;
        }
        long lo;
        long hi = (long) did << 8;
        if (domain.passThrough()) {
            // AW must be the largest AGAW the hardware supports; the table pointer is ignored.
            hi |= msagaw & 7;
            lo = (long) ContextEntry.TT_PASS_THROUGH << ContextEntry.TT_SHIFT;
        } else {
            hi |= domain.agaw() & 7;
            int tt = ats ? ContextEntry.TT_DEV_IOTLB : ContextEntry.TT_MULTI_LEVEL;
            lo = domain.pgd().value() | (long) tt << ContextEntry.TT_SHIFT;
        }
        lo |= ContextEntry.P; // context_set_fault_enable leaves FPD clear
        ram.write(PhysAddr.of(at + 8), hi, 8);
        ram.write(PhysAddr.of(at), lo, 8);
        if (CapReg.cachingMode(cap)) {
            flush.flushContext(0, bus << 8 | devfn, 0, Invalidation.CCMD_DEVICE);
            flush.flushIotlb(did, 0, 0, Invalidation.TLB_DSI);
        } else {
            flushWriteBuffer();
        }
        return true;
    }

    /**
     * domain_context_clear_one: clears the entry, then a device-selective context invalidation
     * with the old domain id and a domain-selective IOTLB flush of it.
     */
    void clearContext(int bus, int devfn) {
        long at = contextEntryAddress(bus, devfn, false);
        if (at < 0) {
            return;
        }
        long hi = ram.read(PhysAddr.of(at + 8), 8);
        int didOld = ContextEntry.domainId(hi);
        ram.write(PhysAddr.of(at), 0, 8);
        ram.write(PhysAddr.of(at + 8), 0, 8);
        flush.flushContext(didOld, bus << 8 | devfn, 0, Invalidation.CCMD_DEVICE);
        flush.flushIotlb(didOld, 0, 0, Invalidation.TLB_DSI);
    }

    /**
     * iommu_flush_iotlb_psi: a page-selective invalidation of {@code pages} pages at {@code pfn}
     * with the smallest address mask covering them (widened when {@code pfn} is not aligned to
     * it), domain-selective when the unit has no PSI or the mask exceeds CAP.MAMV.
     *
     * @return the address mask computed (also what the device-TLB invalidation uses)
     */
    int flushIotlbPsi(int did, long pfn, long pageCount, boolean ih) {
        long aligned = Long.highestOneBit(Math.max(1, pageCount));
        if (aligned < pageCount) {
            aligned <<= 1;
        }
        int mask = Long.numberOfTrailingZeros(aligned);
        long bitmask = aligned - 1;
        if ((bitmask & pfn) != 0) {
            long endPfn = pfn + pageCount - 1;
            long shared = ~(pfn ^ endPfn) & ~bitmask;
            mask = shared != 0 ? Long.numberOfTrailingZeros(shared) : 64;
        }
        long addr = pfn << Page.SHIFT;
        if (!CapReg.psi(cap) || mask > CapReg.mamv(cap)) {
            flush.flushIotlb(did, 0, 0, Invalidation.TLB_DSI);
            return mask;
        }
        flush.flushIotlb(did, addr | (ih ? 1L << 6 : 0), mask, Invalidation.TLB_PSI);
        return mask;
    }

    int gcmd() {
        return gcmd[0];
    }
}
