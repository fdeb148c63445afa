package io.viommu.linux.vfio;

import java.util.function.ObjIntConsumer;

/**
 * A count per page frame (the pins on each frame of a process), kept as two primitive arrays
 * with open addressing: a VMM pins a frame per page of every VFIO mapping, and at the scale of
 * many VMs a boxed map entry per pinned frame was most of the Java heap. Frames are page
 * aligned and non-zero (0 is the empty slot); a count that drops to zero removes its frame.
 */
final class FrameCounts {
    private long[] keys = new long[16];
    private int[] counts = new int[16];
    private int size;

    /** The count of {@code frame}, 0 when absent. */
    int get(long frame) {
        int i = slot(frame);
        return keys[i] == frame ? counts[i] : 0;
    }

    /** Adds {@code delta} to {@code frame}'s count and returns the new count (never below 0). */
    int add(long frame, int delta) {
        if (frame == 0) {
            throw new IllegalArgumentException("frame 0 is not a user frame");
        }
        int i = slot(frame);
        if (keys[i] != frame) {
            if (delta <= 0) {
                return 0;
            }
            if ((size + 1) * 2 > keys.length) {
                resize(keys.length * 2);
                i = slot(frame);
            }
            keys[i] = frame;
            counts[i] = 0;
            size++;
        }
        int n = counts[i] + delta;
        if (n > 0) {
            counts[i] = n;
            return n;
        }
        removeAt(i);
        if (keys.length > 64 && size * 8 < keys.length) {
            resize(keys.length / 4); // a whole guest RAM unpinned at once leaves no large empty table
        }
        return 0;
    }

    int size() {
        return size;
    }

    void forEach(ObjIntConsumer<Long> action) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != 0) {
                action.accept(keys[i], counts[i]);
            }
        }
    }

    /** The slot holding {@code frame}, or the empty slot where it would go (linear probing). */
    private int slot(long frame) {
        int mask = keys.length - 1;
        int i = hash(frame) & mask;
        while (keys[i] != 0 && keys[i] != frame) {
            i = (i + 1) & mask;
        }
        return i;
    }

    private static int hash(long frame) {
        long h = (frame >>> 12) * 0x9E37_79B9_7F4A_7C15L;
        return (int) (h >>> 32);
    }

    /** Backward-shift deletion: later entries of the probe run move up so lookups stay correct. */
    private void removeAt(int i) {
        int mask = keys.length - 1;
        keys[i] = 0;
        size--;
        int j = i;
        while (true) {
            j = (j + 1) & mask;
            if (keys[j] == 0) {
                return;
            }
            int home = hash(keys[j]) & mask;
            boolean movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
            if (movable) {
                keys[i] = keys[j];
                counts[i] = counts[j];
                keys[j] = 0;
                i = j;
            }
        }
    }

    private void resize(int length) {
        long[] oldKeys = keys;
        int[] oldCounts = counts;
        keys = new long[length];
        counts = new int[length];
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != 0) {
                int s = slot(oldKeys[i]);
                keys[s] = oldKeys[i];
                counts[s] = oldCounts[i];
            }
        }
    }
}
