package io.viommu.linux.iommu;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.CapReg;
import io.viommu.vtd.EcapReg;
import io.viommu.vtd.SlPte;
import io.viommu.vtd.notify.Permission;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * struct dmar_domain with the second-level page-table code of 6.1
 * drivers/iommu/intel/iommu.c: pfn_to_dma_pte, __domain_mapping (with superpages where both
 * addresses are aligned and CAP.SLLPS allows), dma_pte_clear_level (page-table pages an unmap
 * covers entirely are freed, after the IOTLB flush), intel_iommu_map/unmap, the IOTLB syncs.
 *
 * <p>PTE layout (VT-d spec 9.8): R 0, W 1, PS 7 (superpage), SNP 11, address 51:12. A
 * non-leaf entry points to the next table with R|W set. Levels: {@code agaw + 2}.
 *
 * <p>Deviation kept small on purpose: Linux creates a DMA domain 5-level (57-bit) and "knocks
 * out" top levels when it attaches to a narrower unit; here a domain is created at the width of
 * the (single) unit it will be attached to, which gives the same tables.
 */
final class DmarDomain implements IommuDomain {
    static final long PTE_R = SlPte.R;
    static final long PTE_W = SlPte.W;
    static final long PTE_LARGE = SlPte.PS;
    static final long PTE_SNP = SlPte.SNP;
    static final long PTE_ADDR = 0x000f_ffff_ffff_f000L;
    private static final int STRIDE = 9;

    /** struct device_domain_info, as far as invalidation needs it. */
    record DeviceInfo(RequesterId rid, boolean atsEnabled, int atsQueueDepth, int pfsid) {
    }

    private final DomainType type;
    private final DmarUnit unit;
    private final AddressSpace ram;
    private final GuestPages pages;
    private final IommuCounters.Tally tally;
    private final boolean passThrough;
    private final int agaw;
    private final int gaw;
    private final int superpage; // domain->iommu_superpage: 0, 1 (2 MiB) or 2 (+1 GiB)
    private final PhysAddr pgd;
    private int did;
    private int refcnt;
    private long maxAddr;
    private final Map<RequesterId, DeviceInfo> devices = new LinkedHashMap<>();
    private final Set<RequesterId> programmed = new LinkedHashSet<>();

    DmarDomain(DomainType type, DmarUnit unit, boolean passThrough, boolean superpagesAllowed) {
        this.type = type;
        this.unit = unit;
        this.ram = unit.ram;
        this.pages = unit.pages;
        this.tally = unit.tally;
        this.passThrough = passThrough;
        this.agaw = unit.agaw;
        this.gaw = Math.min(30 + 9 * agaw, CapReg.mgaw(unit.cap));
        this.superpage = superpagesAllowed ? 32 - Integer.numberOfLeadingZeros(CapReg.superPages(unit.cap)) : 0;
        // md_domain_init allocates the top-level table even for the pass-through si_domain.
        this.pgd = pages.allocate();
        if (pgd == null) {
            throw new IllegalStateException("out of page-table memory");
        }
        tally.pageTablePages++;
    }

    @Override
    public DomainType type() {
        return type;
    }

    @Override
    public int domainId() {
        return did;
    }

    boolean passThrough() {
        return passThrough;
    }

    int agaw() {
        return agaw;
    }

    int levels() {
        return agaw + 2;
    }

    PhysAddr pgd() {
        return pgd;
    }

    DmarUnit unit() {
        return unit;
    }

    @Override
    public Iova apertureEnd() {
        return new Iova((1L << gaw) - 1);
    }

    @Override
    public Set<RequesterId> attachedDevices() {
        return Collections.unmodifiableSet(programmed);
    }

    Map<RequesterId, DeviceInfo> deviceInfos() {
        return devices;
    }

    /** domain_attach_iommu: the first attach takes a domain id, later ones count references. */
    boolean attachIommu() {
        if (refcnt > 0) {
            refcnt++;
            return true;
        }
        int num = unit.allocateDomainId();
        if (num < 0) {
            return false;
        }
        did = num;
        refcnt = 1;
        return true;
    }

