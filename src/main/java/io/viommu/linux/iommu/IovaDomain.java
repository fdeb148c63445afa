package io.viommu.linux.iommu;

import java.util.Map;
import java.util.TreeMap;

/**
 * The IOVA allocator of Linux 6.1 drivers/iommu/iova.c, in page frame numbers (granule 4 KiB).
 *
 * <p>Two layers:
 * <ul>
 * <li>a range tree ({@link TreeMap} keyed by pfn_lo, standing in for the rbtree) searched
 *     top-down from a cached node for the highest free, size-aligned slot below a limit
 *     (__alloc_and_insert_iova_range, with its retry from the limit and the
 *     {@code max32_alloc_size} short cut that remembers a failed 32-bit allocation until
 *     something below 4 GiB is freed);</li>
 * <li>per-CPU range caches (iova_rcache) for sizes up to 2^({@value #RANGE_CACHE_MAX_SIZE}-1)
 *     pages: each CPU holds a "loaded" and a "prev" magazine of {@value #MAG_SIZE} pfns, behind
 *     them a depot of at most {@value #MAX_GLOBAL_MAGS} full magazines per size. Cached ranges
 *     stay allocated in the tree; a free that finds both magazines full pushes the loaded one to
 *     the depot (or, when the depot is full, returns its ranges to the tree).</li>
 * </ul>
 * {@link #allocFast} rounds cacheable sizes up to a power of two, as alloc_iova_fast does, so
 * that a range freed into a magazine fits any later request of the same order.
 *
 * <p>Not thread-safe: the kernel model runs one CPU at a time and says which ({@code cpu}).
 */
public final class IovaDomain {
    public static final int MAG_SIZE = 127;
    public static final int MAX_GLOBAL_MAGS = 32;
    public static final int RANGE_CACHE_MAX_SIZE = 6;
    /** The anchor node's pfn (IOVA_ANCHOR, ~0UL): always in the tree, never allocated. */
    static final long ANCHOR = Long.MAX_VALUE;

    private final TreeMap<Long, Long> tree = new TreeMap<>(); // pfn_lo -> pfn_hi, inclusive
    private final long startPfn;
    private final long dma32Pfn;
    private long cachedNode = ANCHOR;   // pfn_lo of iovad->cached_node
    private long cached32Node = ANCHOR; // pfn_lo of iovad->cached32_node
    private long max32AllocSize;
    private final RangeCache[] rcaches = new RangeCache[RANGE_CACHE_MAX_SIZE];

    /** init_iova_domain(granule 4 KiB, start_pfn) + iova_domain_init_rcaches for {@code cpus} CPUs. */
    public IovaDomain(long startPfn, int cpus) {
        this.startPfn = Math.max(1, startPfn);
        this.dma32Pfn = 1L << (32 - 12);
        this.max32AllocSize = dma32Pfn;
        tree.put(ANCHOR, ANCHOR);
        for (int i = 0; i < rcaches.length; i++) {
            rcaches[i] = new RangeCache(cpus);
        }
    }

    private static final class Magazine {
        final long[] pfns = new long[MAG_SIZE];
        int size;

        boolean full() {
            return size == MAG_SIZE;
        }

        boolean empty() {
            return size == 0;
        }

        /** iova_magazine_pop: the topmost pfn not above {@code limit}, swapped out; 0 if none. */
        long pop(long limit) {
            int i = size - 1;
            while (pfns[i] > limit) {
                if (i == 0) {
                    return 0;
                }
                i--;
            }
            long pfn = pfns[i];
            pfns[i] = pfns[--size];
            return pfn;
        }

        void push(long pfn) {
            pfns[size++] = pfn;
        }
    }

    private static final class CpuCache {
        Magazine loaded = new Magazine();
        Magazine prev = new Magazine();
    }

    private static final class RangeCache {
        final CpuCache[] cpu;
        final Magazine[] depot = new Magazine[MAX_GLOBAL_MAGS];
        int depotSize;

        RangeCache(int cpus) {
            cpu = new CpuCache[Math.max(1, cpus)];
            for (int i = 0; i < cpu.length; i++) {
                cpu[i] = new CpuCache();
            }
        }
    }

    /** order_base_2. */
    static int orderBase2(long n) {
        return n <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(n - 1);
    }

