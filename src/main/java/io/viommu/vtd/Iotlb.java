package io.viommu.vtd;

import io.viommu.pci.Translation;
import java.util.Arrays;

/**
 * The IOTLB: second-level translations keyed by (source id, page frame at the entry's level,
 * level), as QEMU keys it (vtd_get_iotlb_key), tagged with the domain id for domain- and
 * page-selective invalidation.
 *
 * <p>Bounded to {@code capacity} entries; when full the least-recently-used entry is evicted
 * (QEMU instead empties the whole IOTLB at 1024 entries, vtd_update_iotlb). Storage is
 * primitive arrays: a chained hash over entry indices and an intrusive doubly-linked LRU list,
 * so a lookup hit allocates nothing and returns the immutable {@link Translation} stored at
 * fill time. Not thread-safe.
 */
final class Iotlb {
    private static final int NIL = -1;
    /** QEMU looks a hit up at levels 1..3 (4 KiB, 2 MiB, 1 GiB); larger leaves do not exist. */
    static final int MAX_LEAF_LEVEL = 3;

    private final int capacity;
    private final int bucketMask;
    private final int[] buckets;
    private final int[] chain;
    private final long[] gfn;
    private final int[] sidLevel;
    private final int[] domain;
    private final long[] slpte;
    private final Translation[] value;
    private final int[] prev;
    private final int[] next;
    private int lruHead = NIL; // most recently used
    private int lruTail = NIL; // least recently used
    private int freeHead;
    private int size;
    private long evictions;

    Iotlb(int capacity) {
        this.capacity = capacity;
        int b = Integer.highestOneBit(Math.max(2, capacity * 2 - 1)) << 1;
        buckets = new int[b];
        bucketMask = b - 1;
        chain = new int[capacity];
        gfn = new long[capacity];
        sidLevel = new int[capacity];
        domain = new int[capacity];
        slpte = new long[capacity];
        value = new Translation[capacity];
        prev = new int[capacity];
        next = new int[capacity];
        clear();
    }

    int capacity() {
        return capacity;
    }

    int size() {
        return size;
    }

    long evictions() {
        return evictions;
    }

    void clear() {
        Arrays.fill(buckets, NIL);
        Arrays.fill(value, null);
        for (int i = 0; i < capacity; i++) {
            next[i] = i + 1 < capacity ? i + 1 : NIL;
            prev[i] = NIL;
            chain[i] = NIL;
        }
        freeHead = 0;
        lruHead = NIL;
        lruTail = NIL;
        size = 0;
    }

    static long gfnAt(long addr, int level) {
        return (addr >>> SlPte.levelShift(level)) << (SlPte.levelShift(level) - 12);
    }

    private int bucket(long g, int sl) {
        long h = (g * 0x9E3779B97F4A7C15L) ^ ((long) sl * 0xC2B2AE3D27D4EB4FL);
        return (int) (h ^ (h >>> 29) ^ (h >>> 43)) & bucketMask;
    }

    private int find(long g, int sl) {
        for (int i = buckets[bucket(g, sl)]; i != NIL; i = chain[i]) {
            if (gfn[i] == g && sidLevel[i] == sl) {
                return i;
            }
        }
        return NIL;
    }

    /** The cached translation covering {@code addr} for {@code sid}, or null. Allocates nothing. */
    Translation lookup(int sid, long addr) {
        // Fast path: the most recently used entry, when it is a 4 KiB entry of this source
        // covering addr, is exactly what the level-ordered search below would find first, and
        // it is already at the LRU head (no reordering needed). Streams of DMA to one page hit here.
        int h = lruHead;
        if (h != NIL && sidLevel[h] == (sid << 8 | 1) && gfn[h] == addr >>> 12) {
            return value[h];
        }
        for (int level = 1; level <= MAX_LEAF_LEVEL; level++) {
            int i = find(gfnAt(addr, level), sid << 8 | level);
            if (i != NIL) {
                touch(i);
                return value[i];
            }
        }
        return null;
    }

    /** Whether an entry for (sid, addr) exists, without changing LRU order (for tests). */
    boolean contains(int sid, long addr) {
        for (int level = 1; level <= MAX_LEAF_LEVEL; level++) {
            if (find(gfnAt(addr, level), sid << 8 | level) != NIL) {
                return true;
            }
        }
        return false;
    }

