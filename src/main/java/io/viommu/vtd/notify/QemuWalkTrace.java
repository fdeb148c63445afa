package io.viommu.vtd.notify;

import io.viommu.pci.MsiAddress;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.ContextResult;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.SecondLevelWalk;
import io.viommu.vtd.SlPte;
import io.viommu.vtd.TranslationState;
import io.viommu.vtd.VtdTrace;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * QEMU 7.2's page walks of the map notifier as its trace shows them ({@code -trace
 * 'vtd_page_walk*'}): the {@link MapNotifier} sends runs and only differences, QEMU walks
 * every entry of the guest's tables and reports each ({@code vtd_page_walk_level},
 * {@code vtd_page_walk_one}, {@code vtd_page_walk_one_skip_map}/{@code _skip_unmap},
 * {@code vtd_page_walk_skip_read}/{@code _reserve}). This class runs QEMU's walk beside the
 * model's, only for the trace and only while the unit's trace prints QEMU events, with QEMU's
 * state for it: per address space with MAP notifiers the notifiers' ranges (QEMU has one per
 * IOMMU section: the registration's range without the interrupt window 0xFEE00000-0xFEEFFFFF)
 * and the iova tree of what was notified ({@code as->iova_tree}, one entry per page-table entry).
 *
 * <p>When QEMU walks (hw/i386/intel_iommu.c): at registration each notifier is replayed
 * ({@code vtd_iommu_replay}: its range dropped from the tree, then a walk of the whole table
 * that does not notify unmaps); a global context invalidation drops every notifier's range and
 * re-walks every address space ({@code vtd_address_space_refresh_all} + {@code
 * vtd_iommu_replay_all}); a global IOTLB invalidation re-walks them; a domain-selective one those
 * whose context is in the domain; a page-selective one walks the invalidated range of those; a
 * device-selective context invalidation re-walks the devices it names; SRTP, TE and reset drop
 * every notifier's range ({@code vtd_address_space_unmap_all}). A device whose context does not
 * resolve is not walked (not present: its notifiers' ranges are dropped).
 */
final class QemuWalkTrace {
    /** One {@code DMAMap} of QEMU's iova tree: {@code size} is the mask (length - 1). */
    private record DmaMap(long iova, long size, long translated, int perm) {
        long last() {
            return iova + size;
        }
    }

    /** A VT-d address space with MAP notifiers: their ranges, and the tree (kept when they go). */
    private static final class Space {
        RequesterId device;
        final List<IovaRange> notifiers = new ArrayList<>();
        final TreeMap<Long, DmaMap> tree = new TreeMap<>();
    }

    private final IntelIommu iommu;
    /** QEMU's vtd_as_with_notifiers (insertion at the head: iterated newest first). */
    private final Map<Integer, Space> spaces = new LinkedHashMap<>();
    private final Map<Integer, Space> trees = new LinkedHashMap<>();

    QemuWalkTrace(IntelIommu iommu) {
        this.iommu = iommu;
    }

    private VtdTrace trace() {
        return iommu.trace();
    }

    private boolean on() {
        return trace().qemuEvents();
    }

    /** QEMU's notifier ranges for a registration over {@code range}: the interrupt window cut out. */
    static List<IovaRange> qemuSections(IovaRange range) {
        List<IovaRange> out = new ArrayList<>();
        long first = range.first();
        long last = range.last();
        if (Long.compareUnsigned(last, MsiAddress.FIRST) < 0 || Long.compareUnsigned(first, MsiAddress.LAST) > 0) {
            out.add(range);
            return out;
        }
        if (Long.compareUnsigned(first, MsiAddress.FIRST) < 0) {
            out.add(new IovaRange(first, MsiAddress.FIRST - 1));
        }
        if (Long.compareUnsigned(last, MsiAddress.LAST) > 0) {
            out.add(new IovaRange(MsiAddress.LAST + 1, last));
        }
        return out;
    }

    /** A MAP registration of {@code device} over {@code range}: each QEMU notifier added and replayed. */
    void registered(RequesterId device, IovaRange range, java.util.function.Consumer<IovaRange> sectionAdded) {
        if (!on()) {
            return;
        }
        int key = device.value();
        Space s = trees.computeIfAbsent(key, k -> new Space());
        s.device = device;
        if (!spaces.containsKey(key)) {
            // QLIST_INSERT_HEAD: the newest address space is walked first
            Map<Integer, Space> reordered = new LinkedHashMap<>();
            reordered.put(key, s);
            reordered.putAll(spaces);
            spaces.clear();
            spaces.putAll(reordered);
        }
        for (IovaRange n : qemuSections(range)) {
            sectionAdded.accept(n);
            s.notifiers.add(n);
            replay(device, s, n);
        }
    }

    /** The registration went (memory_region_unregister_iommu_notifier): the tree stays. */
    void unregistered(RequesterId device) {
        Space s = spaces.remove(device.value());
        if (s != null) {
            s.notifiers.clear();
        }
    }

    /** vtd_iommu_replay of one notifier. */
    private void replay(RequesterId device, Space s, IovaRange n) {
        drop(s, n);
        ContextResult c = iommu.readContext(device);
        if (c instanceof ContextResult.Legacy ctx && !ctx.passThrough()) {
            walk(s, ctx, 0, -1L, false);
        }
    }

    /** vtd_address_space_unmap_all: every notifier's range dropped from its tree. */
    void unmapAll() {
        if (!on()) {
            return;
        }
        for (Space s : spaces.values()) {
            for (IovaRange n : s.notifiers) {
                drop(s, n);
            }
        }
    }

    /** vtd_context_global_invalidate: refresh all, then replay all. */
    void contextGlobal() {
        unmapAll();
        replayAll(-1);
    }

    /** vtd_iommu_replay_all ({@code domain} -1), or vtd_iotlb_domain_invalidate of {@code domain}. */
    void replayAll(int domain) {
        if (!on()) {
            return;
        }
        for (Map.Entry<Integer, Space> e : List.copyOf(spaces.entrySet())) {
            sync(e.getValue().device, e.getValue(), domain, 0, -1L);
        }
    }

    /** vtd_iotlb_page_invalidate_notify: the range of the address spaces in {@code domain}. */
    void pages(int domain, long addr, long size) {
        if (!on()) {
            return;
        }
        for (Map.Entry<Integer, Space> e : List.copyOf(spaces.entrySet())) {
            ContextResult c = iommu.readContext(e.getValue().device);
            if (c instanceof ContextResult.Legacy ctx && ctx.domainId() == domain && walkable(ctx)) {
                walk(e.getValue(), ctx, addr, addr + size, true);
            }
        }
    }

    /** vtd_context_device_invalidate: each address space it names synced. */
    void contextDevice(int sid, int fm) {
        if (!on()) {
            return;
        }
        for (Map.Entry<Integer, Space> e : List.copyOf(spaces.entrySet())) {
            RequesterId d = e.getValue().device;
            if (MapNotifier.coveredByFunctionMask(d, sid, fm)) {
                sync(d, e.getValue(), -1, 0, -1L);
            }
        }
    }

    /** vtd_address_space_sync (only those in {@code domain} when it is not -1). */
    private void sync(RequesterId device, Space s, int domain, long start, long end) {
        ContextResult c = iommu.readContext(device);
        if (c instanceof ContextResult.Legacy ctx) {
            if ((domain < 0 || ctx.domainId() == domain) && walkable(ctx)) {
                walk(s, ctx, start, end, true);
            }
        } else if (domain < 0 && c instanceof ContextResult.Fault f && f.code() == CONTEXT_NOT_PRESENT) {
            for (IovaRange n : s.notifiers) {
                drop(s, n);
            }
        }
    }

    /** QEMU's fault reason 0x2: context entry not present. */
    private static final int CONTEXT_NOT_PRESENT = 0x2;

    /** An address space QEMU still has notifiers on: DMAR on and the context translating. */
    private boolean walkable(ContextResult.Legacy ctx) {
        return iommu.translationState() == TranslationState.ENABLED && !ctx.passThrough();
    }

    private static void drop(Space s, IovaRange n) {
        long first = n.first();
        long last = n.last();
        s.tree.entrySet().removeIf(e -> Long.compareUnsigned(e.getValue().iova(), last) <= 0
                && Long.compareUnsigned(e.getValue().last(), first) >= 0);
    }

    /** vtd_page_walk: {@code end} past the table's reach is clipped to it; a start past it walks nothing. */
    private void walk(Space s, ContextResult.Legacy ctx, long start, long end, boolean notifyUnmap) {
        SecondLevelWalk w = iommu.secondLevelWalk();
        int width = Math.min(ctx.agaw(), w.awBits());
        long limit = 1L << width;
        if (Long.compareUnsigned(start, limit) >= 0) {
            return;
        }
        if (Long.compareUnsigned(end, limit) >= 0) {
            end = limit;
        }
        level(s, w, ctx.domainId(), ctx.secondLevelTable(), start, end, ctx.levels(), true, true, notifyUnmap);
    }

    /** vtd_page_walk_level. */
    private void level(Space s, SecondLevelWalk w, int domain, long addr, long start, long end, int level,
                       boolean read, boolean write, boolean notifyUnmap) {
        VtdTrace t = trace();
        t.qemuEvent("vtd_page_walk_level", String.format("walk (base=0x%x, level=%d) iova range 0x%x - 0x%x",
                addr, level, start, end));
        long subSize = SlPte.pageSize(level);
        long subMask = -subSize;
        long iova = start;
        while (Long.compareUnsigned(iova, end) < 0) {
            long next = (iova & subMask) + subSize;
            long slpte = w.readEntry(SlPte.address(addr, iova, level));
            if (slpte == -1L) {
                t.qemuEvent("vtd_page_walk_skip_read", String.format(
                        "Page walk skip iova 0x%x - 0x%x due to unable to read", iova, next));
            } else if (w.reservedBitsSet(slpte, level)) {
                t.qemuEvent("vtd_page_walk_skip_reserve", String.format(
                        "Page walk skip iova 0x%x - 0x%x due to rsrv set", iova, next));
            } else {
                boolean r = read && SlPte.isReadable(slpte);
                boolean wr = write && SlPte.isWritable(slpte);
                if (!SlPte.isLeaf(slpte, level) && (r || wr)) {
                    long sub = Long.compareUnsigned(next, end) < 0 && next != 0 ? next : end;
                    level(s, w, domain, SlPte.outputAddress(slpte, w.awBits()), iova, sub, level - 1, r, wr, notifyUnmap);
                } else {
                    int perm = (r ? 1 : 0) | (wr ? 2 : 0);
                    one(s, domain, new DmaMap(iova & subMask, ~subMask, SlPte.outputAddress(slpte, w.awBits()), perm),
                            notifyUnmap);
                }
            }
            if (next == 0) {
                return; // the top of the address space
            }
            iova = next;
        }
    }

    /** vtd_page_walk_one. */
    private void one(Space s, int domain, DmaMap target, boolean notifyUnmap) {
        VtdTrace t = trace();
        boolean map = target.perm() != 0;
        if (!map && !notifyUnmap) {
            t.qemuEvent("vtd_page_walk_one_skip_unmap", String.format("iova 0x%x mask 0x%x", target.iova(), target.size()));
            return;
        }
        DmaMap mapped = find(s, target);
        if (map) {
            if (mapped != null) {
                if (mapped.equals(target)) {
                    t.qemuEvent("vtd_page_walk_one_skip_map", String.format("iova 0x%x mask 0x%x translated 0x%x",
                            target.iova(), target.size(), target.translated()));
                    return;
                }
                traceOne(t, domain, target, 0); // the changed translation: an UNMAP first
                remove(s, target);
            }
            s.tree.put(target.iova(), target);
        } else {
            if (mapped == null) {
                t.qemuEvent("vtd_page_walk_one_skip_unmap", String.format("iova 0x%x mask 0x%x", target.iova(), target.size()));
                return;
            }
            remove(s, target);
        }
        traceOne(t, domain, target, target.perm());
    }

    private static void traceOne(VtdTrace t, int domain, DmaMap m, int perm) {
        t.qemuEvent("vtd_page_walk_one", String.format("domain 0x%x iova 0x%x -> gpa 0x%x mask 0x%x perm %d",
                domain, m.iova(), m.translated(), m.size(), perm));
    }

    /** iova_tree_find: an entry overlapping the target's range. */
    private static DmaMap find(Space s, DmaMap target) {
        Map.Entry<Long, DmaMap> e = s.tree.floorEntry(target.last());
        while (e != null) {
            DmaMap m = e.getValue();
            if (Long.compareUnsigned(m.last(), target.iova()) >= 0 && Long.compareUnsigned(m.iova(), target.last()) <= 0) {
                return m;
            }
            if (Long.compareUnsigned(m.last(), target.iova()) < 0) {
                return null;
            }
            e = s.tree.lowerEntry(e.getKey());
        }
        return null;
    }

    /** iova_tree_remove: every entry overlapping the target's range. */
    private static void remove(Space s, DmaMap target) {
        drop(s, new IovaRange(target.iova(), target.last()));
    }
}
