package io.viommu.linux.vfio;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.ReservedRegion;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.VirtAddr;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The type1 IOMMU driver's per-container state ({@code struct vfio_iommu} in
 * drivers/vfio/vfio_iommu_type1.c, Linux 6.1): the user's mappings keyed by IOVA, the domains
 * the container's groups are attached to, the valid IOVA list, the page-size bitmap and the
 * {@code dma_avail} budget. Every rule and its errno is the kernel's; the order of the checks
 * is the kernel's too, because user space sees only the first failure.
 */
final class Type1Iommu {
    /** {@code VFIO_DMA_MAP_FLAG_*}. */
    static final int MAP_READ = 1;
    static final int MAP_WRITE = 2;
    static final int MAP_VADDR = 4;
    /** {@code VFIO_DMA_UNMAP_FLAG_*}. */
    static final int UNMAP_GET_DIRTY_BITMAP = 1;
    static final int UNMAP_ALL = 2;
    static final int UNMAP_VADDR = 4;
    /**
     * One {@code struct vfio_dma}: primitives only (a container may hold dma_entry_limit of
     * them, 65535 by default and more when raised), the pinned frames as one array.
     */
    private static final class Dma {
        final long iova;
        final long vaddr;
        final long size;
        final boolean readable;
        final boolean writable;
        final UserProcess task;
        final long[] pinned;

        Dma(long iova, long vaddr, long size, boolean readable, boolean writable, UserProcess task, long[] pinned) {
            this.iova = iova;
            this.vaddr = vaddr;
            this.size = size;
            this.readable = readable;
            this.writable = writable;
            this.task = task;
            this.pinned = pinned;
        }

        long last() {
            return iova + size - 1;
        }

        /** As user space made it. */
        DmaMapping user() {
            return new DmaMapping(new Iova(iova), new VirtAddr(vaddr), size, readable, writable);
        }

        @Override
        public String toString() {
            return user().toString();
        }
    }

    private final class DomainEntry {
        final Type1Backend.Domain domain;
        final List<Integer> groups = new ArrayList<>();

        DomainEntry(Type1Backend.Domain domain) {
            this.domain = domain;
        }
    }

    private final Vfio vfio;
    final boolean v2;
    private final TreeMap<Long, Dma> dmas = new TreeMap<>(Long::compareUnsigned);
    private final List<DomainEntry> domains = new ArrayList<>();
    private List<IovaRange> iovaList = List.of();
    private long pgsizeBitmap = Page.MASK; // iommu->pgsize_bitmap before any domain: every size from 4 KiB
    private int dmaAvail;

    Type1Iommu(Vfio vfio, boolean v2) {
        this.vfio = vfio;
        this.v2 = v2;
        this.dmaAvail = vfio.dmaEntryLimit();
    }

    // ---------------------------------------------------------------- groups

    /** {@code vfio_iommu_type1_attach_group}. */
    void attachGroup(int group) {
        for (DomainEntry d : domains) {
            if (d.groups.contains(group)) {
                throw Errnos.fail(Errno.EINVAL, "group " + group + " is already attached");
            }
        }
        Type1Backend.Domain domain = vfio.backend().allocateUnmanaged();
        if (domain == null) {
            throw Errnos.fail(Errno.EIO, "iommu_domain_alloc failed");
        }
        int rc = domain.attachGroup(group);
        if (rc < 0) {
            domain.free();
            Errnos.check(rc, "iommu_attach_group");
        }
        try {
            long aperture = domain.apertureEnd();
            for (Dma d : dmas.values()) {
                if (Long.compareUnsigned(d.last(), aperture) > 0) {
                    throw Errnos.fail(Errno.EINVAL, "existing mapping " + d + " outside the new domain's aperture");
                }
            }
            List<ReservedRegion> resv = vfio.reservedRegions(group);
            for (ReservedRegion r : resv) {
                if (r.type() != ReservedRegion.Type.DIRECT_RELAXABLE && find(r.start(), r.end() - r.start() + 1) != null) {
                    throw Errnos.fail(Errno.EINVAL, "existing mapping overlaps reserved region " + r.sysfsLine().trim());
                }
            }
            List<IovaRange> copy = resize(iovaList, 0, aperture);
            copy = exclude(copy, resv);
            if (!vfio.allowUnsafeInterrupts() && !vfio.backend().interruptRemapping()) {
                vfio.warn("vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param"
                        + " \"allow_unsafe_interrupts\" to enable VFIO IOMMU support on this platform");
                throw Errnos.fail(Errno.EPERM, "no interrupt remapping and allow_unsafe_interrupts is off");
            }
            // Try to match an existing compatible domain: with one IOMMU driver every domain is.
            if (!domains.isEmpty()) {
                DomainEntry existing = domains.get(0);
                domain.detachGroup(group);
                if (existing.domain.attachGroup(group) == 0) {
                    domain.free();
                    existing.groups.add(group);
                    iovaList = copy;
                    return;
                }
                Errnos.check(domain.attachGroup(group), "iommu_attach_group");
            }
            DomainEntry entry = new DomainEntry(domain);
            entry.groups.add(group);
            replay(entry);
            domains.add(entry);
            pgsizeBitmap = updatePgsizes();
            iovaList = copy;
        } catch (VfioException e) {
            domain.detachGroup(group);
            domain.free();
            throw e;
        }
    }

