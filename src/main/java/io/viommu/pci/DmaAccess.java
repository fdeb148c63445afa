package io.viommu.pci;

/** What a DMA request asks to do with the target page. */
public enum DmaAccess {
    READ,
    WRITE;

    public boolean isWrite() {
        return this == WRITE;
    }
}
