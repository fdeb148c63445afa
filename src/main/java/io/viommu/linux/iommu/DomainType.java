package io.viommu.linux.iommu;


/**
 * IOMMU domain types (include/linux/iommu.h), with the two names Linux prints for each:
 * the sysfs {@code iommu_groups/N/type} text (iommu_group_show_type) and the boot line's
 * text (iommu_domain_type_str, where DMA and DMA-FQ both read "Translated").
 */
public enum DomainType {
    BLOCKED("blocked", "Blocked"),
    IDENTITY("identity", "Passthrough"),
    UNMANAGED("unmanaged", "Unmanaged"),
    DMA("DMA", "Translated"),
    DMA_FQ("DMA-FQ", "Translated");

    private final String sysfsName;
    private final String bootName;

    DomainType(String sysfsName, String bootName) {
        this.sysfsName = sysfsName;
        this.bootName = bootName;
    }

    /** What {@code /sys/kernel/iommu_groups/N/type} reads (without the newline). */
    public String sysfsName() {
        return sysfsName;
    }

    /** What "iommu: Default domain type: %s" prints. */
    public String bootName() {
        return bootName;
    }

    /** DMA API domains (translated), lazy or strict. */
    public boolean isDma() {
        return this == DMA || this == DMA_FQ;
    }
}
