package io.viommu.linux.vfio;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;

/**
 * What VFIO's type1 IOMMU driver needs from the kernel's IOMMU layer (Linux
 * include/linux/iommu.h as vfio_iommu_type1.c uses it), and nothing more:
 * {@code iommu_domain_alloc(IOMMU_DOMAIN_UNMANAGED)}, {@code iommu_attach_group} /
 * {@code iommu_detach_group}, {@code iommu_map} / {@code iommu_unmap} /
 * {@code iommu_iova_to_phys}, the domain's page sizes and aperture ({@code domain->geometry}),
 * and {@code IOMMU_CAP_INTR_REMAP}. Reserved regions come from the group view of the driver
 * core ({@code iommu_get_group_resv_regions}).
 *
 * <p>Implementation: {@link IommuApiBackend}, over the kernel's intel-iommu driver
 * ({@code io.viommu.linux.iommu.IntelIommuDriver}), which programs the VT-d unit through its
 * registers and tables in RAM.
 *
 * <p>Conventions: 0 or a negative errno, as the kernel's.
 */
public interface Type1Backend {
    /** {@code iommu_domain_alloc(bus)} of an unmanaged domain; null when none can be had (-EIO). */
    Domain allocateUnmanaged();

    /**
     * {@code iommu_capable(IOMMU_CAP_INTR_REMAP)} (or an MSI-remapping irq domain): whether
     * device MSIs are remapped, so a device cannot forge another's interrupts. type1 refuses to
     * attach a group without it unless {@code allow_unsafe_interrupts}.
     */
    boolean interruptRemapping();

    /** One unmanaged IOMMU domain ({@code struct iommu_domain}). */
    interface Domain {
        /** {@code iommu_attach_group}: every device of the group now translates through this domain. */
        int attachGroup(int group);

        /** {@code iommu_detach_group}: the group's devices go back to their default domain (or blocked). */
        void detachGroup(int group);

        /**
         * {@code iommu_map}: {@code size} bytes at {@code iova} to {@code phys}, both aligned to a
         * supported page size. -ENOMEM when a page-table page cannot be allocated; -EINVAL for an
         * unaligned or out-of-aperture range.
         */
        int map(Iova iova, PhysAddr phys, long size, boolean read, boolean write);

        /** {@code iommu_unmap} with the IOTLB flush: bytes unmapped. */
        long unmap(Iova iova, long size);

        /** {@code iommu_iova_to_phys}: where the domain's tables send {@code iova}, or null. */
        PhysAddr iovaToPhys(Iova iova);

        /** {@code domain->pgsize_bitmap}. */
        long pageSizeBitmap();

        /** {@code domain->geometry.aperture_end} (aperture_start is 0 on VT-d). */
        long apertureEnd();

        /** {@code iommu_domain_free}. */
        void free();
    }
}
