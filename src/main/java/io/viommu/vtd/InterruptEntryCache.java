package io.viommu.vtd;

import java.util.Arrays;

/**
 * The interrupt entry cache (IEC, VT-d spec 6.5.2.7 and 9.10): validated IRTEs by interrupt
 * index, so that later interrupts through the same index do not read the table. Only entries
 * that were present and free of reserved bits are cached; the source-id check still runs per
 * interrupt against the cached entry.
 *
 * <p>Direct-mapped ({@code index % capacity}), preallocated, allocation-free. Capacity 0 means
 * no cache: every interrupt reads its IRTE from memory, which is what QEMU 7.2 does under TCG
 * (it has no IEC of its own; an IEC invalidation only refreshes KVM's MSI routes). With a
 * cache, an IRTE changed in memory stays in use until an IEC invalidation (or SIRTP) drops it,
 * which the spec allows and real hardware does.
 */
final class InterruptEntryCache {
    private final int capacity;
    private final int[] tags;
    private final long[] los;
    private final long[] his;
    private long hits;
    private long misses;

    InterruptEntryCache(int capacity) {
        if (capacity < 0 || capacity > 65536) {
            throw new IllegalArgumentException("IEC capacity must be 0..65536: " + capacity);
        }
        this.capacity = capacity;
        this.tags = new int[capacity];
        this.los = new long[capacity];
        this.his = new long[capacity];
        Arrays.fill(tags, -1);
    }

    int capacity() {
        return capacity;
    }

    /** Looks {@code index} up; on a hit fills {@code out[0..1]} with the entry. */
    boolean lookup(int index, long[] out) {
        if (capacity == 0) {
            return false;
        }
        int slot = index % capacity;
        if (tags[slot] != index) {
            misses++;
            return false;
        }
        hits++;
        out[0] = los[slot];
        out[1] = his[slot];
        return true;
    }

    void put(int index, long lo, long hi) {
        if (capacity == 0) {
            return;
        }
        int slot = index % capacity;
        tags[slot] = index;
        los[slot] = lo;
        his[slot] = hi;
    }

    boolean contains(int index) {
        return capacity != 0 && tags[index % capacity] == index;
    }

    int size() {
        int n = 0;
        for (int t : tags) {
            if (t >= 0) {
                n++;
            }
        }
        return n;
    }

    void invalidateAll() {
        Arrays.fill(tags, -1);
    }

    /** Index-selective invalidation: the 2^{@code mask} indexes sharing {@code index}'s upper bits. */
    void invalidate(int index, int mask) {
        if (capacity == 0) {
            return;
        }
        int m = Math.min(mask, 16);
        int first = index & ~((1 << m) - 1) & 0xffff;
        int count = 1 << m;
        if (count >= capacity) {
            for (int s = 0; s < capacity; s++) {
                int t = tags[s];
                if (t >= first && t < first + count) {
                    tags[s] = -1;
                }
            }
            return;
        }
        for (int i = first; i < first + count; i++) {
            int slot = i % capacity;
            if (tags[slot] == i) {
                tags[slot] = -1;
            }
        }
    }

    long hits() {
        return hits;
    }

    long misses() {
        return misses;
    }
}
