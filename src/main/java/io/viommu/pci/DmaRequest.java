package io.viommu.pci;

import io.viommu.memory.Iova;

/**
 * One DMA request as it reaches an IOMMU: who asks, where, how many bytes and for what.
 * An IOMMU translates it page by page; {@code length} lets it check the whole span.
 */
public record DmaRequest(RequesterId requester, Iova iova, int length, DmaAccess access) {
    public DmaRequest {
        if (length <= 0) {
            throw new IllegalArgumentException("DMA length must be positive: " + length);
        }
    }
}
