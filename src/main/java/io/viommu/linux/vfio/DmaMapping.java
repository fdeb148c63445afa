package io.viommu.linux.vfio;

import io.viommu.memory.Iova;
import io.viommu.memory.VirtAddr;

/**
 * One type1 mapping as user space made it ({@code struct vfio_dma}): {@code size} bytes of the
 * mapping process's memory from {@code vaddr}, seen by the container's devices at {@code iova},
 * readable and/or writable by them.
 */
public record DmaMapping(Iova iova, VirtAddr vaddr, long size, boolean readable, boolean writable) {
    /** Last IOVA byte of the mapping. */
    public Iova last() {
        return new Iova(iova.value() + size - 1);
    }

    @Override
    public String toString() {
        return String.format("iova %#x+%#x <- vaddr %#x %s%s", iova.value(), size, vaddr.value(), readable ? "r" : "-", writable ? "w" : "-");
    }
}
