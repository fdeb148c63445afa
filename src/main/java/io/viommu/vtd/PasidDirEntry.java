package io.viommu.vtd;

/**
 * A scalable-mode PASID directory entry (VT-d spec 9.5): 64 bits, indexed by PASID[19:6].
 * P 0, FPD 1, (11:2 reserved), PASID table pointer 63:12 (a table of 64 PASID entries).
 */
public final class PasidDirEntry extends TableEntry<PasidDirEntry> {
    public static final int SIZE = 8;
    public static final long P = 1L;
    public static final long FPD = 1L << 1;

    public static int index(int pasid) {
        return (pasid >>> 6) & 0x3fff;
    }

    public static long address(long dirTable, int pasid) {
        return dirTable + (long) index(pasid) * SIZE;
    }

    public static boolean isPresent(long v) {
        return (v & P) != 0;
    }

    public static boolean faultProcessingDisabled(long v) {
        return (v & FPD) != 0;
    }

    public static long pasidTable(long v) {
        return v & ~0xfffL;
    }

    public static long reserved(int aw) {
        return 0xffcL | ~VtdMath.hawMask(aw);
    }

    @Override
    protected String fields() {
        long v = quad(0);
        return String.format("PasidDirEntry[P=%d FPD=%d PTP=0x%x]", v & 1, (v >>> 1) & 1, pasidTable(v));
    }
}