    /** {@code vfio_iommu_replay}: maps every existing mapping into a new domain. */
    private void replay(DomainEntry entry) {
        for (Dma d : dmas.values()) {
            mapPinned(entry.domain, d);
        }
    }

    /** {@code vfio_iommu_type1_detach_group}: the last group's departure drops every mapping. */
    void detachGroup(int group) {
        for (DomainEntry d : List.copyOf(domains)) {
            if (!d.groups.remove((Integer) group)) {
                continue;
            }
            d.domain.detachGroup(group);
            if (d.groups.isEmpty()) {
                if (domains.size() == 1) {
                    removeAll();
                }
                d.domain.free();
                domains.remove(d);
            }
            break;
        }
        pgsizeBitmap = updatePgsizes();
        recomputeIovaList();
    }

    /** {@code vfio_iommu_type1_release}. */
    void release() {
        removeAll();
        for (DomainEntry d : domains) {
            for (Integer g : d.groups) {
                d.domain.detachGroup(g);
            }
            d.domain.free();
        }
        domains.clear();
    }

    private void recomputeIovaList() {
        List<IovaRange> list = List.of();
        boolean first = true;
        for (DomainEntry d : domains) {
            for (Integer g : d.groups) {
                list = first ? resize(List.of(), 0, d.domain.apertureEnd()) : resize(list, 0, d.domain.apertureEnd());
                first = false;
                list = exclude(list, vfio.reservedRegions(g));
            }
        }
        iovaList = list;
    }

    private long updatePgsizes() {
        long bitmap = Page.MASK;
        for (DomainEntry d : domains) {
            bitmap &= d.domain.pageSizeBitmap();
        }
        return bitmap;
    }

    /** {@code vfio_iommu_aper_resize}: an empty list becomes the aperture; else clipped to it. */
    static List<IovaRange> resize(List<IovaRange> list, long start, long end) {
        if (list.isEmpty()) {
            return List.of(new IovaRange(start, end));
        }
        List<IovaRange> out = new ArrayList<>();
        for (IovaRange r : list) {
            long s = Long.compareUnsigned(r.start(), start) < 0 ? start : r.start();
            long e = Long.compareUnsigned(r.end(), end) > 0 ? end : r.end();
            if (Long.compareUnsigned(s, e) <= 0) {
                out.add(new IovaRange(s, e));
            }
        }
        return out;
    }

    /** {@code vfio_iommu_resv_exclude}: reserved regions cut holes; relaxable RMRRs do not. */
    static List<IovaRange> exclude(List<IovaRange> list, List<ReservedRegion> resv) {
        List<IovaRange> out = new ArrayList<>(list);
        for (ReservedRegion r : resv) {
            if (r.type() == ReservedRegion.Type.DIRECT_RELAXABLE) {
                continue;
            }
            List<IovaRange> next = new ArrayList<>();
            for (IovaRange n : out) {
                if (Long.compareUnsigned(r.end(), n.start()) < 0 || Long.compareUnsigned(r.start(), n.end()) > 0) {
                    next.add(n);
                    continue;
                }
                if (Long.compareUnsigned(r.start(), n.start()) > 0) {
                    next.add(new IovaRange(n.start(), r.start() - 1));
                }
                if (Long.compareUnsigned(r.end(), n.end()) < 0) {
                    next.add(new IovaRange(r.end() + 1, n.end()));
                }
            }
            out = next;
        }
        return out;
    }

    // ---------------------------------------------------------------- ioctls

    /** {@code VFIO_CHECK_EXTENSION} answered by type1. */
    static int checkExtension(long ext) {
        return ext == Vfio.TYPE1_IOMMU || ext == Vfio.TYPE1v2_IOMMU || ext == Vfio.TYPE1_NESTING_IOMMU
                || ext == Vfio.UNMAP_ALL || ext == Vfio.UPDATE_VADDR ? 1 : 0;
    }

