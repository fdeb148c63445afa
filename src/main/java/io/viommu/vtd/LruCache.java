package io.viommu.vtd;

import java.util.Arrays;

/**
 * The one bounded least-recently-used cache of the unit, used with different key types for the
 * IOTLB ({@link Iotlb}: source id, PASID, level and page frame), the context cache (source id)
 * and the PASID cache (source id and PASID). A key is two {@code long}s whose packing the user
 * defines; each entry also carries 32 bits of metadata that invalidations select on (domain
 * id, PGTT, rights).
 *
 * <p>Storage is primitive, with no object per entry: the keys in one {@code long[]}, each
 * entry's metadata, hash and LRU links side by side in another (what an eviction and a
 * reordering touch, 16 bytes an entry), an open-addressing index over entry numbers, and an
 * intrusive doubly linked LRU list. The index is linear probing at a load of at most one half;
 * each slot holds the key's 32-bit hash beside the entry number, so a probe compares hashes in
 * the index's own cache lines and reads an entry's key only when its hash matches, and a
 * removal shifts the following slots back (no tombstones) knowing each one's home slot from the
 * stored hash, without reading their entries. Lookups, hits and evictions allocate nothing and
 * never box. When full, an insert evicts the least-recently-used entry.
 *
 * <p>The top 4 bits of the metadata are the entry's class; the cache counts its entries per
 * class ({@link #count}) as it inserts, replaces and removes them, so a user can skip lookups
 * of a class that has none (the IOTLB's levels) without bookkeeping of its own. Not thread-safe.
 */
final class LruCache<V> {
    static final int NIL = -1;
    // Entry i: key[2i] key A, key[2i + 1] key B; aux[2i] meta << 32 | hash, aux[2i + 1] prev << 32 | next.
    private static final long LOW = 0xFFFF_FFFFL;
    private static final long HIGH = ~LOW;
    // Index slot: 0 empty, else hash << 32 | (entry + 1).
    private static final long EMPTY = 0;

    /** Selects entries for {@link #removeIf}. */
    interface Selector<V> {
        boolean test(long keyA, long keyB, long meta, V value);
    }

    private final int capacity;
    private final int slotMask;
    private final int homeShift;
    private final long[] slots;
    private final long[] key;
    private final long[] aux;
    private final Object[] value;
    private int lruHead = NIL; // most recently used
    private int lruTail = NIL; // least recently used
    private int freeHead;
    private int size;
    private long evictions;
    private final int[] classCount = new int[16];

