package io.viommu.linux.iommu;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import java.util.ArrayDeque;

/**
 * The kernel model's page allocator: 4 KiB pages of the machine's RAM handed out from one
 * reserved region (what alloc_pgtable_page / alloc_pages give the intel-iommu driver, and what
 * a driver's kmalloc'd DMA buffers come from). Pages are zeroed on allocation, as
 * {@code __GFP_ZERO} does for page tables.
 *
 * <p>Region: by default {@link #DEFAULT_BASE} (16 MiB) up to 64 MiB further or the end of RAM
 * below 4 GiB, whichever is lower. 16 MiB keeps the first 16 MiB (the ISA DMA window that the
 * floppy workaround maps 1:1, low firmware memory) free, and nothing else of the model places
 * data there. The allocator is a bump pointer with a free list: freed pages are reused first
 * (LIFO, like the per-CPU page lists).
 */
public final class GuestPages {
    public static final long DEFAULT_BASE = 0x0100_0000L;
    public static final long DEFAULT_SIZE = 0x0400_0000L;

    private final AddressSpace ram;
    private final long base;
    private final long end;
    private long next;
    private final ArrayDeque<Long> free = new ArrayDeque<>();
    private long inUse;
    private static final byte[] ZERO = new byte[(int) Page.SIZE];

    public GuestPages(AddressSpace ram, PhysAddr start, long size) {
        long base = start.value();
        if ((base & (Page.SIZE - 1)) != 0 || size <= 0 || (size & (Page.SIZE - 1)) != 0) {
            throw new IllegalArgumentException("page region must be page aligned: " + base + "+" + size);
        }
        this.ram = ram;
        this.base = base;
        this.end = base + size;
        this.next = base;
    }

    /** The default region of a machine with {@code ramSize} bytes of RAM (at least 17 MiB). */
    public static GuestPages forRam(AddressSpace ram, long ramSize) {
        long top = Math.min(ramSize, 0x1_0000_0000L);
        long size = Math.min(DEFAULT_SIZE, top - DEFAULT_BASE) & -Page.SIZE;
        if (size <= 0) {
            throw new IllegalArgumentException("the kernel model needs more than 16 MiB of RAM");
        }
        return new GuestPages(ram, PhysAddr.of(DEFAULT_BASE), size);
    }

    /** A zeroed page, or null when the region is exhausted (the caller's -ENOMEM). */
    public PhysAddr allocate() {
        long p;
        if (!free.isEmpty()) {
            p = free.pop();
        } else if (next < end) {
            p = next;
            next += Page.SIZE;
        } else {
            return null;
        }
        ram.writeBytes(PhysAddr.of(p), ZERO, 0, ZERO.length);
        inUse++;
        return new PhysAddr(p);
    }

    /** {@code n} physically contiguous zeroed pages from the bump region, or null. */
    public PhysAddr allocateContiguous(int n) {
        if (n == 1) {
            return allocate();
        }
        if (next + n * Page.SIZE > end) {
            return null;
        }
        long p = next;
        next += n * Page.SIZE;
        for (int i = 0; i < n; i++) {
            ram.writeBytes(PhysAddr.of(p + i * Page.SIZE), ZERO, 0, ZERO.length);
        }
        inUse += n;
        return new PhysAddr(p);
    }

    public void free(PhysAddr page) {
        long p = page.value();
        if (p < base || p >= end || (p & (Page.SIZE - 1)) != 0) {
            throw new IllegalArgumentException("not a page of this allocator: " + page);
        }
        free.push(p);
        inUse--;
    }

    public long pagesInUse() {
        return inUse;
    }

    public boolean contains(PhysAddr a) {
        return a.value() >= base && a.value() < end;
    }

    public long base() {
        return base;
    }

    public long end() {
        return end;
    }
}