    int checkExtensionOpen(long ext) {
        if (ext == Vfio.DMA_CC_IOMMU) {
            return domains.isEmpty() ? 0 : 1; // VT-d enforces snooping for unmanaged domains
        }
        return checkExtension(ext);
    }

    /** {@code VFIO_IOMMU_GET_INFO}. */
    IommuInfo info() {
        return new IommuInfo(IommuInfo.FLAG_PGSIZES | IommuInfo.FLAG_CAPS, pgsizeBitmap,
                Collections.unmodifiableList(iovaList), dmaAvail);
    }

    /** {@code VFIO_IOMMU_MAP_DMA} ({@code vfio_iommu_type1_map_dma} then {@code vfio_dma_do_map}). */
    void map(UserProcess task, long vaddr, long iova, long size, int flags) {
        if ((flags & ~(MAP_READ | MAP_WRITE | MAP_VADDR)) != 0) {
            throw Errnos.fail(Errno.EINVAL, String.format("unknown map flags %#x", flags));
        }
        boolean setVaddr = (flags & MAP_VADDR) != 0;
        boolean prot = (flags & (MAP_READ | MAP_WRITE)) != 0;
        if (prot == setVaddr) {
            throw Errnos.fail(Errno.EINVAL, "map needs READ and/or WRITE (or VADDR alone)");
        }
        if (setVaddr) {
            throw Errnos.fail(Errno.EINVAL, "VFIO_DMA_MAP_FLAG_VADDR is not modelled");
        }
        long pgsize = Long.lowestOneBit(pgsizeBitmap);
        if (size == 0 || ((size | iova | vaddr) & (pgsize - 1)) != 0) {
            throw Errnos.fail(Errno.EINVAL, String.format("size %#x, iova %#x, vaddr %#x: zero or not %#x aligned",
                    size, iova, vaddr, pgsize));
        }
        if (Long.compareUnsigned(iova + size - 1, iova) < 0 || Long.compareUnsigned(vaddr + size - 1, vaddr) < 0) {
            throw Errnos.fail(Errno.EINVAL, "iova or vaddr range wraps");
        }
        Dma overlap = find(iova, size);
        if (overlap != null) {
            throw Errnos.fail(Errno.EEXIST, "overlaps " + overlap);
        }
        if (dmaAvail == 0) {
            throw Errnos.fail(Errno.ENOSPC, "dma_entry_limit (" + vfio.dmaEntryLimit() + ") mappings reached");
        }
        if (!iovaValid(iova, iova + size - 1)) {
            throw Errnos.fail(Errno.EINVAL, String.format("iova %#x+%#x outside the valid ranges %s", iova, size, iovaList));
        }
        // vfio_pin_map_dma: pin (pin_user_pages_remote), charge locked_vm, map into each domain
        long npages = size / Page.SIZE;
        long[] pinned = task.pin(vaddr, npages);
        if (!task.accountLocked(npages)) {
            task.unpin(pinned);
            vfio.warn(String.format("vfio_pin_pages_remote: RLIMIT_MEMLOCK (%d) exceeded", task.memlockLimit()));
            throw Errnos.fail(Errno.ENOMEM, "RLIMIT_MEMLOCK exceeded");
        }
        Dma dma = new Dma(iova, vaddr, size, (flags & MAP_READ) != 0, (flags & MAP_WRITE) != 0, task, pinned);
        List<DomainEntry> done = new ArrayList<>();
        try {
            for (DomainEntry d : domains) {
                mapPinned(d.domain, dma);
                done.add(d);
            }
        } catch (VfioException e) {
            for (DomainEntry d : done) {
                d.domain.unmap(new Iova(iova), size);
            }
            task.unpin(pinned);
            task.accountLocked(-npages);
            throw e;
        }
        dmas.put(iova, dma);
        dmaAvail--;
    }

    /** {@code iommu_map} of a pinned mapping, physically contiguous runs at a time. */
    private static void mapPinned(Type1Backend.Domain domain, Dma d) {
        long[] p = d.pinned;
        int i = 0;
        while (i < p.length) {
            int j = i + 1;
            while (j < p.length && p[j] == p[j - 1] + Page.SIZE) {
                j++;
            }
            int rc = domain.map(new Iova(d.iova + i * Page.SIZE), new PhysAddr(p[i]), (j - i) * Page.SIZE,
                    d.readable, d.writable);
            if (rc < 0) {
                domain.unmap(new Iova(d.iova), i * Page.SIZE);
                Errnos.check(rc, "iommu_map");
            }
            i = j;
        }
    }