    public int cpus() {
        return rcaches[0].cpu.length;
    }

    // ---- rbtree allocator ----

    /**
     * alloc_iova(size, limit_pfn, size_aligned): the range's pfn_lo, or 0 when nothing fits.
     */
    public long alloc(long size, long limitPfn, boolean sizeAligned) {
        if (size <= 0) {
            return 0;
        }
        long alignMask = sizeAligned ? ~0L << (64 - Long.numberOfLeadingZeros(size - 1)) : ~0L;
        if (size == 1) {
            alignMask = ~0L;
        }
        long limit = limitPfn + 1;
        if (limit <= dma32Pfn && size >= max32AllocSize) {
            return 0;
        }
        long currKey = limit <= dma32Pfn ? cached32Node : cachedNode;
        Map.Entry<Long, Long> curr = tree.floorEntry(currKey);
        if (curr == null) {
            curr = tree.lastEntry();
        }
        long high = limit;
        long low = startPfn;
        long retryPfn = curr.getValue(); // curr_iova->pfn_hi (the anchor's never allows a retry)
        long newPfn;
        while (true) {
            do {
                high = Math.min(high, curr.getKey());
                newPfn = (high - size) & alignMask;
                curr = tree.lowerEntry(curr.getKey());
            } while (curr != null && newPfn <= curr.getValue() && newPfn >= low);
            if (high < size || newPfn < low) {
                if (low == startPfn && retryPfn < limit) {
                    high = limit;
                    low = retryPfn;
                    curr = findLimit(limit);
                    continue;
                }
                max32AllocSize = size;
                return 0;
            }
            break;
        }
        tree.put(newPfn, newPfn + size - 1);
        if (newPfn + size - 1 < dma32Pfn) {
            cached32Node = newPfn;
        } else {
            cachedNode = newPfn;
        }
        return newPfn;
    }

    /** iova_find_limit: the lowest node at or above {@code limit}, or the anchor. */
    private Map.Entry<Long, Long> findLimit(long limit) {
        if (limit > dma32Pfn) {
            return tree.lastEntry();
        }
        Map.Entry<Long, Long> f = tree.floorEntry(limit);
        if (f != null && f.getValue() >= limit) {
            return f;
        }
        return tree.ceilingEntry(limit);
    }

    /** free_iova: releases the allocated range containing {@code pfn}; false when none does. */
    public boolean free(long pfn) {
        Map.Entry<Long, Long> e = tree.floorEntry(pfn);
        if (e == null || e.getKey() == ANCHOR || e.getValue() < pfn) {
            return false;
        }
        long lo = e.getKey();
        long hi = e.getValue();
        // __cached_rbnode_delete_update
        Map.Entry<Long, Long> c32 = tree.floorEntry(cached32Node);
        if (lo == cached32Node || (hi < dma32Pfn && lo >= c32.getKey())) {
            cached32Node = tree.higherKey(lo);
        }
        if (lo < dma32Pfn) {
            max32AllocSize = dma32Pfn;
        }
        if (lo >= tree.floorKey(cachedNode)) {
            cachedNode = tree.higherKey(lo);
        }
        tree.remove(lo);
        return true;
    }

    /**
     * reserve_iova: marks [pfnLo, pfnHi] used (merging with what overlaps), for reserved regions
     * such as the MSI window.
     */
    public void reserve(long pfnLo, long pfnHi) {
        long lo = pfnLo;
        long hi = pfnHi;
        Map.Entry<Long, Long> e = tree.floorEntry(hi);
        while (e != null && e.getKey() != ANCHOR && e.getValue() >= lo) {
            lo = Math.min(lo, e.getKey());
            hi = Math.max(hi, e.getValue());
            tree.remove(e.getKey());
            e = tree.floorEntry(hi);
        }
        tree.put(lo, hi);
    }

    /** find_iova: the allocated range [lo, hi] containing {@code pfn}, or null. */
    public long[] find(long pfn) {
        Map.Entry<Long, Long> e = tree.floorEntry(pfn);
        if (e == null || e.getKey() == ANCHOR || e.getValue() < pfn) {
            return null;
        }
        return new long[] {e.getKey(), e.getValue()};
    }

    /** Ranges in the tree (allocated, cached in magazines, or reserved), the anchor excluded. */
    public int treeSize() {
        return tree.size() - 1;
    }

