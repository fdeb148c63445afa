package io.viommu.vtd;

/**
 * A scalable-mode PASID table entry (VT-d spec 9.6): 512 bits, 64 per table, indexed by
 * PASID[5:0]. The fields this model uses:
 * <pre>
 *  Q0: P 0, FPD 1, AW 4:2 (second level: 1 = 3-level, 2 = 4, 3 = 5), SSEE 5, PGTT 8:6,
 *      SSADE 9, (11:10 reserved), SLPTPTR 63:12
 *  Q1: DID 15:0, (22:16 reserved), PWSNP 23, PGSNP 24, CD 25, EMTE 26, EMT 29:27, PWT 30,
 *      PCD 31, PAT 63:32
 *  Q2: SRE 0 (supervisor requests enable), ERE 1 (execute requests enable), FLPM 3:2
 *      (0 = 4-level, 1 = 5-level first level), WPE 4, NXE 5, SMEP 6, EAFE 7, (11:8 reserved),
 *      FLPTPTR 63:12
 *  Q3..Q7: reserved here
 * </pre>
 * PGTT: 1 first-level only, 2 second-level only, 3 nested, 4 pass-through.
 */
public final class PasidEntry extends TableEntry<PasidEntry> {
    public static final int SIZE = 64;
    public static final long P = 1L;
    public static final long FPD = 1L << 1;
    public static final int PGTT_FIRST_LEVEL = 1;
    public static final int PGTT_SECOND_LEVEL = 2;
    public static final int PGTT_NESTED = 3;
    public static final int PGTT_PASS_THROUGH = 4;
    public static final long SSADE = 1L << 9;
    public static final long SRE = 1L;
    public static final long ERE = 1L << 1;
    public static final long WPE = 1L << 4;
    public static final long NXE = 1L << 5;
    public static final long RESERVED_Q1 = 0x7f0000L;

    public static int index(int pasid) {
        return pasid & 0x3f;
    }

    public static long address(long pasidTable, int pasid) {
        return pasidTable + (long) index(pasid) * SIZE;
    }

    public static boolean isPresent(long q0) {
        return (q0 & P) != 0;
    }

    public static boolean faultProcessingDisabled(long q0) {
        return (q0 & FPD) != 0;
    }

    public static int addressWidthField(long q0) {
        return (int) (q0 >>> 2) & 7;
    }

    /** Second-level walk levels (QEMU VTD_PE_GET_LEVEL): 2 + AW. */
    public static int secondLevelLevels(long q0) {
        return 2 + addressWidthField(q0);
    }

    public static int secondLevelAgaw(long q0) {
        return 30 + 9 * addressWidthField(q0);
    }

    public static int pgtt(long q0) {
        return (int) (q0 >>> 6) & 7;
    }

    public static long secondLevelTable(long q0) {
        return q0 & ~0xfffL;
    }

    public static int domainId(long q1) {
        return (int) q1 & 0xffff;
    }

    public static boolean supervisorRequests(long q2) {
        return (q2 & SRE) != 0;
    }

    public static boolean executeRequests(long q2) {
        return (q2 & ERE) != 0;
    }

    /** First-level walk levels: 4 (FLPM 0) or 5 (FLPM 1); FLPM 2 and 3 are reserved (-1). */
    public static int firstLevelLevels(long q2) {
        int flpm = (int) (q2 >>> 2) & 3;
        return flpm == 0 ? 4 : flpm == 1 ? 5 : -1;
    }

    public static boolean writeProtectEnable(long q2) {
        return (q2 & WPE) != 0;
    }

    public static boolean noExecuteEnable(long q2) {
        return (q2 & NXE) != 0;
    }

    public static long firstLevelTable(long q2) {
        return q2 & ~0xfffL;
    }

    /** Reserved bits of Q0 for host address width {@code aw}. */
    public static long reservedQ0(int aw) {
        return 0xc00L | (~VtdMath.hawMask(aw) & ~0xfffL);
    }

    public static long reservedQ2(int aw) {
        return 0xf00L | (~VtdMath.hawMask(aw) & ~0xfffL);
    }

    @Override
    protected String fields() {
        return describe(quad(0), quad(1), quad(2));
    }

    public static String describe(long q0, long q1, long q2) {
        return String.format("PasidEntry[P=%d FPD=%d AW=%d PGTT=%d SSADE=%d SLPTPTR=0x%x DID=%d SRE=%d ERE=%d "
                        + "FLPM=%d WPE=%d NXE=%d FLPTPTR=0x%x]", q0 & 1, (q0 >>> 1) & 1, addressWidthField(q0),
                pgtt(q0), (q0 >>> 9) & 1, secondLevelTable(q0), domainId(q1), q2 & 1, (q2 >>> 1) & 1,
                (q2 >>> 2) & 3, (q2 >>> 4) & 1, (q2 >>> 5) & 1, firstLevelTable(q2));
    }
}
