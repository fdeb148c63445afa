package io.viommu.host;

import io.viommu.linux.KernelCommandLine;
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
    /** Split by the kernel model's own lexer ({@link KernelCommandLine#params}). */
    public static KernelCmdline parse(String raw) {
        List<String> args = new ArrayList<>();
        for (KernelCommandLine.Param p : KernelCommandLine.params(raw)) {
            args.add(p.toString());
        }
        return new KernelCmdline(raw.trim(), List.copyOf(args));
    }

    /** The IOMMU options as the kernel model parses them (iommu=, intel_iommu=, intremap=, ...). */
    public KernelCommandLine kernel() {
        return KernelCommandLine.parse(raw);
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

    /**
     * A boolean parameter's value (param_set_bool): a bare {@code key} is true, else
     * {@link KernelCommandLine#kstrtobool}.
     */
    public static Optional<Boolean> bool(String v) {
        return v.isEmpty() ? Optional.of(true) : Optional.ofNullable(KernelCommandLine.kstrtobool(v));
    }

    private static String normalise(String k) {
        return k.replace('-', '_');
    }
}
