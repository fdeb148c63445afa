package io.viommu.memory;

/**
 * The 4 KiB page: the unit of x86 paging, of VT-d translation (VTD_PAGE_SIZE) and of the
 * kernel's page allocator (PAGE_SIZE). The one definition of its size in viommu.
 */
public final class Page {
    public static final int SHIFT = 12;
    public static final long SIZE = 1L << SHIFT;
    /** The address bits above the offset within a page ({@code PAGE_MASK}). */
    public static final long MASK = -SIZE;

    private Page() {
    }

    /** The page frame number of an address. */
    public static long pfn(long address) {
        return address >>> SHIFT;
    }

    /** The address of a page frame number. */
    public static long address(long pfn) {
        return pfn << SHIFT;
    }

    /** {@code PAGE_ALIGN}: rounded up to a page boundary. */
    public static long alignUp(long n) {
        return (n + SIZE - 1) & MASK;
    }

    public static long alignDown(long address) {
        return address & MASK;
    }

    /** The offset within the page. */
    public static long offset(long address) {
        return address & (SIZE - 1);
    }

    public static boolean isAligned(long n) {
        return (n & (SIZE - 1)) == 0;
    }
}