    LruCache(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("cache capacity must be positive: " + capacity);
        }
        this.capacity = capacity;
        int n = Integer.highestOneBit(Math.max(2, capacity * 2 - 1)) << 1; // >= 2 * capacity
        slots = new long[n];
        slotMask = n - 1;
        homeShift = 32 - Integer.numberOfTrailingZeros(n);
        key = new long[capacity * 2];
        aux = new long[capacity * 2];
        value = new Object[capacity];
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
        Arrays.fill(slots, EMPTY);
        Arrays.fill(value, null);
        for (int i = 0; i < capacity; i++) {
            aux[2 * i] = 0;
            setLinks(i, NIL, i + 1 < capacity ? i + 1 : NIL);
        }
        freeHead = 0;
        lruHead = NIL;
        lruTail = NIL;
        size = 0;
        Arrays.fill(classCount, 0);
    }

    /** Entries whose metadata's top 4 bits are {@code cls}. */
    int count(int cls) {
        return classCount[cls];
    }

    // ---- entry fields ----

    long keyA(int i) {
        return key[2 * i];
    }

    long keyB(int i) {
        return key[2 * i + 1];
    }

    int meta(int i) {
        return (int) (aux[2 * i] >>> 32);
    }

    private int prev(int i) {
        return (int) (aux[2 * i + 1] >>> 32);
    }

    private int next(int i) {
        return (int) aux[2 * i + 1];
    }

    private void setLinks(int i, int p, int n) {
        aux[2 * i + 1] = ((long) p << 32) | (n & LOW);
    }

    private void setPrev(int i, int p) {
        int k = 2 * i + 1;
        aux[k] = ((long) p << 32) | (aux[k] & LOW);
    }

    private void setNext(int i, int n) {
        int k = 2 * i + 1;
        aux[k] = (aux[k] & HIGH) | (n & LOW);
    }

    @SuppressWarnings("unchecked")
    V value(int i) {
        return (V) value[i];
    }

    // ---- the index ----

    /** The 32-bit hash of (a, b); its top bits are the home slot (Fibonacci hashing). */
    static int hash(long a, long b) {
        return (int) (((a * 0xC2B2AE3D27D4EB4FL) ^ b) * 0x9E3779B97F4A7C15L >>> 32);
    }

    private int home(int hash) {
        return hash >>> homeShift;
    }

    /** Index of the entry with key (a, b), or {@link #NIL}; LRU order unchanged. */
    int find(long a, long b) {
        int h = hash(a, b);
        long[] s = slots;
        for (int j = home(h); ; j = (j + 1) & slotMask) {
            long v = s[j];
            if (v == EMPTY) {
                return NIL;
            }
            if ((int) (v >>> 32) == h) {
                int i = (int) v - 1;
                if (key[2 * i + 1] == b && key[2 * i] == a) {
                    return i;
                }
            }
        }
    }

    /** Puts entry {@code i} of hash {@code h} into the first free slot of its probe sequence. */
    private void index(int i, int h) {
        int j = home(h);
        while (slots[j] != EMPTY) {
            j = (j + 1) & slotMask;
        }
        slots[j] = ((long) h << 32) | (i + 1);
    }

    /** Takes entry {@code i} of hash {@code h} out of the index, shifting later slots back. */
    private void unindex(int i, int h) {
        long mine = ((long) h << 32) | (i + 1);
        int hole = home(h);
        while (slots[hole] != mine) {
            hole = (hole + 1) & slotMask;
        }
        for (int j = (hole + 1) & slotMask; ; j = (j + 1) & slotMask) {
            long v = slots[j];
            if (v == EMPTY) {
                break;
            }
            // The slot may move back into the hole unless its home lies cyclically in (hole, j].
            int home = home((int) (v >>> 32));
            boolean stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (!stays) {
                slots[hole] = v;
                hole = j;
            }
        }
        slots[hole] = EMPTY;
    }

    // ---- lookups ----

    /** The most recently used entry, or {@link #NIL} (for a one-compare fast path). */
    int mostRecent() {
        return lruHead;
    }

    /** The entry the next insert into a full cache evicts, or {@link #NIL} when not full. */
    int evictionVictim() {
        return size == capacity ? lruTail : NIL;
    }

    /** The value of (a, b), made most recent, or null. */
    V get(long a, long b) {
        int h = lruHead;
        if (h != NIL && key[2 * h + 1] == b && key[2 * h] == a) {
            return value(h);
        }
        int i = find(a, b);
        if (i == NIL) {
            return null;
        }
        touch(i);
        return value(i);
    }

    // ---- updates ----

    /** Inserts or replaces (a, b), evicting the least recently used entry when full; returns its index. */
    int put(long a, long b, V v, int m) {
        int i = find(a, b);
        if (i == NIL) {
            return putAbsent(a, b, v, m);
        }
        replace(i, v, m);
        return i;
    }

    /** Gives entry {@code i} a new value and metadata and makes it the most recently used. */
    void replace(int i, V v, int m) {
        touch(i);
        long x = aux[2 * i];
        classCount[(int) (x >>> 60)]--;
        classCount[m >>> 28]++;
        aux[2 * i] = ((long) m << 32) | (x & LOW);
        value[i] = v;
    }

    /** Inserts (a, b), which the caller knows is absent, evicting the LRU entry when full. */
    int putAbsent(long a, long b, V v, int m) {
        int i;
        if (size == capacity) {
            // Evict the least recently used entry and reuse it in place (not through the free list).
            i = lruTail;
            long x = aux[2 * i];
            unindex(i, (int) x);
            classCount[(int) (x >>> 60)]--;
            evictions++;
            int p = prev(i);
            if (p == NIL) { // capacity 1: it was also the head
                lruHead = NIL;
            } else {
                setNext(p, NIL);
            }
            lruTail = p;
        } else {
            i = freeHead;
            freeHead = next(i);
            size++;
        }
        int h = hash(a, b);
        key[2 * i] = a;
        key[2 * i + 1] = b;
        aux[2 * i] = ((long) m << 32) | (h & LOW);
        classCount[m >>> 28]++;
        index(i, h);
        setLinks(i, NIL, lruHead);
        if (lruHead != NIL) {
            setPrev(lruHead, i);
        }
        lruHead = i;
        if (lruTail == NIL) {
            lruTail = i;
        }
        value[i] = v;
        return i;
    }

    /** Makes entry {@code i} the most recently used. */
    void touch(int i) {
        if (lruHead == i) {
            return;
        }
        int p = prev(i);
        int n = next(i);
        setNext(p, n); // p != NIL because i is not the head
        if (n != NIL) {
            setPrev(n, p);
        } else {
            lruTail = p;
        }
        setLinks(i, NIL, lruHead);
        setPrev(lruHead, i);
        lruHead = i;
    }

    void remove(int i) {
        long x = aux[2 * i];
        unindex(i, (int) x);
        classCount[(int) (x >>> 60)]--;
        int p = prev(i);
        int n = next(i);
        if (p != NIL) {
            setNext(p, n);
        } else {
            lruHead = n;
        }
        if (n != NIL) {
            setPrev(n, p);
        } else {
            lruTail = p;
        }
        value[i] = null;
        setLinks(i, NIL, freeHead);
        freeHead = i;
        size--;
    }

    /** Removes every entry {@code s} selects; returns how many. */
    int removeIf(Selector<? super V> s) {
        int removed = 0;
        for (int i = lruHead; i != NIL; ) {
            int n = next(i);
            if (s.test(keyA(i), keyB(i), meta(i), value(i))) {
                remove(i);
                removed++;
            }
            i = n;
        }
        return removed;
    }
}
