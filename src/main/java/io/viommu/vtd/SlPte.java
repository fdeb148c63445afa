package io.viommu.vtd;

/**
 * A second-level paging entry (VT-d spec 9.8): R 0, W 1, (X 2), EMT 5:3, IPAT 6, PS 7,
 * SNP 11, ADDR (HAW-1):12, TM 62. Present means R or W set. Levels count from 1 (4 KiB
 * leaf table) up to 5; level L indexes IOVA bits [12+9L-1 : 12+9(L-1)].
 *
 * <p>The reserved-bit masks are QEMU 7.2's (vtd_spte_rsvd / vtd_spte_rsvd_large): bits above
 * the host address width are reserved except the ignored bits 63 and 61:52; SNP (11) is
 * reserved unless snoop control or scalable mode; TM (62) is reserved unless device-IOTLB;
 * PS (7) is reserved in a level-4 (and level-5) entry; a 2 MiB leaf reserves 20:12 and a
 * 1 GiB leaf 29:12.
 */
public final class SlPte extends TableEntry<SlPte> {
    public static final int SIZE = 8;
    public static final long R = 1L;
    public static final long W = 1L << 1;
    public static final long PS = 1L << 7;
    public static final long SNP = 1L << 11;
    public static final long TM = 1L << 62;
    /** Bits QEMU ignores in every entry (VTD_SL_IGN_COM): 63 and 61:52. */
    public static final long IGNORED = 0xbff0000000000000L;

    public long value() {
        return quad(0);
    }

    public static long address(long table, long iova, int level) {
        return table + index(iova, level) * SIZE;
    }

    public static int index(long iova, int level) {
        return (int) (iova >>> levelShift(level)) & 0x1ff;
    }

    public static int levelShift(int level) {
        return 12 + (level - 1) * 9;
    }

    public static long pageSize(int level) {
        return 1L << levelShift(level);
    }

    public static boolean isReadable(long v) {
        return (v & R) != 0;
    }

    public static boolean isWritable(long v) {
        return (v & W) != 0;
    }

    public static boolean isPresent(long v) {
        return (v & (R | W)) != 0;
    }

    public static boolean isLeaf(long v, int level) {
        return level == 1 || (v & PS) != 0;
    }

    /** The next table or page frame, masked to the host address width. */
    public static long outputAddress(long v, int aw) {
        return v & ~0xfffL & VtdMath.hawMask(aw);
    }

    /**
     * Reserved bits for an entry at {@code level}. {@code snpAllowed}: ECAP.SC or scalable mode;
     * {@code tmAllowed}: device-IOTLB supported.
     */
    public static long reservedMask(long v, int level, int aw, boolean snpAllowed, boolean tmAllowed) {
        long keep = VtdMath.hawMask(aw) | IGNORED;
        long snp = snpAllowed ? 0 : SNP;
        return switch (level) {
            case 1 -> snp | ~(keep | (tmAllowed ? TM : 0));
            case 2 -> (v & PS) != 0 ? (0x1ff000L | snp | ~(keep | (tmAllowed ? TM : 0))) : (SNP | ~keep);
            case 3 -> (v & PS) != 0 ? (0x3ffff000L | snp | ~(keep | (tmAllowed ? TM : 0))) : (SNP | ~keep);
            default -> SNP | PS | ~keep;
        };
    }

    @Override
    protected String fields() {
        return describe(value());
    }

    public static String describe(long v) {
        return String.format("SlPte[R=%d W=%d EMT=%d IPAT=%d PS=%d SNP=%d ADDR=0x%x TM=%d raw=0x%x]",
                v & 1, (v >>> 1) & 1, (v >>> 3) & 7, (v >>> 6) & 1, (v >>> 7) & 1, (v >>> 11) & 1,
                v & 0x000ffffffffff000L, (v >>> 62) & 1, v);
    }
}
