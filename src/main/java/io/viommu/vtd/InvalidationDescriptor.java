package io.viommu.vtd;

/**
 * Decoders for queued-invalidation descriptors (VT-d spec 6.5.2; reference/vtd.md), with
 * QEMU 7.2's reserved-bit masks (intel_iommu_internal.h), under which a descriptor is an
 * invalidation queue error (IQE). Each descriptor is read as two quads (lo, hi); in 256-bit
 * mode the upper two quads are fetched and ignored, as QEMU does for legacy types.
 */
public final class InvalidationDescriptor {
    private InvalidationDescriptor() {
    }

    public static final int TYPE_CONTEXT_CACHE = 1;
    public static final int TYPE_IOTLB = 2;
    public static final int TYPE_DEVICE_TLB = 3;
    public static final int TYPE_IEC = 4;
    public static final int TYPE_WAIT = 5;
    public static final int TYPE_PASID_IOTLB = 6;
    public static final int TYPE_PASID_CACHE = 7;
    /** QEMU's iq_last_desc_type after a failed fetch. */
    public static final int TYPE_NONE = 0;

    public static int type(long lo) {
        return (int) lo & 0xf;
    }

    // Context-cache: G 5:4, DID 31:16, SID 47:32, FM 49:48.
    public static final long CC_RESERVED_LO = 0xfffc00000000ffc0L;

    public static int ccGranularity(long lo) {
        return (int) (lo >>> 4) & 3;
    }

    public static int ccDid(long lo) {
        return (int) (lo >>> 16) & 0xffff;
    }

    public static int ccSid(long lo) {
        return (int) (lo >>> 32) & 0xffff;
    }

    public static int ccFm(long lo) {
        return (int) (lo >>> 48) & 3;
    }

    // IOTLB: G 5:4, DW 6, DR 7, DID 31:16; hi: AM 5:0, IH 6, ADDR 63:12.
    public static final long IOTLB_RESERVED_LO = 0xffffffff0000ff00L;
    public static final long IOTLB_RESERVED_HI = 0xf80L;

    public static int iotlbGranularity(long lo) {
        return (int) (lo >>> 4) & 3;
    }

    public static int iotlbDid(long lo) {
        return (int) (lo >>> 16) & 0xffff;
    }

    public static long iotlbAddr(long hi) {
        return hi & ~0xfffL;
    }

    public static int iotlbAm(long hi) {
        return (int) hi & 0x3f;
    }

    // Device-TLB: SID 47:32 (MIP 20:16 allowed); hi: S 0, ADDR 63:12.
    public static final long DEV_TLB_RESERVED_LO = 0xffff0000ffe0fff8L;
    public static final long DEV_TLB_RESERVED_HI = 0xffeL;

    public static int devTlbSid(long lo) {
        return (int) (lo >>> 32) & 0xffff;
    }

    public static boolean devTlbSize(long hi) {
        return (hi & 1) != 0;
    }

    public static long devTlbAddr(long hi) {
        return hi & ~0xfffL;
    }

    // Interrupt entry cache: G 4 (1 = index-selective), IM 31:27, IIDX 47:32. QEMU checks no reserved bits.
    public static boolean iecIndexSelective(long lo) {
        return (lo & (1L << 4)) != 0;
    }

    public static int iecIndexMask(long lo) {
        return (int) (lo >>> 27) & 0x1f;
    }

    public static int iecIndex(long lo) {
        return (int) (lo >>> 32) & 0xffff;
    }

    // Wait: IF 4, SW 5, FN 6, (PD 7 reserved for QEMU), status data 63:32; hi: status address 63:2.
    public static final long WAIT_IF = 1L << 4;
    public static final long WAIT_SW = 1L << 5;
    public static final long WAIT_FN = 1L << 6;
    public static final long WAIT_RESERVED_LO = 0xffffff80L;
    public static final long WAIT_RESERVED_HI = 0x3L;

    public static int waitStatusData(long lo) {
        return (int) (lo >>> 32);
    }

    public static String describe(long lo, long hi) {
        return switch (type(lo)) {
            case TYPE_CONTEXT_CACHE -> String.format("cc-inv[G=%d DID=%d SID=0x%04x FM=%d]",
                    ccGranularity(lo), ccDid(lo), ccSid(lo), ccFm(lo));
            case TYPE_IOTLB -> String.format("iotlb-inv[G=%d DR=%d DW=%d DID=%d ADDR=0x%x IH=%d AM=%d]",
                    iotlbGranularity(lo), (lo >>> 7) & 1, (lo >>> 6) & 1, iotlbDid(lo), iotlbAddr(hi),
                    (hi >>> 6) & 1, iotlbAm(hi));
            case TYPE_DEVICE_TLB -> String.format("dev-tlb-inv[SID=0x%04x S=%d ADDR=0x%x]",
                    devTlbSid(lo), hi & 1, devTlbAddr(hi));
            case TYPE_IEC -> String.format("iec-inv[G=%d IM=%d IIDX=%d]",
                    (lo >>> 4) & 1, iecIndexMask(lo), iecIndex(lo));
            case TYPE_WAIT -> String.format("wait[IF=%d SW=%d FN=%d data=0x%x addr=0x%x]",
                    (lo >>> 4) & 1, (lo >>> 5) & 1, (lo >>> 6) & 1, waitStatusData(lo), hi & ~3L);
            default -> String.format("desc[type=%d lo=0x%x hi=0x%x]", type(lo), lo, hi);
        };
    }
}
