package io.viommu.vtd;

import java.util.Arrays;

/**
 * The one bounded least-recently-used cache of the unit, used with different key types for the
 * IOTLB ({@link Iotlb}: source id, PASID, level and page frame), the context cache (source id)
 * and the PASID cache (source id and PASID). A key is two {@code long}s whose packing the user
 * defines; each entry also carries one {@code long} of metadata that invalidations select on
 * (domain id, PGTT, rights).
 *
 * <p>Storage is primitive arrays: a chained hash over entry indices and an intrusive doubly
 * linked LRU list, so lookups, hits and evictions allocate nothing and never box. When full,
 * an insert evicts the least-recently-used entry. Not thread-safe.
 */
final class LruCache<V> {
    static final int NIL = -1;

    /** Selects entries for {@link #removeIf}. */
    interface Selector<V> {
        boolean test(long keyA, long keyB, long meta, V value);
    }

    private final int capacity;
    private final int bucketMask;
    private final int[] buckets;
    private final int[] chain;
    private final long[] keyA;
    private final long[] keyB;
    private final long[] meta;
    private final Object[] value;
    private final int[] prev;
    private final int[] next;
    private int lruHead = NIL; // most recently used
    private int lruTail = NIL; // least recently used
    private int freeHead;
    private int size;
    private long evictions;

    LruCache(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("cache capacity must be positive: " + capacity);
        }
        this.capacity = capacity;
        int b = Integer.highestOneBit(Math.max(2, capacity * 2 - 1)) << 1;
        buckets = new int[b];
        bucketMask = b - 1;
        chain = new int[capacity];
        keyA = new long[capacity];
        keyB = new long[capacity];
        meta = new long[capacity];
        value = new Object[capacity];
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

    private int bucket(long a, long b) {
        long h = (b * 0x9E3779B97F4A7C15L) ^ (a * 0xC2B2AE3D27D4EB4FL);
        return (int) (h ^ (h >>> 29) ^ (h >>> 43)) & bucketMask;
    }

    /** Index of the entry with key (a, b), or {@link #NIL}; LRU order unchanged. */
    int find(long a, long b) {
        for (int i = buckets[bucket(a, b)]; i != NIL; i = chain[i]) {
            if (keyB[i] == b && keyA[i] == a) {
                return i;
            }
        }
        return NIL;
    }

    /** The entry the next insert into a full cache evicts, or {@link #NIL} when not full. */
    int evictionVictim() {
        return size == capacity ? lruTail : NIL;
    }

    /** The most recently used entry, or {@link #NIL} (for a one-compare fast path). */
    int mostRecent() {
        return lruHead;
    }

    boolean matches(int i, long a, long b) {
        return keyB[i] == b && keyA[i] == a;
    }

    /** The value of (a, b), made most recent, or null. */
    V get(long a, long b) {
        int h = lruHead;
        if (h != NIL && keyB[h] == b && keyA[h] == a) {
            return value(h);
        }
        int i = find(a, b);
        if (i == NIL) {
            return null;
        }
        touch(i);
        return value(i);
    }

    @SuppressWarnings("unchecked")
    V value(int i) {
        return (V) value[i];
    }

    long keyA(int i) {
        return keyA[i];
    }

    long keyB(int i) {
        return keyB[i];
    }

    long meta(int i) {
        return meta[i];
    }

    /** Inserts or replaces (a, b), evicting the least recently used entry when full; returns its index. */
    int put(long a, long b, V v, long m) {
        int i = find(a, b);
        if (i == NIL) {
            return putAbsent(a, b, v, m);
        }
        touch(i);
        meta[i] = m;
        value[i] = v;
        return i;
    }

    /** Inserts (a, b), which the caller knows is absent, evicting the LRU entry when full. */
    int putAbsent(long a, long b, V v, long m) {
        if (size == capacity) {
            remove(lruTail);
            evictions++;
        }
        int i = freeHead;
        freeHead = next[i];
        keyA[i] = a;
        keyB[i] = b;
        int bk = bucket(a, b);
        chain[i] = buckets[bk];
        buckets[bk] = i;
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
        meta[i] = m;
        value[i] = v;
        return i;
    }

    /** Makes entry {@code i} the most recently used. */
    void touch(int i) {
        if (lruHead == i) {
            return;
        }
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

    void remove(int i) {
        int b = bucket(keyA[i], keyB[i]);
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

    /** Removes every entry {@code s} selects; returns how many. */
    int removeIf(Selector<? super V> s) {
        int removed = 0;
        for (int i = lruHead; i != NIL; ) {
            int n = next[i];
            if (s.test(keyA[i], keyB[i], meta[i], value(i))) {
                remove(i);
                removed++;
            }
            i = n;
        }
        return removed;
    }
}
