package io.viommu.vtd;

/**
 * A scalable-mode context entry (VT-d spec 9.4): 256 bits, 128 per context table, indexed by
 * devfn bits 6:0 (bit 7 chooses the root entry half).
 * <pre>
 *  Q0: P 0, FPD 1, DTE 2 (device-TLB enable), PASIDE 3, PRE 4, (8:5 reserved), PDTS 11:9
 *      (PASID directory of 2^(PDTS+7) entries), PASIDDIRPTR 63:12
 *  Q1: RID_PASID 19:0 (PASID used for requests without PASID), RID_PRIV 20 (their privilege:
 *      1 supervisor), 63:21 reserved
 *  Q2, Q3: reserved
 * </pre>
 * Reserved masks are QEMU 7.2's (VTD_SM_CONTEXT_ENTRY_RSVD_VAL0/1; Q2/Q3 must be zero).
 */
public final class ScalableContextEntry extends TableEntry<ScalableContextEntry> {
    public static final int SIZE = 32;
    public static final long P = 1L;
    public static final long FPD = 1L << 1;
    public static final long DTE = 1L << 2;
    public static final long PASIDE = 1L << 3;
    public static final long PRE = 1L << 4;
    public static final long RESERVED_Q1 = 0xffffffffffe00000L;
    public static final long RID_PRIV = 1L << 20;

    public static long address(long contextTable, int devfn) {
        return contextTable + (long) (devfn & 0x7f) * SIZE;
    }

    public static boolean isPresent(long q0) {
        return (q0 & P) != 0;
    }

    public static boolean faultProcessingDisabled(long q0) {
        return (q0 & FPD) != 0;
    }

    public static boolean deviceTlbEnabled(long q0) {
        return (q0 & DTE) != 0;
    }

    public static boolean pasidEnabled(long q0) {
        return (q0 & PASIDE) != 0;
    }

    /** Entries in the PASID directory: 2^(PDTS+7). */
    public static int pasidDirEntries(long q0) {
        return 1 << (((int) (q0 >>> 9) & 7) + 7);
    }

    public static long pasidDirTable(long q0) {
        return q0 & ~0xfffL;
    }

    public static int ridPasid(long q1) {
        return (int) q1 & 0xfffff;
    }

    public static boolean ridPrivileged(long q1) {
        return (q1 & RID_PRIV) != 0;
    }

    public static long reservedQ0(int aw) {
        return 0x1e0L | ~VtdMath.hawMask(aw);
    }

    public static boolean hasReservedBits(long q0, long q1, long q2, long q3, int aw) {
        return (q0 & reservedQ0(aw)) != 0 || (q1 & RESERVED_Q1) != 0 || q2 != 0 || q3 != 0;
    }

    @Override
    protected String fields() {
        return describe(quad(0), quad(1));
    }

    public static String describe(long q0, long q1) {
        return String.format("ScalableContextEntry[P=%d FPD=%d DTE=%d PASIDE=%d PRE=%d PDTS=%d PASIDDIRPTR=0x%x "
                        + "RID_PASID=0x%x RID_PRIV=%d]", q0 & 1, (q0 >>> 1) & 1, (q0 >>> 2) & 1, (q0 >>> 3) & 1,
                (q0 >>> 4) & 1, (q0 >>> 9) & 7, pasidDirTable(q0), ridPasid(q1), (q1 >>> 20) & 1);
    }
}
