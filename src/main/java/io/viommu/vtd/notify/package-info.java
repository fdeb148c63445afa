/**
 * The map/unmap notifier of a VT-d unit: how a consumer that shadows guest DMA mappings (a VMM
 * programming a host IOMMU through VFIO, caching-mode) or caches translations (a vhost-like
 * backend, a device with a device-IOTLB) follows the guest's page tables.
 *
 * <p>Entry point: {@link io.viommu.vtd.notify.MapNotifier#attach}, then
 * {@link io.viommu.vtd.notify.MapNotifier#register}. Events are
 * {@link io.viommu.vtd.notify.IommuEvent} (MAP, UNMAP, REPLACE) with an
 * {@link io.viommu.vtd.notify.InvalidationCause}; a consumer's view is a
 * {@link io.viommu.vtd.notify.MappingView}. docs/notifier.md describes the contract and how it
 * differs from QEMU 7.2's.
 *
 * <p>Driven by {@link io.viommu.vtd.InvalidationListener} (after the unit has applied an
 * invalidation to its own caches); reads guest tables through the unit's own context step
 * ({@link io.viommu.vtd.IntelIommu#readContext}) and its one second-level walk
 * ({@link io.viommu.vtd.SecondLevelWalk#walkRange}), the walk translate uses. Legacy-mode
 * (second-level) tables only.
 */
package io.viommu.vtd.notify;