    /** domain_detach_iommu. */
    void detachIommu() {
        if (refcnt > 0 && --refcnt == 0) {
            unit.freeDomainId(did);
            did = 0;
        }
    }

    void addDevice(DeviceInfo info, List<RequesterId> aliases) {
        devices.put(info.rid(), info);
        programmed.addAll(aliases);
    }

    void removeDevice(RequesterId rid, List<RequesterId> aliases) {
        devices.remove(rid);
        aliases.forEach(programmed::remove);
    }

    boolean hasIotlbDevice() {
        for (DeviceInfo d : devices.values()) {
            if (d.atsEnabled()) {
                return true;
            }
        }
        return false;
    }

    // ---- page tables ----

    static int levelShift(int level) {
        return (level - 1) * STRIDE; // in pfns
    }

    static int levelOffset(long pfn, int level) {
        return (int) (pfn >>> levelShift(level)) & 0x1ff;
    }

    private boolean pfnSupported(long pfn) {
        int width = 30 + 9 * agaw - 12;
        return width >= 64 || (pfn >>> width) == 0;
    }

    /**
     * pfn_to_dma_pte: the address of the PTE for {@code pfn} at {@code targetLevel}, allocating
     * tables on the way; with {@code targetLevel} 0 it stops at the first leaf or non-present
     * entry and reports the level in {@code outLevel[0]}. -1 when a table cannot be allocated.
     */
    long pfnToPte(long pfn, int targetLevel, int[] outLevel) {
        int level = levels();
        long parent = pgd.value();
        long pte;
        while (true) {
            pte = parent + 8L * levelOffset(pfn, level);
            long v = ram.read(PhysAddr.of(pte), 8);
            if (targetLevel == 0 && ((v & PTE_LARGE) != 0 || !present(v))) {
                break;
            }
            if (level == targetLevel) {
                break;
            }
            if (!present(v)) {
                PhysAddr t = pages.allocate();
                if (t == null) {
                    return -1;
                }
                tally.pageTablePages++;
                v = t.value() | PTE_R | PTE_W;
                ram.write(PhysAddr.of(pte), v, 8);
            }
            if (level == 1) {
                break;
            }
            parent = v & PTE_ADDR;
            level--;
        }
        if (outLevel != null) {
            outLevel[0] = level;
        }
        return pte;
    }

    static boolean present(long v) {
        return (v & (PTE_R | PTE_W)) != 0;
    }

    /** hardware_largepage_caps. */
    private int largepageLevel(long iovPfn, long physPfn, long pages) {
        int support = superpage;
        long merge = iovPfn | physPfn;
        int level = 1;
        while (support > 0 && (merge & 0x1ff) == 0) {
            pages >>>= STRIDE;
            if (pages == 0) {
                break;
            }
            merge >>>= STRIDE;
            level++;
            support--;
        }
        return level;
    }

    /**
     * __domain_mapping. Returns 0, -EINVAL (beyond the tables or no permission) or -ENOMEM.
     * A PTE already in use is left as it is and reported ("DMA PTE ... already set"), as 6.1
     * does (a WARN, not an error).
     */
    int domainMapping(long iovPfn, long physPfn, long nrPages, long prot) {
        if (!pfnSupported(iovPfn + nrPages - 1)) {
            return -22;
        }
        if ((prot & (PTE_R | PTE_W)) == 0) {
            return -22;
        }
        long attr = prot & (PTE_R | PTE_W | PTE_SNP);
        while (nrPages > 0) {
            int lvl = largepageLevel(iovPfn, physPfn, nrPages);
            int[] got = {0};
            long pte = pfnToPte(iovPfn, lvl, got);
            if (pte < 0) {
                return -12;
            }
            long lvlPages = 1L << levelShift(lvl);
            long pteval = (physPfn << Page.SHIFT) | attr;
            if (lvl > 1) {
                pteval |= PTE_LARGE;
                long toNextTable = 512 - ((pte & 0xfff) >>> 3);
                long remove = Math.min(nrPages, toNextTable * lvlPages);
                switchToSuperPage(iovPfn, iovPfn + remove - 1, lvl);
            }
            // Fill PTEs up to the end of this table page (or of the run at this level).
            do {
                long old = ram.read(PhysAddr.of(pte), 8);
                if (old != 0) {
                    unit.log.accept(String.format("DMAR: ERROR: DMA PTE for vPFN 0x%x already set (to %x not %x)",
                            iovPfn, old, pteval));
                } else {
                    ram.write(PhysAddr.of(pte), pteval, 8);
                }
                nrPages -= lvlPages;
                iovPfn += lvlPages;
                physPfn += lvlPages;
                pteval += lvlPages << Page.SHIFT;
                pte += 8;
            } while (nrPages > 0 && (pte & 0xfff) != 0 && !(lvl > 1 && nrPages < lvlPages));
        }
        return 0;
    }

