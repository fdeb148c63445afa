package io.viommu.vtd;

/**
 * A legacy-mode root entry (VT-d spec 9.1): 128 bits, 256 per 4 KiB root table, indexed by bus.
 * Lo: P 0, CTP 63:12 (context-table pointer). Hi: reserved (must be zero).
 *
 * <p>The static methods decode raw quads (the walk uses them, allocating nothing); an instance
 * is a flyweight over guest memory for inspection and tests ({@link #wrap}).
 */
public final class RootEntry extends TableEntry<RootEntry> {
    public static final int SIZE = 16;
    public static final long P = 1L;
    public static final long CTP_MASK = ~0xfffL;

    public long lo() {
        return quad(0);
    }

    public long hi() {
        return quad(1);
    }

    public static long address(long rootTable, int bus) {
        return rootTable + (long) (bus & 0xff) * SIZE;
    }

    public static boolean isPresent(long lo) {
        return (lo & P) != 0;
    }

    public static long contextTable(long lo) {
        return lo & CTP_MASK;
    }

    /** Reserved bits of the low quad for host address width {@code aw} (QEMU VTD_ROOT_ENTRY_RSVD). */
    public static long reservedLo(int aw) {
        return 0xffeL | ~VtdMath.hawMask(aw);
    }

    /** QEMU's legacy-mode check: any bit of the high quad, or a reserved low bit, is set. */
    public static boolean hasReservedBits(long lo, long hi, int aw) {
        return hi != 0 || (lo & reservedLo(aw)) != 0;
    }

    @Override
    protected String fields() {
        long lo = lo();
        long hi = hi();
        return String.format("RootEntry@0x%x[P=%d CTP=0x%x hi=0x%x]", boundAddress(), lo & 1, contextTable(lo), hi);
    }
}
