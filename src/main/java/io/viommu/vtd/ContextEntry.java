package io.viommu.vtd;

/**
 * A legacy-mode context entry (VT-d spec 9.3): 128 bits, 256 per context table, indexed by
 * devfn. Lo: P 0, FPD 1, TT 3:2, (11:4 reserved), SLPTPTR 63:12.
 * Hi: AW 2:0, AVAIL 6:3, (7 reserved), DID 23:8, (63:24 reserved).
 */
public final class ContextEntry extends TableEntry<ContextEntry> {
    public static final int SIZE = 16;
    public static final long P = 1L;
    public static final long FPD = 1L << 1;
    public static final int TT_SHIFT = 2;
    /** TT 00: untranslated requests only, through second-level tables. */
    public static final int TT_MULTI_LEVEL = 0;
    /** TT 01: also translation requests (device-TLB); needs ECAP.DT. */
    public static final int TT_DEV_IOTLB = 1;
    /** TT 10: pass-through; needs ECAP.PT. */
    public static final int TT_PASS_THROUGH = 2;
    public static final long SLPTPTR_MASK = ~0xfffL;
    /** Reserved bits of the high quad (QEMU VTD_CONTEXT_ENTRY_RSVD_HI). */
    public static final long RESERVED_HI = 0xffffffffff000080L;

    public long lo() {
        return quad(0);
    }

    public long hi() {
        return quad(1);
    }

    public static long address(long contextTable, int devfn) {
        return contextTable + (long) (devfn & 0xff) * SIZE;
    }

    public static boolean isPresent(long lo) {
        return (lo & P) != 0;
    }

    public static boolean faultProcessingDisabled(long lo) {
        return (lo & FPD) != 0;
    }

    public static int translationType(long lo) {
        return (int) (lo >>> TT_SHIFT) & 3;
    }

    public static long secondLevelTable(long lo) {
        return lo & SLPTPTR_MASK;
    }

    public static int addressWidthField(long hi) {
        return (int) hi & 7;
    }

    /** Levels of the second-level walk: AW 1 = 3 levels (39 bits), 2 = 4 (48), 3 = 5 (57). */
    public static int levels(long hi) {
        return 2 + addressWidthField(hi);
    }

    /** Adjusted guest address width in bits: 30 + 9 * AW. */
    public static int agaw(long hi) {
        return 30 + addressWidthField(hi) * 9;
    }

    public static int domainId(long hi) {
        return (int) (hi >>> 8) & 0xffff;
    }

    public static long reservedLo(int aw) {
        return 0xff0L | ~VtdMath.hawMask(aw);
    }

    public static boolean hasReservedBits(long lo, long hi, int aw) {
        return (hi & RESERVED_HI) != 0 || (lo & reservedLo(aw)) != 0;
    }

    @Override
    protected String fields() {
        return describe(lo(), hi());
    }

    public static String describe(long lo, long hi) {
        return String.format("ContextEntry[P=%d FPD=%d TT=%d SLPTPTR=0x%x AW=%d AVAIL=0x%x DID=%d lo=0x%x hi=0x%x]",
                lo & 1, (lo >>> 1) & 1, translationType(lo), secondLevelTable(lo), addressWidthField(hi),
                (hi >>> 3) & 0xf, domainId(hi), lo, hi);
    }

    /**
     * Whether a device-selective context invalidation of {@code sid} with function mask
     * {@code fm} covers source {@code other} (VT-d 10.4.7: FM 1, 2, 3 mask SID bits 2, 2:1, 2:0;
     * QEMU vtd_context_device_invalidate). The one definition: the context and PASID caches
     * and the map/unmap notifier all use it.
     */
    public static boolean coveredByFunctionMask(int other, int sid, int fm) {
        int mask = switch (fm & 3) {
            case 0 -> 0;
            case 1 -> 4;
            case 2 -> 6;
            default -> 7;
        };
        return ((other & 0xffff) | mask) == ((sid & 0xffff) | mask);
    }
}
