package io.viommu.vtd.notify;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;

/**
 * A run of IOVA pages mapped to physically contiguous memory with one permission:
 * {@code range.first -> phys}, {@code range.first + k -> phys + k}. Runs are what the
 * notifier announces; many guest pages become one run when the guest made them contiguous.
 */
public record Mapping(IovaRange range, PhysAddr phys, Permission permission) {
    public Mapping {
        if (!range.isPageAligned() || (phys.value() & 0xfff) != 0 || range.size() <= 0) {
            throw new IllegalArgumentException("mapping must be whole pages: " + range + " -> " + phys);
        }
    }

    public static Mapping of(long iova, long size, long phys, Permission permission) {
        return new Mapping(IovaRange.of(new Iova(iova), size), new PhysAddr(phys), permission);
    }

    public long size() {
        return range.size();
    }

    /** Where {@code iova} (inside the run) lands. */
    public long physAt(long iova) {
        return phys.value() + (iova - range.first());
    }

    /** The part of this run inside {@code r}, or null. */
    public Mapping clip(IovaRange r) {
        IovaRange c = range.intersect(r);
        if (c == null) {
            return null;
        }
        return c.equals(range) ? this : new Mapping(c, new PhysAddr(physAt(c.first())), permission);
    }

    /** Whether {@code next} continues this run: adjacent IOVA, adjacent memory, same permission. */
    public boolean continuedBy(Mapping next) {
        return range.last() + 1 == next.range.first() && physAt(range.last()) + 1 == next.phys.value()
                && permission == next.permission;
    }

    @Override
    public String toString() {
        return range + " -> " + phys + " " + permission;
    }
}
