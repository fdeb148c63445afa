package io.viommu.vtd.notify;

import io.viommu.memory.Iova;

/**
 * An inclusive range of I/O virtual addresses, {@code first..last}, compared unsigned so that
 * the whole 64-bit space ({@link #ALL}, QEMU's notifier range 0..UINT64_MAX) is expressible.
 */
public record IovaRange(long first, long last) {
    public static final IovaRange ALL = new IovaRange(0, -1L);

    public IovaRange {
        if (Long.compareUnsigned(first, last) > 0) {
            throw new IllegalArgumentException(String.format("empty IOVA range 0x%x..0x%x", first, last));
        }
    }

    /** {@code size} bytes from {@code start}; {@code size} must be positive and not wrap. */
    public static IovaRange of(Iova start, long size) {
        if (size <= 0 || Long.compareUnsigned(start.value() + size - 1, start.value()) < 0) {
            throw new IllegalArgumentException("bad IOVA range " + start + " size " + size);
        }
        return new IovaRange(start.value(), start.value() + size - 1);
    }

    public Iova start() {
        return new Iova(first);
    }

    /** Length in bytes; 0 stands for 2^64 (only {@link #ALL}). */
    public long size() {
        return last - first + 1;
    }

    public boolean contains(long iova) {
        return Long.compareUnsigned(iova, first) >= 0 && Long.compareUnsigned(iova, last) <= 0;
    }

    public boolean intersects(IovaRange o) {
        return Long.compareUnsigned(first, o.last) <= 0 && Long.compareUnsigned(o.first, last) <= 0;
    }

    /** The intersection, or null when the two do not meet. */
    public IovaRange intersect(IovaRange o) {
        if (!intersects(o)) {
            return null;
        }
        long f = Long.compareUnsigned(first, o.first) >= 0 ? first : o.first;
        long l = Long.compareUnsigned(last, o.last) <= 0 ? last : o.last;
        return new IovaRange(f, l);
    }

    /** Both ends on 4 KiB page boundaries (first page-aligned, last one below a boundary). */
    public boolean isPageAligned() {
        return (first & 0xfff) == 0 && (last & 0xfff) == 0xfff;
    }

    @Override
    public String toString() {
        return String.format("0x%x..0x%x", first, last);
    }
}
