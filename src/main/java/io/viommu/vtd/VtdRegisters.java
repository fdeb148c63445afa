package io.viommu.vtd;

import java.util.ArrayList;
import java.util.List;

/**
 * The VT-d register map: offsets, bit fields, and the table that declares every register's
 * reset value, write mask, write-1-to-clear mask and write-only (read-as-zero) bits once.
 * Values are QEMU 7.2's (vtd_init), checked against qemu-system-x86_64 over qtest; a bit that
 * is in neither the write mask nor the W1C mask is read-only.
 */
public final class VtdRegisters {
    private VtdRegisters() {
    }

    // ---- offsets (VT-d spec 10.4; reference/vtd.md) ----
    public static final int VER = 0x00;      // 32: 7:4 major, 3:0 minor; QEMU reports 1.0
    public static final int CAP = 0x08;      // 64: see VtdConfig.cap()
    public static final int ECAP = 0x10;     // 64: see VtdConfig.ecap()
    public static final int GCMD = 0x18;     // 32, write-only: 31 TE 30 SRTP 29 SFL 28 EAFL 27 WBF 26 QIE 25 IRE 24 SIRTP 23 CFI
    public static final int GSTS = 0x1C;     // 32, read-only: same positions (TES RTPS FLS AFLS WBFS QIES IRES IRTPS CFIS)
    public static final int RTADDR = 0x20;   // 64: 63:12 RTA, 11:10 TTM (bit 10 SMT)
    public static final int CCMD = 0x28;     // 64: 63 ICC, 62:61 CIRG, 60:59 CAIG, 33:32 FM, 31:16 SID, 15:0 DID
    public static final int FSTS = 0x34;     // 32: 15:8 FRI, 6 ITE, 5 ICE, 4 IQE (W1C), 1 PPF (RO), 0 PFO (W1C)
    public static final int FECTL = 0x38;    // 32: 31 IM (reset 1), 30 IP (RO)
    public static final int FEDATA = 0x3C;   // 32: 15:0 data
    public static final int FEADDR = 0x40;   // 32: 31:2 address
    public static final int FEUADDR = 0x44;  // 32: RsvdZ without EIM (QEMU: read-only 0)
    public static final int AFLOG = 0x58;    // 64: not supported (RO 0)
    public static final int PMEN = 0x64;     // 32: RO 0 (PLMR/PHMR clear in CAP)
    public static final int IQH = 0x80;      // 64: 18:4 queue head (RO)
    public static final int IQT = 0x88;      // 64: 18:4 queue tail
    public static final int IQA = 0x90;      // 64: 63:12 base, 11 DW, 2:0 QS
    public static final int ICS = 0x9C;      // 32: 0 IWC (W1C)
    public static final int IECTL = 0xA0;    // 32: 31 IM (reset 1), 30 IP (RO)
    public static final int IEDATA = 0xA4;   // 32
    public static final int IEADDR = 0xA8;   // 32: 31:2
    public static final int IEUADDR = 0xAC;  // 32: RsvdZ without EIM
    public static final int IQER = 0xB0;     // 64: not implemented by QEMU 7.2 (VER 1.0): reads 0
    public static final int IRTA = 0xB8;     // 64: 63:12 base, 11 EIME, 3:0 S
    public static final int IVA = 0xF0;      // 64, write-only: 63:12 ADDR, 6 IH, 5:0 AM
    public static final int IOTLB = 0xF8;    // 64: 63 IVT, 61:60 IIRG, 58:57 IAIG, 49 DR, 48 DW, 47:32 DID
    public static final int FRCD = VtdConfig.FRCD_OFFSET; // 128 each: lo FI 63:12; hi F 63, T 62, PV 59:40, FR 39:32, SID 15:0

