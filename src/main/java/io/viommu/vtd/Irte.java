package io.viommu.vtd;

/**
 * Decoders for a 128-bit interrupt remapping table entry in remapped format (VT-d spec 9.10;
 * QEMU 7.2 {@code VTD_IR_TableEntry}). An entry is read as two little-endian quads (lo, hi):
 * <pre>
 *  lo  0      P    present
 *      1      FPD  fault processing disable (qualified faults 0x22, 0x24, 0x26 not recorded)
 *      2      DM   destination mode (1 = logical)
 *      3      RH   redirection hint
 *      4      TM   trigger mode (1 = level)
 *      7:5    DLM  delivery mode
 *      11:8   AVAIL (software)
 *      14:12  reserved
 *      15     IM   IRTE mode (1 = posted; QEMU 7.2 ignores it, see {@link #posted})
 *      23:16  V    vector
 *      31:24  reserved
 *      63:32  DST  destination: x2APIC id (IRTA.EIME = 1), else xAPIC id in bits 47:40
 *  hi  15:0   SID  source id to validate against
 *      17:16  SQ   source-id qualifier (SVT = 01: which low requester-id bits to ignore)
 *      19:18  SVT  source validation type (00 none, 01 requester id, 10 bus range, 11 reserved)
 *      63:20  reserved
 * </pre>
 */
public final class Irte {
    private Irte() {
    }

    public static final int SIZE = 16;

    public static final long P = 1L;
    public static final long FPD = 1L << 1;
    public static final long DM = 1L << 2;
    public static final long RH = 1L << 3;
    public static final long TM = 1L << 4;
    public static final long IM = 1L << 15;
    /** QEMU 7.2's reserved fields of the low quad: 14:12 and 31:24 (the xAPIC-mode DST bits are not checked). */
    public static final long RESERVED_LO = 0x0000_0000_ff00_7000L;
    /** Reserved bits 127:84 of the entry (QEMU {@code __reserved_2}). */
    public static final long RESERVED_HI = 0xffff_ffff_fff0_0000L;

    public static final int SVT_NONE = 0;
    public static final int SVT_REQUESTER_ID = 1;
    public static final int SVT_BUS_RANGE = 2;

    /** SVT = 01: the requester-id bits compared for each SQ value (spec table 9-x; QEMU vtd_svt_mask). */
    private static final int[] SQ_MASK = {0xffff, 0xfffb, 0xfff9, 0xfff8};

    public static long address(long tableBase, int index) {
        return tableBase + (long) index * SIZE;
    }

    public static boolean isPresent(long lo) {
        return (lo & P) != 0;
    }

    public static boolean faultProcessingDisabled(long lo) {
        return (lo & FPD) != 0;
    }

    public static boolean logicalDestination(long lo) {
        return (lo & DM) != 0;
    }

    public static boolean redirectionHint(long lo) {
        return (lo & RH) != 0;
    }

    public static boolean levelTriggered(long lo) {
        return (lo & TM) != 0;
    }

    public static int deliveryMode(long lo) {
        return (int) (lo >>> 5) & 7;
    }

    /** IM: a posted-format entry. CAP.PI is 0 (as QEMU), and QEMU 7.2 reads such an entry as remapped format. */
    public static boolean posted(long lo) {
        return (lo & IM) != 0;
    }

    public static int vector(long lo) {
        return (int) (lo >>> 16) & 0xff;
    }

    /** The DST field, bits 63:32. */
    public static int rawDestination(long lo) {
        return (int) (lo >>> 32);
    }

    /**
     * The destination APIC id: all 32 bits of DST in x2APIC mode (IRTA.EIME), else bits 47:40
     * (QEMU vtd_remap_irq_get: {@code (dest & 0xff00) >> 8}).
     */
    public static int destination(long lo, boolean eime) {
        int dst = rawDestination(lo);
        return eime ? dst : (dst >>> 8) & 0xff;
    }

    public static boolean hasReservedBits(long lo, long hi) {
        return (lo & RESERVED_LO) != 0 || (hi & RESERVED_HI) != 0;
    }

    public static int sourceId(long hi) {
        return (int) hi & 0xffff;
    }

    public static int sourceQualifier(long hi) {
        return (int) (hi >>> 16) & 3;
    }

    public static int sourceValidationType(long hi) {
        return (int) (hi >>> 18) & 3;
    }

    /**
     * Source validation (spec 9.10 SVT/SQ; QEMU vtd_irte_get): SVT 00 accepts any requester;
     * 01 compares requester and SID under the SQ mask; 10 accepts buses SID[7:0]..SID[15:8];
     * 11 (reserved) fails, as QEMU treats it.
     */
    public static boolean sourceAllowed(long hi, int requesterId) {
        int sid = sourceId(hi);
        return switch (sourceValidationType(hi)) {
            case SVT_NONE -> true;
            case SVT_REQUESTER_ID -> {
                int mask = SQ_MASK[sourceQualifier(hi)];
                yield (sid & mask) == (requesterId & mask);
            }
            case SVT_BUS_RANGE -> {
                int bus = (requesterId >>> 8) & 0xff;
                yield bus >= (sid & 0xff) && bus <= (sid >>> 8);
            }
            default -> false;
        };
    }

    public static String describe(long lo, long hi) {
        return String.format("IRTE[P=%d FPD=%d DM=%d RH=%d TM=%d DLM=%d IM=%d V=0x%02x DST=0x%08x SID=0x%04x "
                        + "SQ=%d SVT=%d rsvd=%b lo=0x%016x hi=0x%016x]", lo & 1, (lo >>> 1) & 1, (lo >>> 2) & 1,
                (lo >>> 3) & 1, (lo >>> 4) & 1, deliveryMode(lo), (lo >>> 15) & 1, vector(lo),
                rawDestination(lo), sourceId(hi), sourceQualifier(hi), sourceValidationType(hi),
                hasReservedBits(lo, hi), lo, hi);
    }
}