    void insert(int sid, int did, long addr, int level, long pte, Translation t) {
        long g = gfnAt(addr, level);
        int sl = sid << 8 | level;
        int i = find(g, sl);
        if (i == NIL) {
            if (size == capacity) {
                remove(lruTail);
                evictions++;
            }
            i = freeHead;
            freeHead = next[i];
            gfn[i] = g;
            sidLevel[i] = sl;
            int b = bucket(g, sl);
            chain[i] = buckets[b];
            buckets[b] = i;
            prev[i] = NIL;
            next[i] = lruHead;
            if (lruHead != NIL) {
                prev[lruHead] = i;
            }
            lruHead = i;
            if (lruTail == NIL) {
                lruTail = i;
            }
            size++;
        } else {
            touch(i);
        }
        domain[i] = did;
        slpte[i] = pte;
        value[i] = t;
    }

    private void touch(int i) {
        if (lruHead == i) {
            return;
        }
        // unlink
        int p = prev[i];
        int n = next[i];
        next[p] = n; // p != NIL because i is not the head
        if (n != NIL) {
            prev[n] = p;
        } else {
            lruTail = p;
        }
        prev[i] = NIL;
        next[i] = lruHead;
        prev[lruHead] = i;
        lruHead = i;
    }

    private void remove(int i) {
        int b = bucket(gfn[i], sidLevel[i]);
        if (buckets[b] == i) {
            buckets[b] = chain[i];
        } else {
            for (int j = buckets[b]; j != NIL; j = chain[j]) {
                if (chain[j] == i) {
                    chain[j] = chain[i];
                    break;
                }
            }
        }
        int p = prev[i];
        int n = next[i];
        if (p != NIL) {
            next[p] = n;
        } else {
            lruHead = n;
        }
        if (n != NIL) {
            prev[n] = p;
        } else {
            lruTail = p;
        }
        value[i] = null;
        chain[i] = NIL;
        prev[i] = NIL;
        next[i] = freeHead;
        freeHead = i;
        size--;
    }

    /** Domain-selective invalidation (QEMU vtd_hash_remove_by_domain). */
    void invalidateDomain(int did) {
        for (int i = lruHead; i != NIL; ) {
            int n = next[i];
            if (domain[i] == did) {
                remove(i);
            }
            i = n;
        }
    }

    /**
     * QEMU 7.2 keeps the page-selective address mask in a {@code uint8_t} (VTDIOTLBPageInvInfo.mask,
     * widened to 64 bits upstream later), so vtd_hash_remove_by_page compares only the low 8
     * bits of the 4 KiB frame numbers. A guest sees it as over-invalidation: invalidating page Q
     * also drops cached pages whose frame agrees with Q's in bits 7..am (every 1 MiB apart with
     * AM=0), and AM >= 8 drops the whole domain. Dropping extra IOTLB entries is always allowed
     * (they are a cache), so viommu reproduces it rather than list a deviation.
     */
    static final long QEMU_PSI_FRAME_BITS = 0xff;

    /**
     * Page-selective invalidation of 2^am pages at {@code addr} in domain {@code did}, with
     * QEMU's predicate (vtd_hash_remove_by_page): an entry goes if its 4 KiB-granular frame
     * falls in the invalidated range as QEMU 7.2 compares it (low 8 bits only, see
     * {@link #QEMU_PSI_FRAME_BITS}), or if the invalidated address falls inside the entry.
     */
    void invalidatePage(int did, long addr, int am) {
        long mask = ~((1L << am) - 1) & QEMU_PSI_FRAME_BITS;
        long g = (addr >>> 12) & mask;
        for (int i = lruHead; i != NIL; ) {
            int n = next[i];
            int level = sidLevel[i] & 0xff;
            long entryMask = ~(SlPte.pageSize(level) - 1);
            long gTlb = (addr & entryMask) >>> 12;
            if (domain[i] == did && ((gfn[i] & mask) == g || gfn[i] == gTlb)) {
                remove(i);
            }
            i = n;
        }
    }

    /** Visits every entry (most recent first): sid, domain, level, translation. */
    void forEach(EntryVisitor v) {
        for (int i = lruHead; i != NIL; i = next[i]) {
            v.visit(sidLevel[i] >>> 8, domain[i], sidLevel[i] & 0xff, slpte[i], value[i]);
        }
    }

    interface EntryVisitor {
        void visit(int sid, int domainId, int level, long slpte, Translation translation);
    }
}
