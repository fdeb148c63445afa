package io.viommu.vtd;

import io.viommu.pci.Translation;

/**
 * The IOTLB, one for both modes: translations keyed as QEMU 7.2 keys them (vtd_get_iotlb_key:
 * source id, PASID, level, page frame at the entry's level; legacy entries use PASID 0),
 * tagged with the domain id and the PASID entry's PGTT (0 for legacy-mode entries) for the
 * invalidations that select by them, plus the rights a first-level page grants beyond R/W
 * ({@link #USER_OK}, {@link #EXEC_OK}). Only one mode's entries are ever present: SRTP, which
 * switches modes, empties the cache.
 *
 * <p>A {@link LruCache}: bounded to {@code capacity} entries, evicting the least-recently-used
 * one (QEMU instead empties the whole IOTLB at 1024 entries, vtd_update_iotlb; results are the
 * same, only later misses cost differently). A hit allocates nothing and returns the immutable
 * {@link Translation} stored at fill time. Faults are never cached. Not thread-safe.
 */
final class Iotlb {
    static final int USER_OK = 1;
    static final int EXEC_OK = 2;
    /** PGTT tag of entries filled by legacy-mode translation. */
    static final int LEGACY = 0;
    /** QEMU looks a hit up at levels 1..3 (4 KiB, 2 MiB, 1 GiB); larger leaves do not exist. */
    static final int MAX_LEAF_LEVEL = 3;

    private final LruCache<Translation> cache;
    // The most recently used 4 KiB entry, mirrored in fields so that a hit on it is two field
    // compares: key part A (tag) and the page. mruPage = -1: none. Invariant: when set, it is
    // the LRU head (so a hit on it needs no reordering); any other reordering or removal clears it.
    private long mruPage = -1;
    private long mruTag;
    private int mruIndex = LruCache.NIL;
    private Translation mruValue;

    Iotlb(int capacity) {
        cache = new LruCache<>(capacity);
    }

    int capacity() {
        return cache.capacity();
    }

    int size() {
        return cache.size();
    }

    long evictions() {
        return cache.evictions();
    }

    void clear() {
        cache.clear();
        forgetMru();
    }

    private void forgetMru() {
        mruPage = -1;
        mruIndex = LruCache.NIL;
        mruValue = null;
    }

    private void rememberMru(long tag, long page, int i) {
        mruTag = tag;
        mruPage = page;
        mruIndex = i;
        mruValue = cache.value(i);
    }

    static long gfnAt(long addr, int level) {
        return (addr >>> SlPte.levelShift(level)) << (SlPte.levelShift(level) - 12);
    }

    /** Key part A: source id 55:40, PASID 31:12, level 3:0. */
    private static long tag(int sid, int pasid, int level) {
        return ((long) (sid & 0xffff) << 40) | ((long) (pasid & 0xfffff) << 12) | level;
    }

    /** Metadata: domain id 15:0, PGTT 23:16, flags 27:24, level 31:28 (for the per-level counts). */
    private static int meta(int did, int pgtt, int flags, int level) {
        return (did & 0xffff) | (pgtt & 0xff) << 16 | (flags & 0xf) << 24 | level << 28;
    }

    private static int domainOf(long meta) {
        return (int) meta & 0xffff;
    }

    private static int pgttOf(long meta) {
        return (int) (meta >>> 16) & 0xff;
    }

    private static int level(long tag) {
        return (int) tag & 0xf;
    }

    private static int pasid(long tag) {
        return (int) (tag >>> 12) & 0xfffff;
    }

    /**
     * The cached translation covering {@code addr} for (sid, pasid), or null. Allocates nothing.
     * The most recently used 4 KiB entry is checked first with two field compares: a stream of
     * DMA to one page hits there without touching the hash or the LRU order.
     */
    Translation lookup(int sid, int pasid, long addr) {
        long page = addr >>> 12;
        if (page == mruPage && tag(sid, pasid, 1) == mruTag) {
            return mruValue;
        }
        int i = slowIndex(sid, pasid, addr);
        return i == LruCache.NIL ? null : cache.value(i);
    }

    /** Index of the entry covering {@code addr} for (sid, pasid), made most recent, or -1. */
    int index(int sid, int pasid, long addr) {
        long page = addr >>> 12;
        if (page == mruPage && tag(sid, pasid, 1) == mruTag) {
            return mruIndex;
        }
        return slowIndex(sid, pasid, addr);
    }

    private int slowIndex(int sid, int pasid, long addr) {
        long t = tag(sid, pasid, 1);
        for (int level = 1; level <= MAX_LEAF_LEVEL; level++) {
            if (cache.count(level) == 0) { // a miss looks up only levels that hold something
                continue;
            }
            int i = cache.find(t + level - 1, gfnAt(addr, level));
            if (i != LruCache.NIL) {
                cache.touch(i);
                if (level == 1) {
                    rememberMru(t, addr >>> 12, i);
                } else {
                    forgetMru(); // the remembered entry is no longer the LRU head
                }
                return i;
            }
        }
        return LruCache.NIL;
    }

    Translation translation(int i) {
        return cache.value(i);
    }

    int pgtt(int i) {
        return pgttOf(cache.meta(i));
    }

