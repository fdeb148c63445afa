package io.viommu.memory;

/**
 * An address in a machine's physical address space: what a CPU of that machine puts on its
 * memory bus, and what a device's DMA reaches after IOMMU translation. For a VM this is the
 * guest-physical address space; for the bare-metal level it is host-physical.
 * Architected width is 52 bits (VT-d HAW); wider values are rejected at the boundary.
 */
public record PhysAddr(long value) implements Comparable<PhysAddr> {
    public static final int MAX_WIDTH = 52;
    public static final long LIMIT = 1L << MAX_WIDTH;

    public static PhysAddr of(long value) {
        return new PhysAddr(value);
    }

    public boolean isWithinArchitectedWidth() {
        return value >= 0 && value < LIMIT;
    }

    /** Adds an offset; throws ArithmeticException on 64-bit overflow. */
    public PhysAddr checkedAdd(long offset) {
        return new PhysAddr(Math.addExact(value, offset));
    }

    public long pageNumber() {
        return Page.pfn(value);
    }

    @Override
    public int compareTo(PhysAddr o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return String.format("pa:0x%x", value);
    }
}
