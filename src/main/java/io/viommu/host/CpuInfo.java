package io.viommu.host;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The first processor's entry of /proc/cpuinfo: enough to tell hardware virtualization (vmx: Intel
 * VT-x, svm: AMD-V) and whether this kernel itself runs under a hypervisor (the {@code hypervisor}
 * flag, CPUID.1:ECX bit 31).
 */
public record CpuInfo(String vendor, String modelName, int processors, Set<String> flags) {
    public static CpuInfo parse(String text) {
        String vendor = "";
        String model = "";
        Set<String> flags = new LinkedHashSet<>();
        int processors = 0;
        boolean first = true;
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String k = line.substring(0, colon).trim();
            String v = line.substring(colon + 1).trim();
            if (k.equals("processor")) {
                processors++;
                first = processors == 1;
            } else if (first && k.equals("vendor_id")) {
                vendor = v;
            } else if (first && k.equals("model name")) {
                model = v;
            } else if (first && k.equals("flags")) {
                flags.addAll(Arrays.asList(v.split("\\s+")));
            }
        }
        return new CpuInfo(vendor, model, processors, Set.copyOf(flags));
    }

    public boolean vmx() {
        return flags.contains("vmx");
    }

    public boolean svm() {
        return flags.contains("svm");
    }

    public boolean hypervisor() {
        return flags.contains("hypervisor");
    }

    public boolean intel() {
        return vendor.equals("GenuineIntel");
    }

    public boolean amd() {
        return vendor.equals("AuthenticAMD") || vendor.equals("HygonGenuine");
    }
}
