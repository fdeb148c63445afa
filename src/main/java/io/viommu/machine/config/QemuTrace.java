package io.viommu.machine.config;

import java.util.List;
import java.util.function.Consumer;

/**
 * {@code -trace PATTERN} (QEMU 7.2's trace/control.c with Debian's "log" backend): each enabled
 * event the model has prints {@code name args} as a line on stderr, without pid or timestamp
 * (what the Debian build prints without {@code -msg timestamp=on}; checked with a capture of
 * {@code -trace 'vfio_*' -trace 'vtd_*'}). Patterns are glob patterns ({@code *} and {@code ?},
 * GLib's g_pattern_match_simple) applied in order, a leading {@code -} disabling what matches.
 *
 * <p>The model has only the events of {@link #MODELLED}; the others a pattern names are not
 * printed, which {@link #NOTE} says once per run.
 */
public final class QemuTrace {
    /** The QEMU 7.2 trace events viommu emits, at the points QEMU emits them. */
    public static final List<String> MODELLED = List.of("vfio_realize", "vfio_get_device", "vfio_region_setup",
            "vfio_populate_device_config", "vfio_region_mmap", "vtd_reg_read", "vtd_reg_write",
            "vtd_reg_write_gcmd", "vtd_reg_dmar_root", "vtd_dmar_enable", "vtd_inv_desc_cc_global",
            "vtd_inv_desc_iotlb_global", "vtd_inv_qi_enable", "vtd_inv_qi_setup", "vtd_inv_qi_tail", "vtd_inv_qi_fetch",
            "vtd_inv_qi_head", "vtd_inv_desc", "vtd_inv_desc_iotlb_pages", "vtd_inv_desc_wait_sw",
            "vfio_intx_enable", "vfio_intx_disable", "vfio_msi_interrupt", "vfio_msix_early_setup", "vfio_msix_enable",
            "vfio_msix_disable", "vfio_msix_vector_do_use", "vfio_msix_vector_release", "vfio_msix_pba_enable",
            "vfio_msix_pba_disable", "vtd_page_walk_level", "vtd_page_walk_one", "vtd_page_walk_one_skip_map",
            "vtd_page_walk_one_skip_unmap", "vtd_page_walk_skip_read", "vtd_page_walk_skip_reserve",
            "vfio_listener_region_add_ram", "vfio_listener_region_add_iommu", "vfio_listener_region_add_skip",
            "vfio_listener_region_del", "vfio_listener_region_del_skip", "vfio_pci_reset");

    /** Said once when -trace is given. */
    public static final String NOTE = "viommu: note: -trace: viommu prints only the QEMU 7.2 trace events it models ("
            + String.join(", ", MODELLED) + "); the other events the patterns match are not printed";

    /** No -trace: nothing enabled. */
    public static final QemuTrace OFF = new QemuTrace(List.of(), line -> { });

    private final List<String> patterns;
    private final Consumer<String> stderr;

    public QemuTrace(List<String> patterns, Consumer<String> stderr) {
        this.patterns = List.copyOf(patterns);
        this.stderr = stderr;
    }

    /** trace_event_get_state: the last pattern that matches the name decides. */
    public boolean enabled(String event) {
        boolean on = false;
        for (String p : patterns) {
            boolean negative = p.startsWith("-");
            if (glob(negative ? p.substring(1) : p, event)) {
                on = !negative;
            }
        }
        return on;
    }

    /** Prints the event if it is enabled. */
    public void event(String name, String args) {
        if (enabled(name)) {
            stderr.accept(name + " " + args);
        }
    }

    public boolean any() {
        return !patterns.isEmpty();
    }

    static boolean glob(String pattern, String s) {
        return glob(pattern, 0, s, 0);
    }

    private static boolean glob(String p, int i, String s, int j) {
        while (i < p.length()) {
            char c = p.charAt(i);
            if (c == '*') {
                for (int k = j; k <= s.length(); k++) {
                    if (glob(p, i + 1, s, k)) {
                        return true;
                    }
                }
                return false;
            }
            if (j >= s.length() || (c != '?' && c != s.charAt(j))) {
                return false;
            }
            i++;
            j++;
        }
        return j == s.length();
    }
}
