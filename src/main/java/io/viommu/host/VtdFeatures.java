package io.viommu.host;

import java.util.ArrayList;
import java.util.List;

/**
 * Names for the VT-d capability bits a host report cares about (VT-d spec 3.4, sections 11.4.2
 * CAP_REG and 11.4.3 ECAP_REG), decoded from /sys/class/iommu/dmarN/intel-iommu/{cap,ecap}.
 * (io.viommu.vtd.VtdConfig holds the same bit positions for the model's own registers, package-private.)
 */
final class VtdFeatures {
    // CAP_REG
    static final long CAP_CM = 1L << 7;              // caching mode: a virtual IOMMU (QEMU caching-mode=on)
    static final int CAP_SAGAW_SHIFT = 8;            // 12:8 supported AGAWs: bit 1 39-bit, 2 48-bit, 3 57-bit
    static final int CAP_MGAW_SHIFT = 16;            // 21:16 maximum guest address width - 1
    static final long CAP_PSI = 1L << 39;            // page-selective invalidation
    static final long CAP_FL1GP = 1L << 56;          // first-level 1 GiB pages
    static final long CAP_PI = 1L << 59;             // posted interrupts
    // ECAP_REG
    static final long ECAP_QI = 1L << 1;             // queued invalidation
    static final long ECAP_DT = 1L << 2;             // device-TLB (ATS)
    static final long ECAP_IR = 1L << 3;             // interrupt remapping
    static final long ECAP_EIM = 1L << 4;            // extended interrupt mode (x2APIC)
    static final long ECAP_PT = 1L << 6;             // pass-through translation type
    static final long ECAP_SC = 1L << 7;             // snoop control
    static final long ECAP_NEST = 1L << 26;          // nested translation
    static final long ECAP_PRS = 1L << 29;           // page requests
    static final long ECAP_PASID = 1L << 40;
    static final long ECAP_SMTS = 1L << 43;          // scalable mode
    static final long ECAP_SLTS = 1L << 46;          // second-level translation (scalable mode)
    static final long ECAP_FLTS = 1L << 47;          // first-level translation

    private VtdFeatures() {
    }

    static boolean interruptRemapping(long ecap) {
        return (ecap & ECAP_IR) != 0;
    }

    static boolean cachingMode(long cap) {
        return (cap & CAP_CM) != 0;
    }

    static int mgaw(long cap) {
        return (int) ((cap >>> CAP_MGAW_SHIFT) & 0x3f) + 1;
    }

    /** "QI", "IR", "PT", "SAGAW=39,48", "MGAW=48", ... in register order. */
    static List<String> names(long cap, long ecap) {
        List<String> out = new ArrayList<>();
        List<String> sagaw = new ArrayList<>();
        int s = (int) ((cap >>> CAP_SAGAW_SHIFT) & 0x1f);
        if ((s & 2) != 0) {
            sagaw.add("39");
        }
        if ((s & 4) != 0) {
            sagaw.add("48");
        }
        if ((s & 8) != 0) {
            sagaw.add("57");
        }
        out.add("SAGAW=" + String.join(",", sagaw));
        out.add("MGAW=" + mgaw(cap));
        flag(out, cap, CAP_CM, "CM");
        flag(out, cap, CAP_PSI, "PSI");
        flag(out, cap, CAP_FL1GP, "FL1GP");
        flag(out, cap, CAP_PI, "PI");
        flag(out, ecap, ECAP_QI, "QI");
        flag(out, ecap, ECAP_DT, "DT");
        flag(out, ecap, ECAP_IR, "IR");
        flag(out, ecap, ECAP_EIM, "EIM");
        flag(out, ecap, ECAP_PT, "PT");
        flag(out, ecap, ECAP_SC, "SC");
        flag(out, ecap, ECAP_NEST, "NEST");
        flag(out, ecap, ECAP_PRS, "PRS");
        flag(out, ecap, ECAP_PASID, "PASID");
        flag(out, ecap, ECAP_SMTS, "SMTS");
        flag(out, ecap, ECAP_SLTS, "SLTS");
        flag(out, ecap, ECAP_FLTS, "FLTS");
        return out;
    }

    private static void flag(List<String> out, long reg, long bit, String name) {
        if ((reg & bit) != 0) {
            out.add(name);
        }
    }
}
