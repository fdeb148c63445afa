package io.viommu.linux.vfio;

import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.PhysicalMemory;
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
    private final PhysicalMemory ram;
    private final long base;
    private final long limit;
    private long next;
    private final Deque<Long> free = new ArrayDeque<>();
    private long inUse;

    /** Frames in {@code [base, base + size)}; both page aligned and inside RAM. */
    public PageFrames(PhysicalMemory ram, PhysAddr start, long size) {
        long base = start.value();
        if ((base | size) % Page.SIZE != 0 || size <= 0 || !ram.contains(start, 0) || base + size > ram.size()) {
            throw new IllegalArgumentException(String.format("frame range %#x+%#x not page aligned inside RAM", base, size));
        }
        this.ram = ram;
        this.base = base;
        this.limit = base + size;
        this.next = base;
    }

    public PhysicalMemory ram() {
        return ram;
    }

    /** A zeroed frame, or null when the range is exhausted (the caller's -ENOMEM). */
    public PhysAddr allocate() {
        long f;
        if (!free.isEmpty()) {
            f = free.pop();
        } else if (next < limit) {
            f = next;
            next += Page.SIZE;
        } else {
            return null;
        }
        ram.fill(PhysAddr.of(f), Page.SIZE, (byte) 0);
        inUse++;
        return new PhysAddr(f);
    }

    public void release(PhysAddr frame) {
        long f = frame.value();
        if (f < base || f >= limit || f % Page.SIZE != 0) {
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
        return a.value() >= base && a.value() < limit;
    }
}