    /**
     * switch_to_super_page: small-page tables in the way of new superpages are freed, with a
     * page-selective flush of the range they covered.
     */
    private void switchToSuperPage(long startPfn, long endPfn, int level) {
        long lvlPages = 1L << levelShift(level);
        while (startPfn <= endPfn) {
            int[] got = {0};
            long pte = walkTo(startPfn, level);
            if (pte >= 0) {
                long v = ram.read(PhysAddr.of(pte), 8);
                if (present(v) && (v & PTE_LARGE) == 0) {
                    List<PhysAddr> freed = new ArrayList<>();
                    listPageTables(level - 1, v & PTE_ADDR, freed);
                    ram.write(PhysAddr.of(pte), 0, 8);
                    if (did != 0) {
                        unit.flushIotlbPsi(did, startPfn, lvlPages, false);
                    }
                    freePages(freed);
                }
            }
            startPfn += lvlPages;
        }
    }

    /** The PTE at {@code level} for {@code pfn} without allocating; -1 when a table is missing. */
    private long walkTo(long pfn, int level) {
        int l = levels();
        long parent = pgd.value();
        while (true) {
            long pte = parent + 8L * levelOffset(pfn, l);
            if (l == level) {
                return pte;
            }
            long v = ram.read(PhysAddr.of(pte), 8);
            if (!present(v) || (v & PTE_LARGE) != 0) {
                return -1;
            }
            parent = v & PTE_ADDR;
            l--;
        }
    }

    /** dma_pte_list_pagetables: every table page at and under {@code table} (a level-{@code level} table). */
    private void listPageTables(int level, long table, List<PhysAddr> out) {
        out.add(new PhysAddr(table));
        if (level <= 1) {
            return;
        }
        for (int i = 0; i < 512; i++) {
            long v = ram.read(PhysAddr.of(table + 8L * i), 8);
            if (present(v) && (v & PTE_LARGE) == 0) {
                listPageTables(level - 1, v & PTE_ADDR, out);
            }
        }
    }

    /**
     * dma_pte_clear_level from the top: clears leaf PTEs in [startPfn, lastPfn]; an entry whose
     * whole span is inside the range is cleared and the tables under it go to {@code freelist}.
     */
    void unmapRange(long startPfn, long lastPfn, List<PhysAddr> freelist) {
        clearLevel(levels(), pgd.value(), 0, startPfn, lastPfn, freelist);
    }

    private void clearLevel(int level, long table, long pfn, long startPfn, long lastPfn, List<PhysAddr> freelist) {
        pfn = Math.max(startPfn, pfn);
        int idx = levelOffset(pfn, level);
        long levelSize = 1L << levelShift(level);
        do {
            long pte = table + 8L * idx;
            long levelPfn = pfn & -levelSize;
            long v = ram.read(PhysAddr.of(pte), 8);
            if (present(v)) {
                if (startPfn <= levelPfn && lastPfn >= levelPfn + levelSize - 1) {
                    if (level > 1 && (v & PTE_LARGE) == 0) {
                        listPageTables(level - 1, v & PTE_ADDR, freelist);
                    }
                    ram.write(PhysAddr.of(pte), 0, 8);
                } else if (level > 1 && (v & PTE_LARGE) == 0) {
                    clearLevel(level - 1, v & PTE_ADDR, levelPfn, startPfn, lastPfn, freelist);
                }
            }
            pfn = levelPfn + levelSize;
            idx++;
        } while (idx < 512 && pfn <= lastPfn && pfn != 0);
    }