    // ---- GCMD / GSTS bits ----
    public static final int GCMD_TE = 1 << 31;
    public static final int GCMD_SRTP = 1 << 30;
    public static final int GCMD_SFL = 1 << 29;
    public static final int GCMD_EAFL = 1 << 28;
    public static final int GCMD_WBF = 1 << 27;
    public static final int GCMD_QIE = 1 << 26;
    public static final int GCMD_IRE = 1 << 25;
    public static final int GCMD_SIRTP = 1 << 24;
    public static final int GCMD_CFI = 1 << 23;
    public static final int GSTS_TES = GCMD_TE;
    public static final int GSTS_RTPS = GCMD_SRTP;
    public static final int GSTS_QIES = GCMD_QIE;
    public static final int GSTS_IRES = GCMD_IRE;
    public static final int GSTS_IRTPS = GCMD_SIRTP;

    // ---- RTADDR ----
    public static final long RTADDR_SMT = 1L << 10;

    // ---- CCMD ----
    public static final long CCMD_ICC = 1L << 63;
    public static final long CCMD_CIRG_MASK = 3L << 61;
    public static final long CCMD_CIRG_GLOBAL = 1L << 61;
    public static final long CCMD_CIRG_DOMAIN = 2L << 61;
    public static final long CCMD_CIRG_DEVICE = 3L << 61;
    public static final long CCMD_CAIG_MASK = 3L << 59;
    public static final long CCMD_CAIG_GLOBAL = 1L << 59;
    public static final long CCMD_CAIG_DEVICE = 3L << 59;

    static int ccmdSid(long v) {
        return (int) (v >>> 16) & 0xffff;
    }

    static int ccmdFm(long v) {
        return (int) (v >>> 32) & 3;
    }

    // ---- IOTLB / IVA ----
    public static final long IOTLB_IVT = 1L << 63;
    public static final long IOTLB_IIRG_MASK = 3L << 60;
    public static final long IOTLB_IIRG_GLOBAL = 1L << 60;
    public static final long IOTLB_IIRG_DOMAIN = 2L << 60;
    public static final long IOTLB_IIRG_PAGE = 3L << 60;
    public static final long IOTLB_IAIG_MASK = 3L << 57;
    public static final long IOTLB_IAIG_GLOBAL = 1L << 57;
    public static final long IOTLB_IAIG_DOMAIN = 2L << 57;
    public static final long IOTLB_IAIG_PAGE = 3L << 57;

    static int iotlbDid(long v) {
        return (int) (v >>> 32) & 0xffff;
    }

    static long ivaAddr(long v) {
        return v & ~0xfffL;
    }

    static int ivaAm(long v) {
        return (int) v & 0x3f;
    }

    // ---- FSTS / FECTL / IECTL / ICS ----
    public static final int FSTS_PFO = 1;
    public static final int FSTS_PPF = 1 << 1;
    public static final int FSTS_IQE = 1 << 4;
    public static final int FSTS_FRI_SHIFT = 8;
    public static final int FSTS_FRI_MASK = 0xff << FSTS_FRI_SHIFT;
    public static final int ECTL_IM = 1 << 31;
    public static final int ECTL_IP = 1 << 30;
    public static final int ICS_IWC = 1;

    // ---- IQA / IQH / IQT ----
    public static final long IQA_QS = 0x7;
    public static final long IQA_DW = 1L << 11;
    public static final long IQH_QH_MASK = 0x7fff0L;

    // ---- IRTA ----
    public static final long IRTA_EIME = 1L << 11;
    public static final long IRTA_SIZE_MASK = 0xf;

    // ---- Fault recording register (high quad) ----
    public static final long FRCD_F = 1L << 63;
    public static final long FRCD_T = 1L << 62;
    public static final int FRCD_FR_SHIFT = 32;
    /**
     * PV field 59:40 as QEMU 7.2 fills it for a request without PASID: PCI_NO_PASID (-1)
     * masked to 16 bits, although PP = 0 (the spec leaves PV undefined then; QEMU's value is
     * reproduced so that FRCD reads compare equal). Context-stage faults get PV = 0 in QEMU.
     */
    public static final long FRCD_PV_QEMU_NO_PASID = 0xffffL << 40;

