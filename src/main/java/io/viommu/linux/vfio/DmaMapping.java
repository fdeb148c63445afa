package io.viommu.linux.vfio;

/**
 * One type1 mapping as user space made it ({@code struct vfio_dma}): {@code size} bytes of the
 * mapping process's memory from {@code vaddr}, seen by the container's devices at {@code iova},
 * readable and/or writable by them.
 */
public record DmaMapping(long iova, long vaddr, long size, boolean readable, boolean writable) {
    /** Last IOVA byte of the mapping. */
    public long last() {
        return iova + size - 1;
    }

    @Override
    public String toString() {
        return String.format("iova %#x+%#x <- vaddr %#x %s%s", iova, size, vaddr, readable ? "r" : "-", writable ? "w" : "-");
    }
}
