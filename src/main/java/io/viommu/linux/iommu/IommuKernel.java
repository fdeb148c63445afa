package io.viommu.linux.iommu;

import io.viommu.linux.acpi.DmarTable;
import io.viommu.pci.Topology;

/**
 * What the intel-iommu driver reads from the rest of the kernel: the DMAR table the kernel
 * found, the PCI hierarchy as enumerated now (VFs come and go), the IOMMU core's groups and
 * iommu_def_domain_type. The kernel ({@code io.viommu.linux.Kernel}) implements it; the driver
 * never sees the kernel itself, so this package sits below it.
 */
public interface IommuKernel {
    /** The DMAR table, or null. */
    DmarTable dmarTable();

    Topology topology();

    IommuGroups groups();

    /** iommu_def_domain_type after initialisation. */
    DomainType defaultDomainType();

    /**
     * request_irq for an interrupt message the driver programs into its device: {@code handler}
     * runs when the boot CPU takes {@code vector}.
     */
    void requestIrq(int vector, Runnable handler);
}