    /** One row of the register table. Width is 4 or 8 bytes. */
    public record Register(String name, int offset, int width, long reset, long writeMask,
                           long w1cMask, long writeOnlyMask) {
        @Override
        public String toString() {
            return String.format("%s@0x%03x/%d reset=0x%x wmask=0x%x w1c=0x%x wo=0x%x", name, offset,
                    width, reset, writeMask, w1cMask, writeOnlyMask);
        }
    }

    /** The register table for one unit (QEMU 7.2 vtd_init), fault records per {@code config}. */
    public static List<Register> table(VtdConfig config) {
        List<Register> t = new ArrayList<>();
        t.add(new Register("VER", VER, 4, 0x10, 0, 0, 0));
        t.add(new Register("CAP", CAP, 8, config.cap(), 0, 0, 0));
        t.add(new Register("ECAP", ECAP, 8, config.ecap(), 0, 0, 0));
        t.add(new Register("GCMD", GCMD, 4, 0, 0xff800000L, 0, 0xff800000L));
        t.add(new Register("GSTS", GSTS, 4, 0, 0, 0, 0));
        t.add(new Register("RTADDR", RTADDR, 8, 0, 0xfffffffffffffc00L, 0, 0));
        // FM/SID (33:16) are write-only; ICC, CIRG and DID read back.
        t.add(new Register("CCMD", CCMD, 8, 0, 0xe0000003ffffffffL, 0, 0x3ffff0000L));
        // Advanced fault logging is not supported: PFO and IQE are W1C, the rest read-only.
        t.add(new Register("FSTS", FSTS, 4, 0, 0, 0x11, 0));
        t.add(new Register("FECTL", FECTL, 4, 0x80000000L, 0x80000000L, 0, 0));
        t.add(new Register("FEDATA", FEDATA, 4, 0, 0xffff, 0, 0));
        t.add(new Register("FEADDR", FEADDR, 4, 0, 0xfffffffcL, 0, 0));
        t.add(new Register("FEUADDR", FEUADDR, 4, 0, 0, 0, 0));
        t.add(new Register("PMEN", PMEN, 4, 0, 0, 0, 0));
        t.add(new Register("IQH", IQH, 8, 0, 0, 0, 0));
        t.add(new Register("IQT", IQT, 8, 0, 0x7fff0L, 0, 0));
        t.add(new Register("IQA", IQA, 8, 0, 0xfffffffffffff807L, 0, 0));
        t.add(new Register("ICS", ICS, 4, 0, 0, 0x1, 0));
        t.add(new Register("IECTL", IECTL, 4, 0x80000000L, 0x80000000L, 0, 0));
        t.add(new Register("IEDATA", IEDATA, 4, 0, 0xffffffffL, 0, 0));
        t.add(new Register("IEADDR", IEADDR, 4, 0, 0xfffffffcL, 0, 0));
        t.add(new Register("IEUADDR", IEUADDR, 4, 0, 0, 0, 0));
        t.add(new Register("IRTA", IRTA, 8, 0, 0xfffffffffffff80fL, 0, 0));
        t.add(new Register("IVA", IVA, 8, 0, 0xfffffffffffff07fL, 0, 0xfffffffffffff07fL));
        t.add(new Register("IOTLB", IOTLB, 8, 0, 0xb003ffff00000000L, 0, 0));
        for (int i = 0; i < config.faultRecords(); i++) {
            t.add(new Register("FRCD" + i + "_LO", FRCD + 16 * i, 8, 0, 0, 0, 0));
            t.add(new Register("FRCD" + i + "_HI", FRCD + 16 * i + 8, 8, 0, 0, FRCD_F, 0));
        }
        return t;
    }
}
