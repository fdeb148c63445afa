package io.viommu.pci;

import io.viommu.memory.Iova;

/**
 * A DMA request that the IOMMU refused. {@code reason} is the IOMMU's architected fault
 * reason code (VT-d: 1..0xD legacy, 0x30.. scalable mode); {@code recorded} says whether the
 * IOMMU logged it (FPD or fault compression can suppress recording, not the fault).
 */
public record DmaFault(RequesterId requester, Iova iova, DmaAccess access, int reason,
                       String description, boolean recorded) implements TranslationResult {
    @Override
    public String toString() {
        return String.format("DMA fault %s %s %s reason 0x%x (%s)%s", requester, access, iova,
                reason, description, recorded ? "" : " [not recorded]");
    }
}