    // ---- the fast path ----

    /** Outcome counters of the fast path, for the driver's tally. */
    long cacheHits;

    /**
     * alloc_iova_fast on {@code cpu}: the per-CPU cache, else the tree, else (when
     * {@code flushRcache}) drop every cached range back into the tree and try once more.
     */
    public long allocFast(int cpu, long size, long limitPfn, boolean flushRcache) {
        if (size < (1L << (RANGE_CACHE_MAX_SIZE - 1))) {
            size = Long.highestOneBit(size) == size ? size : Long.highestOneBit(size) << 1;
        }
        long pfn = rcacheGet(cpu, size, limitPfn + 1);
        if (pfn != 0) {
            cacheHits++;
            return pfn;
        }
        while (true) {
            pfn = alloc(size, limitPfn, true);
            if (pfn != 0) {
                return pfn;
            }
            if (!flushRcache) {
                return 0;
            }
            flushRcache = false;
            for (int c = 0; c < cpus(); c++) {
                freeCpuCached(c);
            }
            freeGlobalCached();
        }
    }

    /** free_iova_fast: into the CPU's magazine when cacheable, else back to the tree. */
    public void freeFast(int cpu, long pfn, long size) {
        if (rcacheInsert(cpu, pfn, size)) {
            return;
        }
        free(pfn);
    }

    private long rcacheGet(int cpu, long size, long limitPfn) {
        int log = orderBase2(size);
        if (log >= RANGE_CACHE_MAX_SIZE) {
            return 0;
        }
        RangeCache rc = rcaches[log];
        CpuCache cc = rc.cpu[cpu % rc.cpu.length];
        boolean has = false;
        if (!cc.loaded.empty()) {
            has = true;
        } else if (!cc.prev.empty()) {
            Magazine t = cc.prev;
            cc.prev = cc.loaded;
            cc.loaded = t;
            has = true;
        } else if (rc.depotSize > 0) {
            cc.loaded = rc.depot[--rc.depotSize];
            rc.depot[rc.depotSize] = null;
            has = true;
        }
        return has ? cc.loaded.pop(limitPfn - size) : 0;
    }

    private boolean rcacheInsert(int cpu, long pfn, long size) {
        int log = orderBase2(size);
        if (log >= RANGE_CACHE_MAX_SIZE) {
            return false;
        }
        RangeCache rc = rcaches[log];
        CpuCache cc = rc.cpu[cpu % rc.cpu.length];
        Magazine toFree = null;
        if (cc.loaded.full()) {
            if (!cc.prev.full()) {
                Magazine t = cc.prev;
                cc.prev = cc.loaded;
                cc.loaded = t;
            } else {
                if (rc.depotSize < MAX_GLOBAL_MAGS) {
                    rc.depot[rc.depotSize++] = cc.loaded;
                } else {
                    toFree = cc.loaded;
                }
                cc.loaded = new Magazine();
            }
        }
        cc.loaded.push(pfn);
        if (toFree != null) {
            freeMagazine(toFree);
        }
        return true;
    }

    private void freeMagazine(Magazine m) {
        for (int i = 0; i < m.size; i++) {
            free(m.pfns[i]);
        }
        m.size = 0;
    }

    /** free_cpu_cached_iovas. */
    public void freeCpuCached(int cpu) {
        for (RangeCache rc : rcaches) {
            CpuCache cc = rc.cpu[cpu % rc.cpu.length];
            freeMagazine(cc.loaded);
            freeMagazine(cc.prev);
        }
    }

    /** free_global_cached_iovas. */
    public void freeGlobalCached() {
        for (RangeCache rc : rcaches) {
            for (int i = 0; i < rc.depotSize; i++) {
                freeMagazine(rc.depot[i]);
                rc.depot[i] = null;
            }
            rc.depotSize = 0;
        }
    }

    /** Pfns held in {@code cpu}'s two magazines for sizes of order {@code log}. */
    public int cachedOnCpu(int cpu, int log) {
        CpuCache cc = rcaches[log].cpu[cpu % rcaches[log].cpu.length];
        return cc.loaded.size + cc.prev.size;
    }

    /** Full magazines in the depot for order {@code log}. */
    public int depotMagazines(int log) {
        return rcaches[log].depotSize;
    }

    public long cacheHits() {
        return cacheHits;
    }
}
