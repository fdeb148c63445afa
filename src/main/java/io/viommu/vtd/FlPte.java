package io.viommu.vtd;

/**
 * A first-level paging entry (VT-d spec 9.7, the x86-64 IA-32e format): P 0, R/W 1, U/S 2,
 * PWT 3, PCD 4, A 5, D 6, PS 7 (leaf in a level-2 or level-3 entry), G 8, ADDR (HAW-1):12,
 * (62:52 ignored), XD 63. Levels count from 1 (page table) to 5 (PML5); level L indexes input
 * bits [12+9L-1 : 12+9(L-1)], as for second level.
 *
 * <p>Reserved: address bits at and above the host address width up to 51; PS in a level-4
 * or level-5 entry; PS in a level-3 entry unless 1 GiB first-level pages are supported
 * (CAP.FL1GP); in a 2 MiB leaf bits 20:13 and in a 1 GiB leaf bits 29:13 (bit 12 is PAT).
 */
public final class FlPte extends TableEntry<FlPte> {
    public static final int SIZE = 8;
    public static final long P = 1L;
    public static final long RW = 1L << 1;
    public static final long US = 1L << 2;
    public static final long A = 1L << 5;
    public static final long D = 1L << 6;
    public static final long PS = 1L << 7;
    public static final long XD = 1L << 63;
    private static final long ADDR_BITS = 0x000f_ffff_ffff_f000L;

    public long value() {
        return quad(0);
    }

    public static boolean isPresent(long v) {
        return (v & P) != 0;
    }

    public static boolean isWritable(long v) {
        return (v & RW) != 0;
    }

    public static boolean isUser(long v) {
        return (v & US) != 0;
    }

    public static boolean executeDisabled(long v) {
        return (v & XD) != 0;
    }

    public static boolean isLeaf(long v, int level) {
        return level == 1 || ((v & PS) != 0 && level <= 3);
    }

    /** The next table or page frame (bits 51:12). */
    public static long outputAddress(long v, int level) {
        long a = v & ADDR_BITS;
        return isLeaf(v, level) ? a & ~(SlPte.pageSize(level) - 1) : a;
    }

    public static long reservedMask(long v, int level, int aw, boolean oneGigPages) {
        long above = ADDR_BITS & ~VtdMath.hawMask(aw);
        boolean ps = (v & PS) != 0;
        return switch (level) {
            case 1 -> above;
            case 2 -> ps ? above | 0x1fe000L : above;
            case 3 -> ps ? (oneGigPages ? above | 0x3fffe000L : above | PS) : above;
            default -> above | PS;
        };
    }

    /**
     * Whether {@code input} is canonical for a walk of {@code levels} (4: bits 63:47 equal,
     * 5: bits 63:56 equal), VT-d 3.6.1.
     */
    public static boolean isCanonical(long input, int levels) {
        int top = levels == 5 ? 56 : 47;
        long upper = input >> top;
        return upper == 0 || upper == -1;
    }

    @Override
    protected String fields() {
        return describe(value());
    }

    public static String describe(long v) {
        return String.format("FlPte[P=%d RW=%d US=%d A=%d D=%d PS=%d ADDR=0x%x XD=%d raw=0x%x]", v & 1,
                (v >>> 1) & 1, (v >>> 2) & 1, (v >>> 5) & 1, (v >>> 6) & 1, (v >>> 7) & 1, v & ADDR_BITS,
                v >>> 63, v);
    }
}
