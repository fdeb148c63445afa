package io.viommu.memory;

/**
 * A virtual address in one user process of a modelled kernel: what a VMM passes as
 * {@code vaddr} to VFIO_IOMMU_MAP_DMA, and where that process finds a VM's RAM. Which process
 * it belongs to is the caller's context; the kernel resolves it to a {@link PhysAddr} of its
 * own machine through that process's page tables (pinning, for VFIO).
 */
public record VirtAddr(long value) implements Comparable<VirtAddr> {
    public static VirtAddr of(long value) {
        return new VirtAddr(value);
    }

    /** Adds an offset; throws ArithmeticException on 64-bit overflow. */
    public VirtAddr checkedAdd(long offset) {
        return new VirtAddr(Math.addExact(value, offset));
    }

    public long pageNumber() {
        return value >>> 12;
    }

    @Override
    public int compareTo(VirtAddr o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return String.format("va:0x%x", value);
    }
}
