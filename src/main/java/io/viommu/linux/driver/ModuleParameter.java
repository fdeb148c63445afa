package io.viommu.linux.driver;

import java.util.List;

/**
 * A {@code module_param} of a module the kernel model loads, as Debian's 6.1 build declares it:
 * its name, its sysfs mode ({@code /sys/module/MOD/parameters/NAME}; 0 means no file), its type
 * and its default. Only the modules whose parameters someone sets are listed; the set of files
 * is what the lab capture {@code host-setup-refusals} listed on the real kernel.
 */
public record ModuleParameter(String module, String name, int mode, Type type, String defaultValue) {
    /** The {@code param_ops} kinds used here. */
    public enum Type { BOOL, UINT }

    private static final List<ModuleParameter> ALL = List.of(
            // drivers/vfio/vfio_iommu_type1.c
            new ModuleParameter("vfio_iommu_type1", "allow_unsafe_interrupts", 0644, Type.BOOL, "N"),
            new ModuleParameter("vfio_iommu_type1", "disable_hugepages", 0644, Type.BOOL, "N"),
            new ModuleParameter("vfio_iommu_type1", "dma_entry_limit", 0644, Type.UINT, "65535"),
            // drivers/vfio/pci/vfio_pci.c (CONFIG_VFIO_PCI_VGA=y in Debian's build)
            new ModuleParameter("vfio_pci", "disable_denylist", 0444, Type.BOOL, "N"),
            new ModuleParameter("vfio_pci", "disable_idle_d3", 0644, Type.BOOL, "N"),
            new ModuleParameter("vfio_pci", "disable_vga", 0444, Type.BOOL, "N"),
            new ModuleParameter("vfio_pci", "enable_sriov", 0644, Type.BOOL, "N"),
            new ModuleParameter("vfio_pci", "nointxmask", 0644, Type.BOOL, "N"));
    // vfio's enable_unsafe_noiommu_mode needs CONFIG_VFIO_NOIOMMU, which Debian's 6.1 lacks:
    // the capture shows no /sys/module/vfio/parameters. The model still honours it at load time.

    /** The module's parameters that have a sysfs file, in name order. */
    public static List<ModuleParameter> of(String module) {
        String m = Drivers.moduleName(module);
        return ALL.stream().filter(p -> p.module.equals(m) && p.mode != 0).toList();
    }

    /** {@code param_get_bool} shows Y or N; {@code param_get_uint} the number. */
    public String show(String value) {
        String v = value == null ? defaultValue : value;
        if (type == Type.BOOL) {
            KernelText.Parsed b = KernelText.kstrtobool(v);
            return (b.ok() && b.value() == 1 ? "Y" : "N") + "\n";
        }
        return v + "\n";
    }

    /**
     * {@code param_set_bool} (kstrtobool) / {@code param_set_uint} (kstrtouint): the value to keep,
     * or null when the text does not parse (-EINVAL).
     */
    public String parse(String text) {
        if (type == Type.BOOL) {
            KernelText.Parsed b = KernelText.kstrtobool(text);
            return b.ok() ? (b.value() == 1 ? "Y" : "N") : null;
        }
        KernelText.Parsed n = KernelText.kstrtoull(text, 0);
        return n.ok() && Long.compareUnsigned(n.value(), 0xffff_ffffL) <= 0 ? Long.toString(n.value()) : null;
    }
}
