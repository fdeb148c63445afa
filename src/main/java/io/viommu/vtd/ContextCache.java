package io.viommu.vtd;

/**
 * The context cache: the last context entry fetched for each source id, valid while its
 * generation equals the cache's (QEMU keeps one entry per device address space with a
 * generation counter; vtd_context_global_invalidate bumps it). Storage is allocated per bus on
 * first use, at most 256 x 256 entries, so it is bounded by the requester-id space and never
 * needs eviction. Only successfully validated entries are cached: a fault, including a
 * not-present entry, is never cached (so caching mode's "not-present entries are not cached"
 * holds whatever CM says).
 */
final class ContextCache {
    private final long[][] lo = new long[256][];
    private final long[][] hi = new long[256][];
    private final int[][] gen = new int[256][];
    private int generation = 1;

    /** True and fills {@code out[0..1]} if {@code sid} has a valid cached entry. */
    boolean lookup(int sid, long[] out) {
        int bus = sid >>> 8;
        int[] g = gen[bus];
        if (g == null || g[sid & 0xff] != generation) {
            return false;
        }
        out[0] = lo[bus][sid & 0xff];
        out[1] = hi[bus][sid & 0xff];
        return true;
    }

    void put(int sid, long entryLo, long entryHi) {
        int bus = sid >>> 8;
        if (gen[bus] == null) {
            lo[bus] = new long[256];
            hi[bus] = new long[256];
            gen[bus] = new int[256];
        }
        lo[bus][sid & 0xff] = entryLo;
        hi[bus][sid & 0xff] = entryHi;
        gen[bus][sid & 0xff] = generation;
    }

    /** Global (and, as QEMU treats it, domain-selective) invalidation. */
    void invalidateAll() {
        generation++;
        if (generation == Integer.MAX_VALUE) {
            for (int[] g : gen) {
                if (g != null) {
                    java.util.Arrays.fill(g, 0);
                }
            }
            generation = 1;
        }
    }

    /**
     * Device-selective invalidation with function mask {@code fm} (VT-d 10.4.7 FM: 0 none,
     * 1 masks SID bit 2, 2 bits 2:1, 3 bits 2:0), as QEMU vtd_context_device_invalidate.
     */
    void invalidateDevice(int sid, int fm) {
        int mask = switch (fm & 3) {
            case 0 -> 0;
            case 1 -> 4;
            case 2 -> 6;
            default -> 7;
        };
        int keep = ~mask & 0xff;
        int bus = sid >>> 8;
        int[] g = gen[bus];
        if (g == null) {
            return;
        }
        int devfn = sid & 0xff;
        for (int d = 0; d < 256; d++) {
            if ((d & keep) == (devfn & keep)) {
                g[d] = 0;
            }
        }
    }

    boolean contains(int sid) {
        int[] g = gen[sid >>> 8];
        return g != null && g[sid & 0xff] == generation;
    }
}
