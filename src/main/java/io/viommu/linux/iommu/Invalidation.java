package io.viommu.linux.iommu;

/**
 * iommu->flush: the two ways the driver invalidates the unit's caches, chosen at init by
 * intel_iommu_init_qi: queued invalidation (qi_flush_context / qi_flush_iotlb) when ECAP.QI and
 * enabling it worked, else register-based (__iommu_flush_context / __iommu_flush_iotlb).
 *
 * <p>Granularities use the register encodings Linux passes around (DMA_CCMD_*_INVL,
 * DMA_TLB_*_FLUSH); the queued flavour converts them to descriptor fields.
 */
interface Invalidation {
    /** DMA_CCMD_GLOBAL_INVL / DOMAIN / DEVICE: CIRG 62:61. */
    long CCMD_GLOBAL = 1L << 61;
    long CCMD_DOMAIN = 2L << 61;
    long CCMD_DEVICE = 3L << 61;
    /** DMA_TLB_GLOBAL_FLUSH / DSI / PSI: IIRG 61:60. */
    long TLB_GLOBAL = 1L << 60;
    long TLB_DSI = 2L << 60;
    long TLB_PSI = 3L << 60;

    /** flush_context(iommu, did, source_id, function_mask, type). */
    void flushContext(int did, int sourceId, int functionMask, long type);

    /**
     * flush_iotlb(iommu, did, addr, size_order, type); {@code addr} may carry the invalidation
     * hint in bit 6 as iommu_flush_iotlb_psi puts it there.
     */
    void flushIotlb(int did, long addr, int sizeOrder, long type);

    /** qi_flush_dev_iotlb; only the queued flavour can (the register interface has none). */
    void flushDeviceIotlb(int sid, int pfsid, int qdep, long addr, int mask);

    boolean queued();
}
