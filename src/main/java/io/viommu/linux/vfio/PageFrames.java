package io.viommu.linux.vfio;

import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.AddressSpace;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The frames of user space's anonymous memory ({@code Kernel.userMemory()}): 4 KiB frames of
 * one range of the machine's RAM handed out lowest first, zeroed on allocation (a fresh
 * anonymous page), reused most-recently-freed first. The range is disjoint from the kernel's
 * own page region ({@code io.viommu.linux.iommu.GuestPages}, where the intel-iommu driver puts
 * its root, context and page tables and the IR table), so a process page is never also a page
 * table, and a device's DMA through a VFIO mapping lands in process memory only.
 *
 * <p>Not Linux's buddy allocator (no orders, no zones): only the property that matters here, that
 * allocations are real frames of the machine's RAM that DMA can reach.
 */
public final class PageFrames {
    private final AddressSpace ram;
    private final long base;
    private final long limit;
    /** A second range (RAM above 4 GiB), or 0/0. */
    private final long base2;
    private final long limit2;
    private long next;
    private final Deque<Long> free = new ArrayDeque<>();
    private long inUse;

    /**
     * Frames in {@code [base, base + size)} of {@code ram}; both page aligned and inside
     * {@code ramSize} bytes of RAM. {@code ram} is the machine's RAM whatever backs it (its own
     * memory, or a VMM process's for a guest).
     */
    public PageFrames(AddressSpace ram, long ramSize, PhysAddr start, long size) {
        long base = start.value();
        if ((base | size) % Page.SIZE != 0 || size <= 0 || base < 0 || base + size > ramSize) {
            throw new IllegalArgumentException(String.format("frame range %#x+%#x not page aligned inside RAM", base, size));
        }
        this.ram = ram;
        this.base = base;
        this.limit = base + size;
        this.base2 = 0;
        this.limit2 = 0;
        this.next = base;
    }

    /**
     * Frames of two ranges of physical addresses, {@code [start, start + size)} first, then
     * {@code [start2, start2 + size2)} (RAM above 4 GiB); {@code physical} is addressed by
     * physical address (the machine's memory map).
     */
    public PageFrames(AddressSpace physical, PhysAddr start, long size, PhysAddr start2, long size2) {
        long b = start.value();
        long b2 = start2.value();
        if ((b | size | b2 | size2) % Page.SIZE != 0 || size <= 0 || size2 < 0 || b < 0 || b2 < b + size) {
            throw new IllegalArgumentException(String.format("frame ranges %#x+%#x, %#x+%#x not page aligned and ascending",
                    b, size, b2, size2));
        }
        this.ram = physical;
        this.base = b;
        this.limit = b + size;
        this.base2 = b2;
        this.limit2 = b2 + size2;
        this.next = b;
    }

    public AddressSpace ram() {
        return ram;
    }

    /** A zeroed frame, or null when the range is exhausted (the caller's -ENOMEM). */
    public PhysAddr allocate() {
        long f;
        if (!free.isEmpty()) {
            f = free.pop();
        } else if (next < limit || (next >= base2 && next < limit2)) {
            f = next;
            next += Page.SIZE;
            if (next == limit && limit2 > base2) {
                next = base2;
            }
        } else {
            return null;
        }
        ram.zero(PhysAddr.of(f), Page.SIZE); // sparse RAM leaves an untouched chunk unallocated
        inUse++;
        return new PhysAddr(f);
    }

    public void release(PhysAddr frame) {
        long f = frame.value();
        if (!contains(frame) || f % Page.SIZE != 0) {
            throw new IllegalArgumentException("not a frame of this allocator: " + frame);
        }
        free.push(f);
        inUse--;
    }

    /** Frames currently allocated. */
    public long inUse() {
        return inUse;
    }

    public boolean contains(PhysAddr a) {
        long v = a.value();
        return (v >= base && v < limit) || (v >= base2 && v < limit2);
    }
}
