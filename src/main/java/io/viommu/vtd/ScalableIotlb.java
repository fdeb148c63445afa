package io.viommu.vtd;

import io.viommu.pci.Translation;
import java.util.Arrays;

/**
 * The IOTLB of scalable mode: translations keyed by (source id, PASID, page frame at the
 * entry's level, level) as QEMU 7.2 keys them (struct vtd_iotlb_key with pasid), tagged with the
 * domain id and PGTT for the invalidations that select by them, plus the rights the cached
 * page grants beyond R/W ({@link #USER_OK}, {@link #EXEC_OK}).
 *
 * <p>Like QEMU (vtd_update_iotlb) the whole cache is emptied when an insert finds it full.
 * Storage is primitive arrays with chained buckets, so a hit allocates nothing; invalidation
 * rebuilds the chains from the survivors (invalidations are rare next to lookups).
 */
final class ScalableIotlb {
    static final int USER_OK = 1;
    static final int EXEC_OK = 2;
    private static final int NIL = -1;

    private final int capacity;
    private final int[] buckets;
    private final int bucketMask;
    private final int[] chain;
    private final long[] gfn;
    private final long[] tag;   // sid 47:32 | pasid 27:8 | level 7:0
    private final int[] domain;
    private final byte[] pgtt;
    private final byte[] flags;
    private final Translation[] value;
    private int size;

    ScalableIotlb(int capacity) {
        this.capacity = capacity;
        int b = Integer.highestOneBit(Math.max(2, capacity * 2 - 1)) << 1;
        buckets = new int[b];
        bucketMask = b - 1;
        chain = new int[capacity];
        gfn = new long[capacity];
        tag = new long[capacity];
        domain = new int[capacity];
        pgtt = new byte[capacity];
        flags = new byte[capacity];
        value = new Translation[capacity];
        clear();
    }

    int size() {
        return size;
    }

    void clear() {
        Arrays.fill(buckets, NIL);
        Arrays.fill(value, null);
        size = 0;
    }

    private static long tagOf(int sid, int pasid, int level) {
        return ((long) (sid & 0xffff) << 32) | ((long) (pasid & 0xfffff) << 8) | level;
    }

    private int bucket(long g, long t) {
        long h = g * 0x9E3779B97F4A7C15L ^ t * 0xC2B2AE3D27D4EB4FL;
        return (int) (h ^ (h >>> 29) ^ (h >>> 43)) & bucketMask;
    }

    private int find(long g, long t) {
        for (int i = buckets[bucket(g, t)]; i != NIL; i = chain[i]) {
            if (gfn[i] == g && tag[i] == t) {
                return i;
            }
        }
        return NIL;
    }

    /** Index of the entry covering {@code addr} for (sid, pasid), or -1. Allocates nothing. */
    int lookup(int sid, int pasid, long addr) {
        for (int level = 1; level <= Iotlb.MAX_LEAF_LEVEL; level++) {
            int i = find(Iotlb.gfnAt(addr, level), tagOf(sid, pasid, level));
            if (i != NIL) {
                return i;
            }
        }
        return NIL;
    }

    Translation translation(int i) {
        return value[i];
    }

    int pgtt(int i) {
        return pgtt[i];
    }

    int flags(int i) {
        return flags[i];
    }

    void insert(int sid, int pasid, int did, int pgttValue, long addr, int level, int entryFlags, Translation t) {
        long g = Iotlb.gfnAt(addr, level);
        long tg = tagOf(sid, pasid, level);
        int i = find(g, tg);
        if (i == NIL) {
            if (size == capacity) {
                clear(); // QEMU: "iotlb exceeds size limit" empties the cache
            }
            i = size++;
            gfn[i] = g;
            tag[i] = tg;
            int b = bucket(g, tg);
            chain[i] = buckets[b];
            buckets[b] = i;
        }
        domain[i] = did;
        pgtt[i] = (byte) pgttValue;
        flags[i] = (byte) entryFlags;
        value[i] = t;
    }

    /** Entry selector for {@link #removeIf}. */
    interface Selector {
        boolean test(int sid, int pasid, int did, int pgtt, int level, long gfn);
    }

    int removeIf(Selector s) {
        int kept = 0;
        for (int i = 0; i < size; i++) {
            int level = (int) tag[i] & 0xff;
            int pasid = (int) (tag[i] >>> 8) & 0xfffff;
            int sid = (int) (tag[i] >>> 32) & 0xffff;
            if (!s.test(sid, pasid, domain[i], pgtt[i], level, gfn[i])) {
                gfn[kept] = gfn[i];
                tag[kept] = tag[i];
                domain[kept] = domain[i];
                pgtt[kept] = pgtt[i];
                flags[kept] = flags[i];
                value[kept] = value[i];
                kept++;
            }
        }
        int removed = size - kept;
        Arrays.fill(value, kept, size, null);
        size = kept;
        Arrays.fill(buckets, NIL);
        for (int i = 0; i < size; i++) {
            int b = bucket(gfn[i], tag[i]);
            chain[i] = buckets[b];
            buckets[b] = i;
        }
        return removed;
    }

    /** Whether 2^am pages at {@code addr} overlap an entry of {@code level} at {@code entryGfn}. */
    static boolean pageMatch(long entryGfn, int level, long addr, int am) {
        long mask = ~((1L << am) - 1);
        long g = (addr >>> 12) & mask;
        long entryMask = ~(SlPte.pageSize(level) - 1);
        return (entryGfn & mask) == g || entryGfn == (addr & entryMask) >>> 12;
    }
}