    /** {@code VFIO_IOMMU_UNMAP_DMA}: the bytes unmapped ({@code vfio_dma_do_unmap}). */
    long unmap(long iova, long size, int flags) {
        if ((flags & ~(UNMAP_GET_DIRTY_BITMAP | UNMAP_ALL | UNMAP_VADDR)) != 0) {
            throw Errnos.fail(Errno.EINVAL, String.format("unknown unmap flags %#x", flags));
        }
        if ((flags & UNMAP_GET_DIRTY_BITMAP) != 0 && (flags & (UNMAP_ALL | UNMAP_VADDR)) != 0) {
            throw Errnos.fail(Errno.EINVAL, "dirty bitmap with ALL or VADDR");
        }
        if ((flags & (UNMAP_GET_DIRTY_BITMAP | UNMAP_VADDR)) != 0) {
            throw Errnos.fail(Errno.EINVAL, "dirty-bitmap and VADDR unmaps are not modelled");
        }
        boolean all = (flags & UNMAP_ALL) != 0;
        long pgsize = Long.lowestOneBit(pgsizeBitmap);
        if ((iova & (pgsize - 1)) != 0) {
            throw Errnos.fail(Errno.EINVAL, String.format("iova %#x not %#x aligned", iova, pgsize));
        }
        if (all) {
            if (iova != 0 || size != 0) {
                throw Errnos.fail(Errno.EINVAL, "UNMAP_ALL with an iova or size");
            }
            size = -1L; // U64_MAX
        } else if (size == 0 || (size & (pgsize - 1)) != 0 || Long.compareUnsigned(iova + size - 1, iova) < 0) {
            throw Errnos.fail(Errno.EINVAL, String.format("size %#x zero, unaligned or wrapping", size));
        }
        long last = iova + size - 1;
        if (v2 && !all) {
            Dma d = find(iova, 1);
            if (d != null && d.iova != iova) {
                throw Errnos.fail(Errno.EINVAL, "unmap start bisects " + d);
            }
            d = findContaining(last);
            if (d != null && d.iova + d.size != iova + size) {
                throw Errnos.fail(Errno.EINVAL, "unmap end bisects " + d);
            }
        }
        long unmapped = 0;
        Map.Entry<Long, Dma> first = dmas.lowerEntry(iova);
        Long from = first != null && Long.compareUnsigned(first.getValue().last(), iova) >= 0 ? first.getKey() : iova;
        List<Dma> hit = new ArrayList<>(); // only the mappings in range: a container may hold many
        for (Dma d : dmas.tailMap(from, true).values()) {
            if (Long.compareUnsigned(d.iova, last) > 0) {
                break;
            }
            if (!v2 && Long.compareUnsigned(iova, d.iova) > 0) {
                break; // v1: an unmap offset into a mapping unmaps nothing
            }
            hit.add(d);
        }
        for (Dma d : hit) {
            unmapped += d.size;
            remove(d);
        }
        return unmapped;
    }

    /** {@code vfio_remove_dma}: unmap from every domain, unpin, uncharge. */
    private void remove(Dma d) {
        for (DomainEntry e : domains) {
            e.domain.unmap(new Iova(d.iova), d.size);
        }
        d.task.unpin(d.pinned);
        d.task.accountLocked(-d.pinned.length);
        dmas.remove(d.iova);
        dmaAvail++;
    }

    private void removeAll() {
        for (Dma d : List.copyOf(dmas.values())) {
            remove(d);
        }
    }

    /** {@code vfio_find_dma}: any mapping overlapping [start, start+size). */
    private Dma find(long start, long size) {
        long last = start + size - 1;
        Map.Entry<Long, Dma> e = dmas.floorEntry(last);
        if (e == null) {
            return null;
        }
        Dma d = e.getValue();
        return Long.compareUnsigned(d.last(), start) >= 0 ? d : null;
    }

    private Dma findContaining(long addr) {
        return find(addr, 1);
    }

    /** {@code vfio_iommu_iova_dma_valid}: an empty list accepts everything. */
    private boolean iovaValid(long first, long last) {
        if (iovaList.isEmpty()) {
            return true;
        }
        for (IovaRange r : iovaList) {
            if (r.contains(first, last)) {
                return true;
            }
        }
        return false;
    }

    /** The mappings, by IOVA. */
    List<DmaMapping> mappings() {
        List<DmaMapping> out = new ArrayList<>();
        for (Dma d : dmas.values()) {
            out.add(d.user());
        }
        return out;
    }

    /** Where the first domain translates {@code iova} (for tests comparing with the table). */
    PhysAddr iovaToPhys(long iova) {
        return domains.isEmpty() ? null : domains.get(0).domain.iovaToPhys(new Iova(iova));
    }
}
