package io.viommu.conformance;

/**
 * VT-d register offsets and field encodings as the generators need them (spec ch. 10 and 9;
 * QEMU 7.2 places the unit at 0xFED90000, IOTLB registers at 0xF0 and one fault record at 0x220).
 * Kept independent of the model's own constants on purpose: a shared mistake would hide.
 */
final class Vtd {
    static final long BASE = 0xFED9_0000L;
    static final int VER = 0x00, CAP = 0x08, ECAP = 0x10, GCMD = 0x18, GSTS = 0x1C, RTADDR = 0x20,
            CCMD = 0x28, FSTS = 0x34, FECTL = 0x38, FEDATA = 0x3C, FEADDR = 0x40, FEUADDR = 0x44,
            AFLOG = 0x58, PMEN = 0x64, PLMBASE = 0x68, PLMLIMIT = 0x6C, PHMBASE = 0x70, PHMLIMIT = 0x78,
            IQH = 0x80, IQT = 0x88, IQA = 0x90, ICS = 0x9C, IECTL = 0xA0, IEDATA = 0xA4, IEADDR = 0xA8,
            IEUADDR = 0xAC, IQER = 0xB0, IRTA = 0xB8, PQH = 0xC0, PQT = 0xC8, PQA = 0xD0, PRS = 0xDC,
            PECTL = 0xE0, PEDATA = 0xE4, PEADDR = 0xE8, PEUADDR = 0xEC, IVA = 0xF0, IOTLB = 0xF8,
            FRCD_LO = 0x220, FRCD_HI = 0x228, END = 0x230;

    // GCMD/GSTS bits (spec 10.4.4/10.4.5): same positions in both registers.
    static final int TE = 1 << 31, SRTP = 1 << 30, SFL = 1 << 29, EAFL = 1 << 28, WBF = 1 << 27, QIE = 1 << 26,
            IRE = 1 << 25, SIRTP = 1 << 24, CFI = 1 << 23;

    // FSTS (10.4.9): PFO 0 (RW1C), PPF 1 (RO), IQE 4, ICE 5, ITE 6 (RW1C), FRI 15:8.
    static final int FSTS_PFO = 1, FSTS_PPF = 2, FSTS_IQE = 1 << 4, FSTS_W1C = 0x71;
    // FECTL/IECTL: IM 31, IP 30.
    static final long IM = 1L << 31, IP = 1L << 30;

    // CCMD (10.4.7): ICC 63, CIRG 62:61, FM 33:32, SID 31:16, DID 15:0.
    static long ccmdGlobal() { return 1L << 63 | 1L << 61; }
    static long ccmdDomain(int did) { return 1L << 63 | 2L << 61 | did; }
    static long ccmdDevice(int did, int sid) { return 1L << 63 | 3L << 61 | (long) sid << 16 | did; }

    // IOTLB (10.4.8.1): IVT 63, IIRG 61:60, DR 49, DW 48, DID 47:32. IVA: ADDR 63:12, IH 6, AM 5:0.
    static long iotlbGlobal() { return 1L << 63 | 1L << 60; }
    static long iotlbDomain(int did) { return 1L << 63 | 2L << 60 | (long) did << 32; }
    static long iotlbPage(int did) { return 1L << 63 | 3L << 60 | (long) did << 32; }

    // Fault record high quadword (10.4.14): F 63, T 62 (1 = read), FR 39:32, SID 15:0.
    static final long FRCD_F = 1L << 63, FRCD_T = 1L << 62;
    static final long FRCD_HI_MASK = FRCD_F | FRCD_T | 0xFFL << 32 | 0xFFFF;

    static long frcdHi(int reason, int sid, boolean read) {
        return FRCD_F | (read ? FRCD_T : 0) | (long) reason << 32 | sid;
    }

    // Legacy fault reasons (spec 7.1.3 table).
    static final int FR_ROOT_NOT_PRESENT = 1, FR_CTX_NOT_PRESENT = 2, FR_CTX_INVALID = 3, FR_BEYOND_AGAW = 4,
            FR_WRITE = 5, FR_READ = 6, FR_PAGING_ACCESS = 7, FR_ROOT_TABLE_INVALID = 8, FR_CTP_INVALID = 9,
            FR_ROOT_RSVD = 0xA, FR_CTX_RSVD = 0xB, FR_PAGING_RSVD = 0xC, FR_TT_BLOCKED = 0xD;

    // Invalidation descriptors (6.5.2), 128-bit.
    static long[] ccDescGlobal() { return new long[] {1 | 1 << 4, 0}; }
    static long[] ccDescDomain(int did) { return new long[] {1 | 2 << 4 | (long) did << 16, 0}; }
    static long[] ccDescDevice(int did, int sid) { return new long[] {1 | 3 << 4 | (long) did << 16 | (long) sid << 32, 0}; }
    static long[] iotlbDescGlobal() { return new long[] {2 | 1 << 4, 0}; }
    static long[] iotlbDescDomain(int did) { return new long[] {2 | 2 << 4 | (long) did << 16, 0}; }
    static long[] iotlbDescPage(int did, long addr, int am) { return new long[] {2 | 3 << 4 | (long) did << 16, addr | am}; }
    /** Wait descriptor: SW (status write of {@code data} to {@code addr}) and/or IF; never both (QEMU asserts). */
    static long[] waitDesc(boolean sw, boolean fn, boolean iflag, int data, long addr) {
        return new long[] {5 | (iflag ? 1 << 4 : 0) | (sw ? 1 << 5 : 0) | (fn ? 1 << 6 : 0) | (long) data << 32, addr};
    }

    static long reg(int off) {
        return BASE + off;
    }

    private Vtd() {}
}
