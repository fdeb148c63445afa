package io.viommu.linux.driver;

import io.viommu.vtd.CapReg;

/**
 * A DMAR unit the IOMMU driver registered ({@code iommu_device_sysfs_add}): what
 * /sys/class/iommu/NAME and its intel-iommu/ attributes show.
 *
 * @param name    "dmar0"
 * @param regBase physical address of the register block
 * @param version VER_REG (major in 7:4, minor in 3:0)
 * @param cap     CAP_REG
 * @param ecap    ECAP_REG
 */
public record IommuUnit(String name, long regBase, int version, long cap, long ecap) {
    /** {@code cap_ndoms}: 2^(4 + 2*ND). */
    public long domainsSupported() {
        return CapReg.domains(cap);
    }
}
