package io.viommu.linux.vfio;

/** One entry of {@code struct vfio_iova_range}: a usable IOVA range, both ends inclusive. */
public record IovaRange(long start, long end) {
    public boolean contains(long first, long last) {
        return Long.compareUnsigned(first, start) >= 0 && Long.compareUnsigned(last, end) <= 0;
    }

    @Override
    public String toString() {
        return String.format("[%#x, %#x]", start, end);
    }
}
