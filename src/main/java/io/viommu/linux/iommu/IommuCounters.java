package io.viommu.linux.iommu;

/**
 * What the intel-iommu driver and the DMA API did, counted by the kind of work that costs time:
 * under a vIOMMU every register access is a VM exit and every invalidation descriptor batch is
 * one (the IQT write) plus the emulator's work (QEMU walks or unmaps for each IOTLB
 * invalidation when caching mode shadows the tables through VFIO).
 *
 * @param mmioReads          register reads (VM exits under a vIOMMU)
 * @param mmioWrites         register writes (VM exits under a vIOMMU)
 * @param descriptors        queued-invalidation descriptors written, wait descriptors included
 * @param waitDescriptors    invalidation wait descriptors (one per qi_submit_sync batch)
 * @param contextGlobal      global context-cache invalidations
 * @param contextDomain      domain-selective context-cache invalidations
 * @param contextDevice      device-selective context-cache invalidations
 * @param iotlbGlobal        global IOTLB invalidations
 * @param iotlbDomain        domain-selective IOTLB invalidations
 * @param iotlbPage          page-selective IOTLB invalidations (PSI)
 * @param deviceTlb          device-TLB (ATS) invalidations
 * @param writeBufferFlushes GCMD.WBF flushes (CAP.RWBF only)
 * @param pageTablePages     page-table pages allocated (context tables, root table and
 *                           second-level tables)
 * @param pageTablePagesFreed page-table pages freed after an unmap covered them
 * @param maps               iommu_map calls (one per dma_map_* or per IOMMU-API map)
 * @param unmaps             iommu_unmap calls
 * @param flushQueueFlushes  domain flushes done by the lazy flush queue (full or timer)
 * @param iovaAllocs         IOVA allocations
 * @param iovaCacheHits      IOVA allocations served by the per-CPU magazines or the depot
 */
public record IommuCounters(long mmioReads, long mmioWrites, long descriptors, long waitDescriptors,
                            long contextGlobal, long contextDomain, long contextDevice,
                            long iotlbGlobal, long iotlbDomain, long iotlbPage, long deviceTlb,
                            long writeBufferFlushes, long pageTablePages, long pageTablePagesFreed,
                            long maps, long unmaps, long flushQueueFlushes, long iovaAllocs,
                            long iovaCacheHits) {

    /** All IOTLB invalidations, of every granularity. */
    public long iotlbInvalidations() {
        return iotlbGlobal + iotlbDomain + iotlbPage;
    }

    /** All context-cache invalidations. */
    public long contextInvalidations() {
        return contextGlobal + contextDomain + contextDevice;
    }

    /** Register accesses: the VM exits a guest takes for its IOMMU driver under a vIOMMU. */
    public long mmioAccesses() {
        return mmioReads + mmioWrites;
    }

    /** The work done between {@code earlier} and this snapshot. */
    public IommuCounters minus(IommuCounters earlier) {
        return new IommuCounters(mmioReads - earlier.mmioReads, mmioWrites - earlier.mmioWrites,
                descriptors - earlier.descriptors, waitDescriptors - earlier.waitDescriptors,
                contextGlobal - earlier.contextGlobal, contextDomain - earlier.contextDomain,
                contextDevice - earlier.contextDevice, iotlbGlobal - earlier.iotlbGlobal,
                iotlbDomain - earlier.iotlbDomain, iotlbPage - earlier.iotlbPage, deviceTlb - earlier.deviceTlb,
                writeBufferFlushes - earlier.writeBufferFlushes, pageTablePages - earlier.pageTablePages,
                pageTablePagesFreed - earlier.pageTablePagesFreed, maps - earlier.maps, unmaps - earlier.unmaps,
                flushQueueFlushes - earlier.flushQueueFlushes, iovaAllocs - earlier.iovaAllocs,
                iovaCacheHits - earlier.iovaCacheHits);
    }

    /** The mutable tally behind the snapshots (one per driver instance). */
    static final class Tally {
        long mmioReads;
        long mmioWrites;
        long descriptors;
        long waitDescriptors;
        long contextGlobal;
        long contextDomain;
        long contextDevice;
        long iotlbGlobal;
        long iotlbDomain;
        long iotlbPage;
        long deviceTlb;
        long writeBufferFlushes;
        long pageTablePages;
        long pageTablePagesFreed;
        long maps;
        long unmaps;
        long flushQueueFlushes;
        long iovaAllocs;
        long iovaCacheHits;

        IommuCounters snapshot() {
            return new IommuCounters(mmioReads, mmioWrites, descriptors, waitDescriptors, contextGlobal,
                    contextDomain, contextDevice, iotlbGlobal, iotlbDomain, iotlbPage, deviceTlb,
                    writeBufferFlushes, pageTablePages, pageTablePagesFreed, maps, unmaps, flushQueueFlushes,
                    iovaAllocs, iovaCacheHits);
        }
    }
}
