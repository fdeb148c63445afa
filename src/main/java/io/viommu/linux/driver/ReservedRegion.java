package io.viommu.linux.driver;

import io.viommu.pci.MsiAddress;

/**
 * One line of {@code /sys/kernel/iommu_groups/N/reserved_regions}
 * ({@code iommu_get_group_resv_regions}): an IOVA range the group's domains must not map.
 *
 * @param start first byte
 * @param end   last byte (inclusive, as Linux prints it)
 */
public record ReservedRegion(long start, long end, Type type) {
    /** {@code enum iommu_resv_type} with the names {@code iommu_group_show_resv_regions} prints. */
    public enum Type {
        DIRECT("direct"), DIRECT_RELAXABLE("direct-relaxable"), RESERVED("reserved"), MSI("msi"),
        SW_MSI("msi");

        public final String sysfsName;

        Type(String sysfsName) {
            this.sysfsName = sysfsName;
        }
    }

    /** The interrupt window every Intel VT-d group reports ({@code IOAPIC_RANGE_START..END}). */
    public static final ReservedRegion INTEL_MSI = new ReservedRegion(MsiAddress.FIRST, MsiAddress.LAST, Type.MSI);
    /**
     * The ISA DMA window intel-iommu reports for ISA bridges (CONFIG_INTEL_IOMMU_FLOPPY_WA,
     * {@code intel_iommu_get_resv_regions}): the first 16 MiB, relaxable.
     */
    public static final ReservedRegion INTEL_ISA_FLOPPY = new ReservedRegion(0, 0xff_ffffL, Type.DIRECT_RELAXABLE);

    /** The sysfs line, {@code "0x%016llx 0x%016llx %s\n"}. */
    public String sysfsLine() {
        return String.format("0x%016x 0x%016x %s", start, end, type.sysfsName) + "\n";
    }
}
