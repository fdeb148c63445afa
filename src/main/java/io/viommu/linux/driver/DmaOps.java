package io.viommu.linux.driver;

import io.viommu.pci.RequesterId;

/**
 * What a driver's DMA needs from the rest of the kernel (include/linux/dma-mapping.h and the
 * page allocator), so the driver core does not depend on the IOMMU code: the kernel implements
 * it over its DMA API (iommu-dma when the device's group has a DMA domain, dma-direct
 * otherwise). Addresses are plain longs; {@link #MAPPING_ERROR} is DMA_MAPPING_ERROR.
 */
public interface DmaOps {
    /** DMA_MAPPING_ERROR. */
    long MAPPING_ERROR = ~0L;

    /** enum dma_data_direction. */
    enum Direction { BIDIRECTIONAL, TO_DEVICE, FROM_DEVICE }

    /** dma_set_mask_and_coherent: 0, or a negative errno when the mask is not supported. */
    int setMask(RequesterId dev, long mask);

    /** alloc_pages: the physical address of {@code n} contiguous zeroed pages, or -1 (-ENOMEM). */
    long allocPages(int n);

    /** __free_pages of what {@link #allocPages} returned. */
    void freePages(long phys, int n);

    /** dma_map_single: the DMA address of {@code size} bytes at {@code phys}, or {@link #MAPPING_ERROR}. */
    long map(RequesterId dev, long phys, long size, Direction dir);

    /** dma_unmap_single. */
    void unmap(RequesterId dev, long dma, long size, Direction dir);
}
