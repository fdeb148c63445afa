package io.viommu.vtd;

/**
 * The Extended Capability register (ECAP_REG, offset 0x10; VT-d 3.4 section 11.4.3): the one bit
 * layout of it in viommu. {@link VtdConfig#ecap()} composes the model's value from these fields;
 * the Linux model decodes what it reads over MMIO with the same decoders (Linux's ecap_*
 * macros).
 * <pre>
 *  47    FLTS  first-level translation (scalable mode)
 *  46    SLTS  second-level translation (scalable mode)
 *  43    SMTS  scalable mode translation
 *  41    DIT   device-TLB invalidation throttling
 *  40    PASID process address space ids
 *  31    SRS   supervisor requests
 *  29    PRS   page requests
 *  26    NEST  nested translation
 *  23:20 MHMV  maximum handle mask value (interrupt entry cache invalidation)
 *  17:8  IRO   IOTLB register offset, in 16-byte units
 *  7     SC    snoop control
 *  6     PT    pass-through translation type
 *  4     EIM   extended interrupt mode (x2APIC)
 *  3     IR    interrupt remapping
 *  2     DT    device-TLB (ATS)
 *  1     QI    queued invalidation
 *  0     C     page-walk coherency
 * </pre>
 */
public final class EcapReg {
    public static final long C = 1L;
    public static final long QI = 1L << 1;
    public static final long DT = 1L << 2;
    public static final long IR = 1L << 3;
    public static final long EIM = 1L << 4;
    public static final long PT = 1L << 6;
    public static final long SC = 1L << 7;
    public static final int IRO_SHIFT = 8;
    public static final long IRO_MASK = 0x3ffL << IRO_SHIFT;
    public static final int MHMV_SHIFT = 20;
    public static final long MHMV_MASK = 0xfL << MHMV_SHIFT;
    public static final long NEST = 1L << 26;
    public static final long PRS = 1L << 29;
    public static final long SRS = 1L << 31;
    public static final long PASID = 1L << 40;
    public static final long SMTS = 1L << 43;
    public static final long SLTS = 1L << 46;
    public static final long FLTS = 1L << 47;

    private EcapReg() {
    }

    /** The IRO field for IOTLB registers at byte offset {@code offset} (16-byte aligned). */
    public static long iro(int offset) {
        return ((long) offset >> 4) << IRO_SHIFT;
    }

    // ---- decoders (Linux ecap_* macros) ----

    public static boolean coherent(long ecap) {
        return (ecap & C) != 0;
    }

    /** ecap_qis. */
    public static boolean queuedInvalidation(long ecap) {
        return (ecap & QI) != 0;
    }

    /** ecap_dev_iotlb_support. */
    public static boolean deviceIotlb(long ecap) {
        return (ecap & DT) != 0;
    }

    /** DIT, bit 41 (never set by the model, as QEMU 7.2): without it PFSID of a device-TLB invalidation is reserved. */
    public static final long DIT = 1L << 41;

    public static boolean deviceTlbThrottling(long ecap) {
        return (ecap & DIT) != 0;
    }

    /** ecap_ir_support. */
    public static boolean interruptRemapping(long ecap) {
        return (ecap & IR) != 0;
    }

    /** ecap_eim_support. */
    public static boolean extendedInterruptMode(long ecap) {
        return (ecap & EIM) != 0;
    }

    /** ecap_pass_through. */
    public static boolean passThrough(long ecap) {
        return (ecap & PT) != 0;
    }

    /** ecap_sc_support. */
    public static boolean snoopControl(long ecap) {
        return (ecap & SC) != 0;
    }

    /** ecap_iotlb_offset: byte offset of the IOTLB registers (IVA, then IOTLB at +8). */
    public static int iotlbOffset(long ecap) {
        return (int) ((ecap & IRO_MASK) >>> IRO_SHIFT) * 16;
    }

    /** ecap_max_iotlb_offset: the end of the IOTLB registers, a register-block size. */
    public static int iotlbEnd(long ecap) {
        return iotlbOffset(ecap) + 16;
    }

    /** ecap_max_handle_mask. */
    public static int maxHandleMask(long ecap) {
        return (int) ((ecap & MHMV_MASK) >>> MHMV_SHIFT);
    }

    public static boolean nested(long ecap) {
        return (ecap & NEST) != 0;
    }

    public static boolean pageRequests(long ecap) {
        return (ecap & PRS) != 0;
    }

    public static boolean pasid(long ecap) {
        return (ecap & PASID) != 0;
    }

    /** ecap_smts. */
    public static boolean scalableMode(long ecap) {
        return (ecap & SMTS) != 0;
    }

    /** ecap_slts. */
    public static boolean secondLevel(long ecap) {
        return (ecap & SLTS) != 0;
    }

    /** ecap_flts. */
    public static boolean firstLevel(long ecap) {
        return (ecap & FLTS) != 0;
    }
}