    void freePages(List<PhysAddr> freelist) {
        for (PhysAddr p : freelist) {
            pages.free(p);
            tally.pageTablePagesFreed++;
        }
        freelist.clear();
    }

    /**
     * domain_exit for a domain no device uses any more: every table page below the top level
     * (dma_pte_clear_range over the whole address width collects them), then the top level.
     */
    void freeTables() {
        List<PhysAddr> freelist = new ArrayList<>();
        unmapRange(0, (1L << (gaw - 12)) - 1, freelist);
        freelist.add(pgd);
        freePages(freelist);
    }

    // ---- the IOMMU API ----

    @Override
    public int map(Iova iova, PhysAddr paddr, long size, Permission perm) {
        if (!type.isDma() && type != DomainType.UNMANAGED) {
            return -22; // not a paging domain (iommu_map checks __IOMMU_DOMAIN_PAGING)
        }
        if (((iova.value() | paddr.value() | size) & (Page.SIZE - 1)) != 0 || size <= 0) {
            unit.log.accept(String.format("iommu: unaligned: iova 0x%x pa 0x%x size 0x%x min_pagesz 0x1000",
                    iova.value(), paddr.value(), size));
            return -22;
        }
        return mapPages(iova.value(), paddr.value(), size, protOf(perm));
    }

    long protOf(Permission perm) {
        // IOMMU_CACHE is always requested on x86; SNP only when the unit snoops (ECAP.SC).
        long prot = (perm.readable() ? PTE_R : 0) | (perm.writable() ? PTE_W : 0);
        if (EcapReg.snoopControl(unit.ecap)) {
            prot |= PTE_SNP;
        }
        return prot;
    }

    /** intel_iommu_map + iotlb_sync_map (__mapping_notify_one). */
    int mapPages(long iova, long hpa, long size, long prot) {
        int rc = mapNoNotify(iova, hpa, size, prot);
        if (rc == 0) {
            notifyMapped(iova >>> Page.SHIFT, size >>> Page.SHIFT);
        }
        return rc;
    }

    /** intel_iommu_map alone (iommu_map_sg maps several runs, then syncs once). */
    int mapNoNotify(long iova, long hpa, long size, long prot) {
        long maxAddr = iova + size;
        if (this.maxAddr < maxAddr) {
            if ((1L << gaw) < maxAddr || maxAddr < 0) {
                unit.log.accept(String.format("DMAR: %s: iommu width (%d) is not sufficient for the mapped address (%x)",
                        "intel_iommu_map", gaw, maxAddr));
                return -14; // -EFAULT
            }
            this.maxAddr = maxAddr;
        }
        tally.maps++;
        return domainMapping(iova >>> Page.SHIFT, hpa >>> Page.SHIFT, size >>> Page.SHIFT, prot);
    }

    /**
     * __mapping_notify_one: a new mapping needs an IOTLB flush only when the hardware may cache
     * non-present entries (caching mode, second-level tables); otherwise a write-buffer flush.
     */
    void notifyMapped(long pfn, long pageCount) {
        if (did == 0) {
            return; // not attached to a unit yet
        }
        if (CapReg.cachingMode(unit.cap)) {
            iotlbFlushPsi(pfn, pageCount, false, true);
        } else {
            unit.flushWriteBuffer();
        }
    }

    /** iommu_flush_iotlb_psi with its device-TLB half. */
    void iotlbFlushPsi(long pfn, long pageCount, boolean ih, boolean map) {
        int mask = unit.flushIotlbPsi(did, pfn, pageCount, ih);
        if (!CapReg.cachingMode(unit.cap) || !map) {
            flushDeviceIotlb(pfn << Page.SHIFT, Math.min(mask, 64 - Page.SHIFT));
        }
    }

