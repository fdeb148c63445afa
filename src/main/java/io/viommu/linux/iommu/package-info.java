/**
 * The IOMMU layer of the Linux 6.1 model: the IOMMU core's groups
 * ({@link io.viommu.linux.iommu.IommuGroups}, pci_device_group), default domain types and the
 * one reserved-region rule ({@link io.viommu.linux.iommu.ReservedRegions}); the intel-iommu
 * driver; and the DMA API on top of it.
 *
 * <p>{@link io.viommu.linux.iommu.IntelIommuDriver} is started by
 * {@code io.viommu.linux.Kernel} during boot (it sees the kernel only through
 * {@link io.viommu.linux.iommu.IommuKernel}; this package never imports the kernel) and programs the machine's VT-d unit exactly as a
 * kernel does: through its registers at the DRHD's base address (every access counted, each is
 * a VM exit under a vIOMMU) and through tables it writes into guest RAM — queued-invalidation
 * ring, root table, context tables, second-level page tables — allocated by
 * {@link io.viommu.linux.iommu.GuestPages} from a reserved RAM region (16 MiB up to 80 MiB).
 * Legacy (non-scalable) mode only.
 *
 * <p>For the rest of the kernel model:
 * <ul>
 * <li>{@link io.viommu.linux.iommu.IommuDomain}: the IOMMU-API contract VFIO uses
 *     (map/unmap/flush/iova_to_phys); {@link io.viommu.linux.iommu.IntelIommuDriver}'s
 *     {@code allocateDomain}, {@code attachGroup}, {@code detachGroup}, {@code reservedRegions},
 *     {@code hasInterruptRemapping};</li>
 * <li>{@link io.viommu.linux.iommu.DmaApi}: dma_map_single/page/sg and their unmaps for drivers,
 *     with {@link io.viommu.linux.iommu.IovaDomain} (iova.c: rbtree + per-CPU magazines), strict
 *     and lazy (flush queue, timed by {@link io.viommu.linux.iommu.VirtualClock}) invalidation;</li>
 * <li>{@link io.viommu.linux.iommu.IommuCounters}: what all of it cost, by kind.</li>
 * </ul>
 */
package io.viommu.linux.iommu;
