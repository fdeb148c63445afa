package io.viommu.linux.scenario;

/**
 * The work one phase of the NIC-ring scenario caused, in the units that cost time on a real
 * machine. Under a vIOMMU every register access of the guest's IOMMU driver is a VM exit, every
 * invalidation is emulator work, and with caching mode every notifier event is a
 * VFIO_IOMMU_MAP_DMA / UNMAP_DMA ioctl QEMU issues on the host (a host IOMMU update with its
 * own host IOTLB invalidation).
 *
 * @param maps              dma_map_single calls (dynamic) or VFIO_IOMMU_MAP_DMA ioctls (static)
 * @param unmaps            dma_unmap_single calls or VFIO_IOMMU_UNMAP_DMA ioctls
 * @param iotlbPage         page-selective IOTLB invalidations the VT-d unit processed
 * @param iotlbDomain       domain-selective IOTLB invalidations the unit processed
 * @param iotlbGlobal       global IOTLB invalidations the unit processed
 * @param contextInvalidations context-cache invalidations (any granularity) the unit processed
 * @param descriptors       queued-invalidation descriptors the driver submitted (waits included)
 * @param waitDescriptors   invalidation-wait descriptors (one per synchronous batch)
 * @param mmioAccesses      IOMMU register reads and writes by the guest driver: VM exits
 * @param flushQueueFlushes domain flushes of the lazy flush queue (full or 10 ms timer)
 * @param notifierEvents    MAP/UNMAP/replace events delivered to the shadowing consumer
 *                          (QEMU's vfio listener): host IOMMU updates
 * @param hostPagesMapped   4 KiB pages those events asked the host IOMMU to map
 * @param hostPagesUnmapped 4 KiB pages those events asked the host IOMMU to unmap
 */
public record NicRingCost(long maps, long unmaps, long iotlbPage, long iotlbDomain, long iotlbGlobal,
                          long contextInvalidations, long descriptors, long waitDescriptors, long mmioAccesses,
                          long flushQueueFlushes, long notifierEvents, long hostPagesMapped,
                          long hostPagesUnmapped) {

    /** All IOTLB invalidations, of every granularity. */
    public long iotlbInvalidations() {
        return iotlbPage + iotlbDomain + iotlbGlobal;
    }

    /** Pages the host IOMMU had to change for the shadow (mapped plus unmapped). */
    public long hostPageUpdates() {
        return hostPagesMapped + hostPagesUnmapped;
    }

    /** The work between {@code earlier} and this snapshot. */
    public NicRingCost minus(NicRingCost earlier) {
        return new NicRingCost(maps - earlier.maps, unmaps - earlier.unmaps, iotlbPage - earlier.iotlbPage,
                iotlbDomain - earlier.iotlbDomain, iotlbGlobal - earlier.iotlbGlobal,
                contextInvalidations - earlier.contextInvalidations, descriptors - earlier.descriptors,
                waitDescriptors - earlier.waitDescriptors, mmioAccesses - earlier.mmioAccesses,
                flushQueueFlushes - earlier.flushQueueFlushes, notifierEvents - earlier.notifierEvents,
                hostPagesMapped - earlier.hostPagesMapped, hostPagesUnmapped - earlier.hostPagesUnmapped);
    }
}
