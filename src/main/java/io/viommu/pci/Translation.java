package io.viommu.pci;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;

/**
 * A successful translation of one naturally aligned IOVA page (4 KiB, 2 MiB or 1 GiB) to a
 * physical page, with the permissions the page tables grant. Instances are immutable and are
 * what an IOTLB caches and hands out again on a hit, so a hit allocates nothing.
 */
public record Translation(Iova iovaPage, PhysAddr physPage, long pageSize, boolean readable,
                          boolean writable) implements TranslationResult {
    public Translation {
        if (Long.bitCount(pageSize) != 1 || (iovaPage.value() & (pageSize - 1)) != 0
                || (physPage.value() & (pageSize - 1)) != 0) {
            throw new IllegalArgumentException("translation must be page aligned: " + iovaPage
                    + " -> " + physPage + " size " + pageSize);
        }
    }

    /** An identity mapping of the page containing {@code iova}, used for bypass and pass-through. */
    public static Translation identity(Iova iova, long pageSize, boolean readable, boolean writable) {
        long base = iova.value() & -pageSize;
        return new Translation(new Iova(base), new PhysAddr(base), pageSize, readable, writable);
    }

    public boolean covers(Iova iova) {
        return (iova.value() & -pageSize) == iovaPage.value();
    }

    public boolean permits(DmaAccess access) {
        return access.isWrite() ? writable : readable;
    }

    /** The physical address {@code iova} translates to; {@code iova} must be covered. */
    public PhysAddr output(Iova iova) {
        return new PhysAddr(outputValue(iova.value()));
    }

    /** Same as {@link #output} without a wrapper, for hot loops. */
    public long outputValue(long iova) {
        return physPage.value() | (iova & (pageSize - 1));
    }
}
