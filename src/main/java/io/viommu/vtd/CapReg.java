package io.viommu.vtd;

/**
 * The Capability register (CAP_REG, offset 0x08; VT-d 3.4 section 11.4.2): the one bit layout
 * of it in viommu. {@link VtdConfig#cap()} composes the model's value from these fields; the
 * Linux model decodes what it reads over MMIO with the same decoders (Linux's cap_* macros in
 * include/linux/intel-iommu.h, 6.1: drivers/iommu/intel/iommu.h).
 * <pre>
 *  63    ESRTPS  enhanced set root table pointer support (no global flush after SRTP)
 *  62    ESIRTPS enhanced set interrupt root table pointer support
 *  60    FL5LP   first-level 5-level paging
 *  59    PI      posted interrupts
 *  56    FL1GP   first-level 1 GiB pages
 *  55    DRD     read draining
 *  54    DWD     write draining
 *  53:48 MAMV    maximum address mask value (page-selective invalidation)
 *  47:40 NFR     number of fault recording registers - 1
 *  39    PSI     page-selective invalidation
 *  37:34 SLLPS   second-level large pages: bit 34 2 MiB, bit 35 1 GiB
 *  33:24 FRO     fault recording register offset, in 16-byte units
 *  22    ZLR     zero-length read
 *  21:16 MGAW    maximum guest address width - 1
 *  12:8  SAGAW   supported adjusted guest address widths: bit 1 39-bit, 2 48-bit, 3 57-bit
 *  7     CM      caching mode
 *  6     PHMR    protected high-memory region
 *  5     PLMR    protected low-memory region
 *  4     RWBF    required write-buffer flushing
 *  2:0   ND      number of domains: 2^(4 + 2*ND)
 * </pre>
 */
public final class CapReg {
    public static final long ND_MASK = 0x7;
    public static final long RWBF = 1L << 4;
    public static final long CM = 1L << 7;
    public static final int SAGAW_SHIFT = 8;
    public static final long SAGAW_MASK = 0x1fL << SAGAW_SHIFT;
    /** SAGAW bit for 39-bit (3-level) tables. */
    public static final long SAGAW_39 = 0x2L << SAGAW_SHIFT;
    /** SAGAW bit for 48-bit (4-level) tables. */
    public static final long SAGAW_48 = 0x4L << SAGAW_SHIFT;
    /** SAGAW bit for 57-bit (5-level) tables. */
    public static final long SAGAW_57 = 0x8L << SAGAW_SHIFT;
    public static final int MGAW_SHIFT = 16;
    public static final long MGAW_MASK = 0x3fL << MGAW_SHIFT;
    public static final int FRO_SHIFT = 24;
    public static final long FRO_MASK = 0x3ffL << FRO_SHIFT;
    public static final int SLLPS_SHIFT = 34;
    /** SLLPS: 2 MiB second-level pages. */
    public static final long SLLPS_2M = 1L << 34;
    /** SLLPS: 1 GiB second-level pages. */
    public static final long SLLPS_1G = 1L << 35;
    public static final long PSI = 1L << 39;
    public static final int NFR_SHIFT = 40;
    public static final long NFR_MASK = 0xffL << NFR_SHIFT;
    public static final int MAMV_SHIFT = 48;
    public static final long MAMV_MASK = 0x3fL << MAMV_SHIFT;
    public static final long DWD = 1L << 54;
    public static final long DRD = 1L << 55;
    public static final long FL1GP = 1L << 56;
    public static final long PI = 1L << 59;
    public static final long FL5LP = 1L << 60;
    public static final long ESIRTPS = 1L << 62;
    public static final long ESRTPS = 1L << 63;

    private CapReg() {
    }

    /** The FRO field for fault recording registers at byte offset {@code offset} (16-byte aligned). */
    public static long fro(int offset) {
        return ((long) offset >> 4) << FRO_SHIFT;
    }

    /** The NFR field for {@code records} fault recording registers (1..256). */
    public static long nfr(int records) {
        return (long) (records - 1) << NFR_SHIFT;
    }

    /** The MGAW field for a maximum guest address width of {@code bits}. */
    public static long mgawField(int bits) {
        return (long) ((bits - 1) & 0x3f) << MGAW_SHIFT;
    }

    /** The MAMV field. */
    public static long mamvField(int mamv) {
        return (long) (mamv & 0x3f) << MAMV_SHIFT;
    }

    // ---- decoders (Linux cap_* macros) ----

    /** cap_ndoms: 2^(4 + 2*ND) domain ids. */
    public static long domains(long cap) {
        return 1L << (4 + 2 * (cap & ND_MASK));
    }

    public static boolean rwbf(long cap) {
        return (cap & RWBF) != 0;
    }

    public static boolean cachingMode(long cap) {
        return (cap & CM) != 0;
    }

    /** cap_sagaw: the 5-bit SAGAW field (bit n set: an n+2-level table is supported). */
    public static int sagaw(long cap) {
        return (int) ((cap & SAGAW_MASK) >>> SAGAW_SHIFT);
    }

    /** Whether SAGAW offers AGAW {@code agaw} (0: 30-bit, 1: 39-bit, 2: 48-bit, 3: 57-bit, 4: 64-bit). */
    public static boolean supportsAgaw(long cap, int agaw) {
        return agaw >= 0 && agaw <= 4 && (sagaw(cap) >>> agaw & 1) != 0;
    }

    /** cap_mgaw: the maximum guest address width in bits. */
    public static int mgaw(long cap) {
        return (int) ((cap & MGAW_MASK) >>> MGAW_SHIFT) + 1;
    }

    /** cap_fault_reg_offset: byte offset of the first fault recording register. */
    public static int faultRecordOffset(long cap) {
        return (int) ((cap & FRO_MASK) >>> FRO_SHIFT) * 16;
    }

    /** cap_num_fault_regs: how many fault recording registers the unit has. */
    public static int faultRecordCount(long cap) {
        return (int) ((cap & NFR_MASK) >>> NFR_SHIFT) + 1;
    }

    /** cap_max_fault_reg_offset: the end of the fault recording registers, a register-block size. */
    public static int faultRecordsEnd(long cap) {
        return faultRecordOffset(cap) + 16 * faultRecordCount(cap);
    }

    /** cap_super_page_val: the SLLPS field (bit 0 2 MiB, bit 1 1 GiB). */
    public static int superPages(long cap) {
        return (int) (cap >>> SLLPS_SHIFT) & 0xf;
    }

    public static boolean psi(long cap) {
        return (cap & PSI) != 0;
    }

    /** cap_max_amask_val. */
    public static int mamv(long cap) {
        return (int) ((cap & MAMV_MASK) >>> MAMV_SHIFT);
    }

    public static boolean writeDrain(long cap) {
        return (cap & DWD) != 0;
    }

    public static boolean readDrain(long cap) {
        return (cap & DRD) != 0;
    }

    public static boolean firstLevel1GPages(long cap) {
        return (cap & FL1GP) != 0;
    }

    public static boolean postedInterrupts(long cap) {
        return (cap & PI) != 0;
    }

    public static boolean firstLevel5Level(long cap) {
        return (cap & FL5LP) != 0;
    }

    /** cap_esrtps: SRTP needs no global context/IOTLB invalidation after it. */
    public static boolean esrtps(long cap) {
        return (cap & ESRTPS) != 0;
    }
}