    int flags(int i) {
        return (cache.meta(i) >>> 24) & 0xf;
    }

    /** Whether an entry for (sid, pasid, addr) exists, without changing LRU order (for tests). */
    boolean contains(int sid, int pasid, long addr) {
        for (int level = 1; level <= MAX_LEAF_LEVEL; level++) {
            if (cache.find(tag(sid, pasid, level), gfnAt(addr, level)) != LruCache.NIL) {
                return true;
            }
        }
        return false;
    }

    void insert(int sid, int pasid, int did, int pgtt, long addr, int level, int flags, Translation t) {
        long tg = tag(sid, pasid, level);
        long gfn = gfnAt(addr, level);
        int i = cache.find(tg, gfn);
        if (i == LruCache.NIL) {
            i = cache.putAbsent(tg, gfn, t, meta(did, pgtt, flags, level));
        } else {
            cache.replace(i, t, meta(did, pgtt, flags, level));
        }
        remember(tg, addr, level, i);
    }

    /**
     * {@link #insert} after {@link #lookup} found no entry for (sid, pasid, addr) at any level
     * (the legacy miss path): skips the duplicate-key search.
     */
    void insertAbsent(int sid, int pasid, int did, int pgtt, long addr, int level, int flags, Translation t) {
        long tg = tag(sid, pasid, level);
        remember(tg, addr, level, cache.putAbsent(tg, gfnAt(addr, level), t, meta(did, pgtt, flags, level)));
    }

    /** Removes what {@code s} selects (the cache keeps the per-level counts). */
    private void removeIf(LruCache.Selector<Translation> s) {
        forgetMru();
        cache.removeIf(s);
    }

    private void remember(long tg, long addr, int level, int i) {
        if (level == 1) {
            rememberMru(tg, addr >>> 12, i);
        } else {
            forgetMru(); // the insert may have evicted it
        }
    }

    /** Domain-selective invalidation (QEMU vtd_hash_remove_by_domain). */
    void invalidateDomain(int did) {
        removeIf((t, g, m, v) -> domainOf(m) == did);
    }

    /**
     * QEMU 7.2 keeps the page-selective address mask in a {@code uint8_t} (VTDIOTLBPageInvInfo.mask,
     * widened to 64 bits upstream later), so vtd_hash_remove_by_page compares only the low 8
     * bits of the 4 KiB frame numbers. A guest sees it as over-invalidation: invalidating page Q
     * also drops cached pages whose frame agrees with Q's in bits 7..am (every 1 MiB apart with
     * AM=0), and AM >= 8 drops the whole domain. Dropping extra IOTLB entries is always allowed
     * (they are a cache), so viommu reproduces it for legacy-mode entries rather than list a
     * deviation.
     */
    static final long QEMU_PSI_FRAME_BITS = 0xff;

    /**
     * Page-selective invalidation of 2^am pages at {@code addr} in domain {@code did}
     * (vtd_hash_remove_by_page). Legacy entries: QEMU 7.2's predicate (low 8 frame bits, see
     * {@link #QEMU_PSI_FRAME_BITS}), or the invalidated address inside the entry. Scalable mode:
     * second-level and pass-through entries of the range, and every first-level and nested
     * entry of the domain (QEMU drops first-level entries whatever the address; a nested
     * entry's input address is not the second-level address the invalidation names).
     */
    void invalidatePages(int did, long addr, int am) {
        long qemuMask = ~((1L << am) - 1) & QEMU_PSI_FRAME_BITS;
        long qemuGfn = (addr >>> 12) & qemuMask;
        removeIf((t, g, m, v) -> {
            if (domainOf(m) != did) {
                return false;
            }
            int p = pgttOf(m);
            if (p == LEGACY) {
                long entryMask = ~(SlPte.pageSize(level(t)) - 1);
                return (g & qemuMask) == qemuGfn || g == (addr & entryMask) >>> 12;
            }
            return isFirstLevel(p) || pageMatch(g, level(t), addr, am);
        });
    }

    /** PASID-based IOTLB invalidation (type 6), PASID-selective: first-level and nested entries. */
    void invalidatePasid(int did, int pasidValue) {
        removeIf((t, g, m, v) -> domainOf(m) == did && pasid(t) == pasidValue && isFirstLevel(pgttOf(m)));
    }

    /** PASID-based IOTLB invalidation (type 6), page-selective within the PASID. */
    void invalidatePasidPages(int did, int pasidValue, long addr, int am) {
        removeIf((t, g, m, v) -> domainOf(m) == did && pasid(t) == pasidValue && isFirstLevel(pgttOf(m))
                && pageMatch(g, level(t), addr, am));
    }

    private static boolean isFirstLevel(int pgtt) {
        return pgtt == PasidEntry.PGTT_FIRST_LEVEL || pgtt == PasidEntry.PGTT_NESTED;
    }

    /** Whether 2^am pages at {@code addr} overlap an entry of {@code level} at {@code entryGfn}. */
    static boolean pageMatch(long entryGfn, int level, long addr, int am) {
        long mask = ~((1L << am) - 1);
        long g = (addr >>> 12) & mask;
        long entryMask = ~(SlPte.pageSize(level) - 1);
        return (entryGfn & mask) == g || entryGfn == (addr & entryMask) >>> 12;
    }
}