    /** iommu_flush_dev_iotlb: every ATS-enabled device of the domain. */
    void flushDeviceIotlb(long addr, int mask) {
        for (DeviceInfo d : devices.values()) {
            if (d.atsEnabled()) {
                unit.flush().flushDeviceIotlb(d.rid().value(), d.pfsid(), d.atsQueueDepth(), addr, mask);
            }
        }
    }

    /**
     * intel_iommu_unmap without the sync: clears PTEs (a superpage is unmapped whole, growing
     * the size) and collects freed tables. Returns the size unmapped, which Linux reports for
     * the whole range whether or not it was mapped.
     */
    long unmapNoSync(long iova, long size, List<PhysAddr> freelist) {
        int[] level = {0};
        long pte = pfnToPte(iova >>> Page.SHIFT, 0, level);
        if (pte >= 0 && size < (Page.SIZE << levelShift(level[0]))) {
            size = Page.SIZE << levelShift(level[0]);
        }
        long startPfn = iova >>> Page.SHIFT;
        long lastPfn = (iova + size - 1) >>> Page.SHIFT;
        unmapRange(startPfn, lastPfn, freelist);
        if (maxAddr == iova + size) {
            maxAddr = iova;
        }
        tally.unmaps++;
        return size;
    }

    @Override
    public long unmap(Iova iova, long size) {
        if (!type.isDma() && type != DomainType.UNMANAGED) {
            return 0;
        }
        if (((iova.value() | size) & (Page.SIZE - 1)) != 0 || size <= 0) {
            unit.log.accept(String.format("iommu: unaligned: iova 0x%x size 0x%x min_pagesz 0x1000", iova.value(), size));
            return 0;
        }
        List<PhysAddr> freelist = new ArrayList<>();
        long done = unmapNoSync(iova.value(), size, freelist);
        iotlbSync(iova.value(), done, freelist);
        return done;
    }

    /** intel_iommu_tlb_sync: PSI of the gathered range (IH set when no table was freed), then free the tables. */
    void iotlbSync(long start, long size, List<PhysAddr> freelist) {
        if (did != 0) {
            long pages = ((start & (Page.SIZE - 1)) + size + Page.SIZE - 1) >>> Page.SHIFT;
            iotlbFlushPsi(start >>> Page.SHIFT, pages, freelist.isEmpty(), false);
        }
        freePages(freelist);
    }

    @Override
    public void flushIotlbAll() {
        if (did == 0) {
            return;
        }
        unit.flush().flushIotlb(did, 0, 0, Invalidation.TLB_DSI);
        if (!CapReg.cachingMode(unit.cap)) {
            flushDeviceIotlb(0, 64 - Page.SHIFT); // MAX_AGAW_PFN_WIDTH
        }
    }

    @Override
    public Optional<PhysAddr> iovaToPhys(Iova iova) {
        if (passThrough) {
            return Optional.of(iova.identity());
        }
        int[] level = {0};
        long pte = walkExisting(iova.value() >>> Page.SHIFT, level);
        if (pte < 0) {
            return Optional.empty();
        }
        long v = ram.read(PhysAddr.of(pte), 8);
        if (!present(v)) {
            return Optional.empty();
        }
        long span = Page.SIZE << levelShift(level[0]);
        return Optional.of(new PhysAddr((v & PTE_ADDR & -span) | (iova.value() & (span - 1))));
    }

    /** A walk that never allocates: the leaf PTE's address and level, or -1. */
    long walkExisting(long pfn, int[] outLevel) {
        int level = levels();
        long parent = pgd.value();
        while (true) {
            long pte = parent + 8L * levelOffset(pfn, level);
            long v = ram.read(PhysAddr.of(pte), 8);
            if (!present(v)) {
                return -1;
            }
            if ((v & PTE_LARGE) != 0 || level == 1) {
                outLevel[0] = level;
                return pte;
            }
            parent = v & PTE_ADDR;
            level--;
        }
    }

    @Override
    public String toString() {
        return "dmar_domain " + type.sysfsName() + " did=" + did + (passThrough ? " pass-through"
                : " pgd=" + pgd + " levels=" + levels());
    }
}
