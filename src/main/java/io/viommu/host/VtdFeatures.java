package io.viommu.host;

import io.viommu.vtd.CapReg;
import io.viommu.vtd.EcapReg;
import java.util.ArrayList;
import java.util.List;

/**
 * Names for the VT-d capability bits a host report cares about (VT-d spec 3.4, sections 11.4.2
 * CAP_REG and 11.4.3 ECAP_REG), decoded from /sys/class/iommu/dmarN/intel-iommu/{cap,ecap}.
 * The bit layout is the model's own ({@link CapReg}, {@link EcapReg}).
 */
final class VtdFeatures {
    private VtdFeatures() {
    }

    static boolean interruptRemapping(long ecap) {
        return EcapReg.interruptRemapping(ecap);
    }

    static boolean cachingMode(long cap) {
        return CapReg.cachingMode(cap);
    }

    static int mgaw(long cap) {
        return CapReg.mgaw(cap);
    }

    /** "QI", "IR", "PT", "SAGAW=39,48", "MGAW=48", ... in register order. */
    static List<String> names(long cap, long ecap) {
        List<String> out = new ArrayList<>();
        List<String> sagaw = new ArrayList<>();
        int s = CapReg.sagaw(cap);
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
        flag(out, cap, CapReg.CM, "CM");
        flag(out, cap, CapReg.PSI, "PSI");
        flag(out, cap, CapReg.FL1GP, "FL1GP");
        flag(out, cap, CapReg.PI, "PI");
        flag(out, ecap, EcapReg.QI, "QI");
        flag(out, ecap, EcapReg.DT, "DT");
        flag(out, ecap, EcapReg.IR, "IR");
        flag(out, ecap, EcapReg.EIM, "EIM");
        flag(out, ecap, EcapReg.PT, "PT");
        flag(out, ecap, EcapReg.SC, "SC");
        flag(out, ecap, EcapReg.NEST, "NEST");
        flag(out, ecap, EcapReg.PRS, "PRS");
        flag(out, ecap, EcapReg.PASID, "PASID");
        flag(out, ecap, EcapReg.SMTS, "SMTS");
        flag(out, ecap, EcapReg.SLTS, "SLTS");
        flag(out, ecap, EcapReg.FLTS, "FLTS");
        return out;
    }

    private static void flag(List<String> out, long reg, long bit, String name) {
        if ((reg & bit) != 0) {
            out.add(name);
        }
    }
}
