package io.viommu.linux.iommu;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.notify.Permission;
import java.util.Optional;
import java.util.Set;

/**
 * An IOMMU domain as the rest of the kernel model uses it (struct iommu_domain with the
 * intel-iommu ops behind it): an I/O address space, backed by second-level page tables that
 * live in the machine's RAM, which groups of devices are attached to.
 *
 * <p>This is the contract VFIO (type1) codes against; keep it stable. The domain of a VFIO
 * container is {@link DomainType#UNMANAGED}, allocated by
 * {@link IntelIommuDriver#allocateDomain(DomainType)} and attached with
 * {@link IntelIommuDriver#attachGroup}. Every call programs the VT-d unit the way Linux 6.1
 * does: PTE writes in guest RAM, then (caching mode) a page-selective IOTLB invalidation of a
 * new range, and on unmap an IOTLB invalidation before the call returns.
 *
 * <p>Return values follow the kernel: {@code 0} or {@code -errno} ({@link #map}), a byte count
 * ({@link #unmap}).
 */
public interface IommuDomain {
    /** identity, DMA, DMA-FQ, unmanaged or blocked. */
    DomainType type();

    /**
     * The domain id tagging this domain's IOTLB entries on the unit, or 0 while no device is
     * attached (Linux allocates it on first attach, domain_attach_iommu).
     */
    int domainId();

    /**
     * iommu_map: maps {@code size} bytes at {@code iova} to {@code paddr}. {@code iova},
     * {@code paddr} and {@code size} must be multiples of {@link #PAGE_SIZE} and the range must
     * lie inside the aperture ({@link #apertureEnd()}), else {@code -EINVAL}; {@code -ENOMEM}
     * when no page-table page can be allocated. A page that is already mapped keeps its old PTE
     * and the kernel logs "DMA PTE for vPFN ... already set" (6.1 __domain_mapping warns and goes
     * on), so callers (type1) must refuse overlaps themselves. Identity and blocked domains
     * refuse with {@code -EINVAL}.
     *
     * @return 0 or a negative errno
     */
    int map(Iova iova, PhysAddr paddr, long size, Permission perm);

    /**
     * iommu_unmap: clears every PTE in {@code [iova, iova + size)} and invalidates the IOTLB
     * (page-selective, domain-selective when PSI is not possible) before returning, so a device
     * DMA to the range faults afterwards.
     *
     * @return the number of bytes that were mapped and are now unmapped (0 if none)
     */
    long unmap(Iova iova, long size);

    /** iommu_flush_iotlb_all: a domain-selective IOTLB invalidation on every unit it is attached to. */
    void flushIotlbAll();

    /** iommu_iova_to_phys: a walk of the domain's tables in guest RAM. */
    Optional<PhysAddr> iovaToPhys(Iova iova);

    /** The last IOVA the domain can map (geometry.aperture_end: 2^gaw - 1). */
    Iova apertureEnd();

    /** The devices (requester ids as programmed, DMA aliases included) attached now. */
    Set<RequesterId> attachedDevices();
}
