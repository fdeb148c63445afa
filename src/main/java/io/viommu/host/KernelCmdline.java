package io.viommu.host;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * /proc/cmdline as the kernel parses it for the options that decide IOMMU and VFIO behaviour.
 * Arguments after a lone {@code --} belong to init and are ignored (init/main.c). In module
 * parameters ({@code vfio_iommu_type1.allow_unsafe_interrupts}) dashes and underscores are the same
 * ({@code parameq} in kernel/params.c). A repeated option: the last one wins, as for the early
 * parameters here, which are parsed in order and overwrite each other's state.
 */
public record KernelCmdline(String raw, List<String> args) {
    public static KernelCmdline parse(String raw) {
        List<String> args = new ArrayList<>();
        for (String a : raw.trim().split("\\s+")) {
            if (a.equals("--")) {
                break;
            }
            if (!a.isEmpty()) {
                args.add(a);
            }
        }
        return new KernelCmdline(raw.trim(), List.copyOf(args));
    }

    /** The value of the last {@code key=value}; {@code ""} for a bare {@code key}; empty when not given. */
    public Optional<String> value(String key) {
        String want = normalise(key);
        Optional<String> found = Optional.empty();
        for (String a : args) {
            int eq = a.indexOf('=');
            String k = eq < 0 ? a : a.substring(0, eq);
            if (normalise(k).equals(want)) {
                found = Optional.of(eq < 0 ? "" : a.substring(eq + 1));
            }
        }
        return found;
    }

    /** Comma-separated options of every occurrence, in order ({@code intel_iommu=on,sm_on}). */
    public List<String> options(String key) {
        String want = normalise(key);
        List<String> out = new ArrayList<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq > 0 && normalise(a.substring(0, eq)).equals(want)) {
                out.addAll(Arrays.asList(a.substring(eq + 1).split(",")));
            }
        }
        return out;
    }

    public boolean has(String key, String option) {
        return options(key).contains(option);
    }

    /** The arguments that matter for IOMMU/VFIO, as given, for reports. */
    public List<String> relevant() {
        return args.stream().filter(a -> {
            String k = normalise(a.contains("=") ? a.substring(0, a.indexOf('=')) : a);
            return k.equals("intel_iommu") || k.equals("amd_iommu") || k.equals("iommu") || k.startsWith("iommu.")
                    || k.equals("intremap") || k.startsWith("vfio") || k.equals("pcie_acs_override")
                    || k.equals("amd_iommu_intr") || k.equals("iommufd") || k.equals("pci") || k.equals("nox2apic");
        }).toList();
    }

    /** Kernel boolean parsing ({@code kstrtobool}): 1/y/Y/on true, 0/n/N/off false. */
    public static Optional<Boolean> bool(String v) {
        String s = v.toLowerCase();
        if (s.equals("1") || s.startsWith("y") || s.equals("on") || s.equals("")) {
            return Optional.of(true);
        }
        if (s.equals("0") || s.startsWith("n") || s.equals("off")) {
            return Optional.of(false);
        }
        return Optional.empty();
    }

    private static String normalise(String k) {
        return k.replace('-', '_');
    }
}
