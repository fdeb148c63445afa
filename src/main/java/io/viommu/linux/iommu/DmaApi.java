package io.viommu.linux.iommu;

import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The streaming DMA API a driver of the modelled kernel calls (include/linux/dma-mapping.h),
 * with the two implementations Linux 6.1 picks between per device:
 * <ul>
 * <li>iommu-dma (drivers/iommu/dma-iommu.c) when the device's group has a DMA or DMA-FQ default
 *     domain: an IOVA from the domain's {@link IovaDomain} (PCI devices try below 4 GiB first
 *     unless iommu.forcedac), page-table entries written in RAM by {@link DmarDomain}, and on
 *     unmap either a page-selective invalidation before returning (strict) or the flush queue
 *     (lazy, DMA-FQ);</li>
 * <li>dma-direct otherwise (identity domain, intel_iommu=off, no IOMMU): the DMA address is the
 *     physical address. Bounce buffering (swiotlb) for addresses above the mask is not
 *     modelled: such a map fails with {@link #MAPPING_ERROR}.</li>
 * </ul>
 * Devices start with the PCI default mask of 32 bits ({@link #setDmaMask}, as
 * dma_set_mask_and_coherent). The CPU the caller runs on selects the IOVA magazines and the
 * flush queue ({@link #setCpu}).
 */
public final class DmaApi {
    /** DMA_MAPPING_ERROR. */
    public static final Iova MAPPING_ERROR = new Iova(~0L);
    static final long DMA_BIT_MASK_32 = 0xffff_ffffL;
    /** dma_get_max_seg_size of a PCI device (pci_device_add sets 64 KiB). */
    static final int MAX_SEGMENT_SIZE = 65536;
    /** dma_get_seg_boundary of a PCI device (4 GiB). */
    static final long SEGMENT_BOUNDARY = 0xffff_ffffL;

    private final IntelIommuDriver driver; // null: no IOMMU driver, everything is dma-direct
    private final boolean forcedac;
    private final Map<RequesterId, Long> masks = new HashMap<>();
    private int cpu;

    DmaApi(IntelIommuDriver driver, boolean forcedac) {
        this.driver = driver;
        this.forcedac = forcedac;
    }

    /** The DMA API of a kernel: its intel-iommu driver's ({@code driver} non-null), or dma-direct. */
    public static DmaApi of(IntelIommuDriver driver) {
        return driver != null ? driver.dma() : direct();
    }

    /** The DMA API of a kernel without an active IOMMU driver: dma-direct for every device. */
    public static DmaApi direct() {
        return new DmaApi(null, false);
    }

    public static boolean isError(Iova dma) {
        return dma.value() == MAPPING_ERROR.value();
    }

    /** dma_set_mask_and_coherent. */
    public void setDmaMask(RequesterId dev, long mask) {
        masks.put(dev, mask);
    }

    public long dmaMask(RequesterId dev) {
        return masks.getOrDefault(dev, DMA_BIT_MASK_32);
    }

    /** The CPU the next calls run on (selects per-CPU IOVA caches and flush queues). */
    public void setCpu(int cpu) {
        if (cpu < 0 || (driver != null && cpu >= driver.cpus())) {
            throw new IllegalArgumentException("no such CPU: " + cpu);
        }
        this.cpu = cpu;
    }

    /** True when the device's DMA goes through an IOMMU DMA domain (iommu-dma ops). */
    public boolean translated(RequesterId dev) {
        return cookie(dev) != null;
    }

    private DmaCookie cookie(RequesterId dev) {
        return driver == null ? null : driver.cookieOf(dev);
    }

    // ---- single mappings ----

    /** dma_map_single / dma_map_page: the DMA address of {@code size} bytes at {@code phys}. */
    public Iova mapSingle(RequesterId dev, PhysAddr phys, long size, DmaDirection dir) {
        if (size <= 0) {
            return MAPPING_ERROR;
        }
        DmaCookie c = cookie(dev);
        if (c == null) {
            long end = phys.value() + size - 1;
            return Long.compareUnsigned(end, dmaMask(dev)) <= 0 ? new Iova(phys.value()) : MAPPING_ERROR;
        }
        long iovaOff = phys.value() & 0xfff;
        long len = align(size + iovaOff);
        long iova = allocIova(c, len, dmaMask(dev));
        if (iova == 0) {
            return MAPPING_ERROR;
        }
        long prot = c.domain.protOf(dir.permission());
        if (c.domain.mapPages(iova, phys.value() - iovaOff, len, prot) != 0) {
            c.iovad.freeFast(cpu, iova >>> Page.SHIFT, len >>> Page.SHIFT);
            return MAPPING_ERROR;
        }
        return new Iova(iova + iovaOff);
    }

    /** dma_unmap_single / dma_unmap_page. */
    public void unmapSingle(RequesterId dev, Iova addr, long size, DmaDirection dir) {
        DmaCookie c = cookie(dev);
        if (c == null || size <= 0) {
            return;
        }
        unmap(c, addr.value(), size);
    }

    /** __iommu_dma_unmap. */
    private void unmap(DmaCookie c, long dmaAddr, long size) {
        long iovaOff = dmaAddr & 0xfff;
        dmaAddr -= iovaOff;
        size = align(size + iovaOff);
        List<PhysAddr> freelist = new ArrayList<>();
        long unmapped = c.domain.unmapNoSync(dmaAddr, size, freelist);
        if (c.lazy()) {
            c.queue(cpu, dmaAddr >>> Page.SHIFT, size >>> Page.SHIFT, freelist);
        } else {
            c.domain.iotlbSync(dmaAddr, unmapped, freelist);
            c.iovad.freeFast(cpu, dmaAddr >>> Page.SHIFT, size >>> Page.SHIFT);
        }
    }

    /** iommu_dma_alloc_iova: below 4 GiB first for PCI devices, then up to the mask. */
    private long allocIova(DmaCookie c, long size, long dmaLimit) {
        long len = size >>> Page.SHIFT;
        long aperture = c.domain.apertureEnd().value();
        if (Long.compareUnsigned(dmaLimit, aperture) > 0) { // masks are unsigned
            dmaLimit = aperture;
        }
        long pfn = 0;
        long hitsBefore = c.iovad.cacheHits();
        if (Long.compareUnsigned(dmaLimit, DMA_BIT_MASK_32) > 0 && !forcedac) {
            pfn = c.iovad.allocFast(cpu, len, DMA_BIT_MASK_32 >>> Page.SHIFT, false);
        }
        if (pfn == 0) {
            pfn = c.iovad.allocFast(cpu, len, dmaLimit >>> Page.SHIFT, true);
        }
        IommuCounters.Tally t = driver.tally();
        t.iovaAllocs++;
        t.iovaCacheHits += c.iovad.cacheHits() - hitsBefore;
        return pfn << Page.SHIFT;
    }

    private static long align(long n) {
        return Page.alignUp(n);
    }

    // ---- scatter lists ----

    /**
     * dma_map_sg: returns the number of DMA segments (0 on failure). Through the IOMMU the
     * whole list gets one IOVA range (iommu_dma_map_sg): each segment is page-aligned, padded
     * so none crosses the segment boundary, physically contiguous runs are mapped by one
     * iommu_map, and __finalise_sg merges segments that start on a page boundary into the
     * previous DMA segment while it stays within the maximum segment size (64 KiB for PCI).
     * dma-direct maps each segment at its physical address, unmerged.
     */
    public int mapSg(RequesterId dev, ScatterList sg, DmaDirection dir) {
        DmaCookie c = cookie(dev);
        List<ScatterList.Segment> segs = sg.segments();
        List<ScatterList.DmaSegment> out = new ArrayList<>();
        if (c == null) {
            for (ScatterList.Segment s : segs) {
                if (Long.compareUnsigned(s.phys().value() + s.length() - 1, dmaMask(dev)) > 0) {
                    sg.setDma(List.of());
                    return 0;
                }
                out.add(new ScatterList.DmaSegment(new Iova(s.phys().value()), s.length()));
            }
            sg.setDma(out);
            return out.size();
        }
        int n = segs.size();
        long[] iovaOff = new long[n];
        long[] iovaLen = new long[n]; // s->length after alignment (and padding of the previous)
        long mask = SEGMENT_BOUNDARY;
        long total = 0;
        for (int i = 0; i < n; i++) {
            ScatterList.Segment s = segs.get(i);
            iovaOff[i] = s.phys().value() & 0xfff;
            iovaLen[i] = align(s.length() + iovaOff[i]);
            long padLen = (mask - total + 1) & mask;
            if (i > 0 && padLen != 0 && padLen < iovaLen[i] - 1) {
                iovaLen[i - 1] += padLen;
                total += padLen;
            }
            total += iovaLen[i];
        }
        long iova = allocIova(c, total, dmaMask(dev));
        if (iova == 0) {
            sg.setDma(List.of());
            return 0;
        }
        // iommu_map_sg: physically contiguous runs in one __iommu_map, one iotlb_sync_map at the end.
        long prot = c.domain.protOf(dir.permission());
        long mapped = 0;
        long start = 0;
        long len = 0;
        for (int i = 0; i <= n; i++) {
            long sPhys = i < n ? segs.get(i).phys().value() - iovaOff[i] : -1;
            if (len != 0 && (i == n || sPhys != start + len)) {
                int rc = c.domain.mapNoNotify(iova + mapped, start, len, prot);
                if (rc != 0) {
                    List<PhysAddr> freelist = new ArrayList<>();
                    if (mapped > 0) {
                        c.domain.unmapNoSync(iova, mapped, freelist);
                        c.domain.iotlbSync(iova, mapped, freelist);
                    }
                    c.iovad.freeFast(cpu, iova >>> Page.SHIFT, total >>> Page.SHIFT);
                    sg.setDma(List.of());
                    return 0;
                }
                mapped += len;
                len = 0;
            }
            if (i < n) {
                if (len != 0) {
                    len += iovaLen[i];
                } else {
                    len = iovaLen[i];
                    start = sPhys;
                }
            }
        }
        c.domain.notifyMapped(iova >>> Page.SHIFT, mapped >>> Page.SHIFT);
        // __finalise_sg
        long dmaAddr = iova;
        long curLen = 0;
        for (int i = 0; i < n; i++) {
            long sLength = segs.get(i).length();
            if (curLen != 0 && iovaOff[i] == 0 && (dmaAddr & SEGMENT_BOUNDARY) != 0
                    && MAX_SEGMENT_SIZE - curLen >= sLength) {
                curLen += sLength; // concatenate with the previous DMA segment
                ScatterList.DmaSegment last = out.remove(out.size() - 1);
                out.add(new ScatterList.DmaSegment(last.address(), (int) curLen));
            } else {
                curLen = sLength;
                out.add(new ScatterList.DmaSegment(new Iova(dmaAddr + iovaOff[i]), (int) curLen));
            }
            dmaAddr += iovaLen[i];
            if (sLength + iovaOff[i] < iovaLen[i]) {
                curLen = 0; // ends inside its IOVA slot: the next segment cannot follow on
            }
        }
        sg.setDma(out);
        return out.size();
    }

    /** dma_unmap_sg: the IOVA range from the first DMA segment to the end of the last. */
    public void unmapSg(RequesterId dev, ScatterList sg, DmaDirection dir) {
        DmaCookie c = cookie(dev);
        List<ScatterList.DmaSegment> d = sg.dmaSegments();
        if (c == null || d.isEmpty()) {
            sg.setDma(List.of());
            return;
        }
        long start = d.get(0).address().value();
        ScatterList.DmaSegment last = d.get(d.size() - 1);
        long end = last.address().value() + last.length();
        unmap(c, start, end - start);
        sg.setDma(List.of());
    }

    // ---- state for tests ----

    /** Entries waiting in the current CPU's flush queue of the device's domain. */
    public int flushQueueLength(RequesterId dev) {
        DmaCookie c = cookie(dev);
        return c == null ? 0 : c.queued(cpu);
    }

    /** The IOVA allocator behind a device's DMA API, or null (dma-direct). */
    public IovaDomain iovaDomain(RequesterId dev) {
        DmaCookie c = cookie(dev);
        return c == null ? null : c.iovad;
    }
}
