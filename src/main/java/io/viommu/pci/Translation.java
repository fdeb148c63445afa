package io.viommu.pci;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;

/**
 * A successful translation of one naturally aligned IOVA page (4 KiB, 2 MiB or 1 GiB) to a
 * physical page, with the permissions the page tables grant. Instances are immutable and are
 * what an IOTLB caches and hands out again on a hit, so a hit allocates nothing.
 *
 * <p>A value class: equal when every component is equal. The pages are kept as primitive
 * fields, so a translation is one object (the IOTLB keeps one per entry and a miss allocates
 * only it); {@link #iovaPage()} and {@link #physPage()} give the typed addresses.
 */
public final class Translation implements TranslationResult {
    private final long iovaPage;
    private final long physPage;
    private final long pageSize;
    private final boolean readable;
    private final boolean writable;

    public Translation(Iova iovaPage, PhysAddr physPage, long pageSize, boolean readable, boolean writable) {
        this(iovaPage.value(), physPage.value(), pageSize, readable, writable);
    }

    private Translation(long iovaPage, long physPage, long pageSize, boolean readable, boolean writable) {
        if (Long.bitCount(pageSize) != 1 || (iovaPage & (pageSize - 1)) != 0 || (physPage & (pageSize - 1)) != 0) {
            throw new IllegalArgumentException("translation must be page aligned: " + new Iova(iovaPage)
                    + " -> " + new PhysAddr(physPage) + " size " + pageSize);
        }
        this.iovaPage = iovaPage;
        this.physPage = physPage;
        this.pageSize = pageSize;
        this.readable = readable;
        this.writable = writable;
    }

    /**
     * The translation a page walk found: the {@code pageSize} page containing {@code iova} to the
     * page at {@code physPage}. Takes the walk's raw values so that a miss allocates one object.
     */
    public static Translation ofWalk(long iova, long physPage, long pageSize, boolean readable, boolean writable) {
        return new Translation(iova & -pageSize, physPage, pageSize, readable, writable);
    }

    /** An identity mapping of the page containing {@code iova}, used for bypass and pass-through. */
    public static Translation identity(Iova iova, long pageSize, boolean readable, boolean writable) {
        long base = iova.value() & -pageSize;
        return new Translation(base, base, pageSize, readable, writable);
    }

    public Iova iovaPage() {
        return new Iova(iovaPage);
    }

    public PhysAddr physPage() {
        return new PhysAddr(physPage);
    }

    /** {@link #iovaPage()} without a wrapper, for hot loops. */
    public long iovaPageValue() {
        return iovaPage;
    }

    /** {@link #physPage()} without a wrapper, for hot loops. */
    public long physPageValue() {
        return physPage;
    }

    public long pageSize() {
        return pageSize;
    }

    public boolean readable() {
        return readable;
    }

    public boolean writable() {
        return writable;
    }

    public boolean covers(Iova iova) {
        return (iova.value() & -pageSize) == iovaPage;
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
        return physPage | (iova & (pageSize - 1));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Translation t && t.iovaPage == iovaPage && t.physPage == physPage
                && t.pageSize == pageSize && t.readable == readable && t.writable == writable;
    }

    @Override
    public int hashCode() {
        int h = Long.hashCode(iovaPage);
        h = 31 * h + Long.hashCode(physPage);
        h = 31 * h + Long.hashCode(pageSize);
        return 31 * h + (readable ? 2 : 0) + (writable ? 1 : 0);
    }

    @Override
    public String toString() {
        return "Translation[iovaPage=" + iovaPage() + ", physPage=" + physPage() + ", pageSize=" + pageSize
                + ", readable=" + readable + ", writable=" + writable + "]";
    }
}
