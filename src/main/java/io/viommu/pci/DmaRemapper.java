package io.viommu.pci;

/**
 * The IOMMU that covers a device, as the device's DMA path sees it (DESIGN.md "A DMA, end to
 * end"). Implementations never throw: every guest error is a {@link DmaFault}.
 */
public interface DmaRemapper {
    /**
     * Translates the page of {@code request.iova()}; the caller splits requests at page
     * boundaries it learns from the returned {@link Translation#pageSize()}.
     */
    TranslationResult translate(DmaRequest request);
}
