package io.viommu.memory;

/**
 * An I/O virtual address: the address a device puts in a DMA request, before the IOMMU that
 * covers it translates it into a {@link PhysAddr}. Without an IOMMU (or with pass-through)
 * the two are numerically equal, but they remain different types so that a bypass is always
 * an explicit conversion ({@link #identity()}).
 */
public record Iova(long value) implements Comparable<Iova> {
    public static Iova of(long value) {
        return new Iova(value);
    }

    public Iova checkedAdd(long offset) {
        return new Iova(Math.addExact(value, offset));
    }

    public long pageNumber() {
        return Page.pfn(value);
    }

    /** The physical address this IOVA reaches when nothing translates it (bypass). */
    public PhysAddr identity() {
        return new PhysAddr(value);
    }

    @Override
    public int compareTo(Iova o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return String.format("iova:0x%x", value);
    }
}
