package io.viommu.linux.vfio;

import java.util.List;

/**
 * {@code VFIO_IOMMU_GET_INFO} for type1 ({@code struct vfio_iommu_type1_info} with its
 * capability chain): flags ({@link #FLAG_PGSIZES}, {@link #FLAG_CAPS}), the page-size bitmap
 * ({@code iova_pgsizes}: every size type1 can map, the intersection over the container's
 * domains), the IOVA-range capability ({@code VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE}: the
 * domains' aperture minus reserved regions) and the DMA-available capability
 * ({@code VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL}: how many more MAP_DMA entries fit under
 * dma_entry_limit).
 */
public record IommuInfo(int flags, long iovaPgsizes, List<IovaRange> iovaRanges, int dmaAvailable) {
    public static final int FLAG_PGSIZES = 1 << 0;
    public static final int FLAG_CAPS = 1 << 1;
    /** Capability ids of the chain. */
    public static final int CAP_IOVA_RANGE = 1;
    public static final int CAP_MIGRATION = 2;
    public static final int CAP_DMA_AVAIL = 3;
}
