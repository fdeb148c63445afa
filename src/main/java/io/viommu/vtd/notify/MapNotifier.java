package io.viommu.vtd.notify;

import io.viommu.pci.RequesterId;
import io.viommu.memory.Iova;
import io.viommu.vtd.ContextEntry;
import io.viommu.vtd.ContextResult;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.InvalidationListener;
import io.viommu.vtd.InvalidationOrigin;
import io.viommu.vtd.SecondLevelWalk;
import io.viommu.vtd.TranslationState;
import io.viommu.vtd.VtdConfig;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The map/unmap notifier of one VT-d unit: consumers register listeners on one device's
 * address space and IOVA range, and the guest's invalidations drive events to them.
 *
 * <p>QEMU's contract (hw/i386/intel_iommu.c: vtd_iommu_notify_flag_changed,
 * vtd_iotlb_page_invalidate_notify, vtd_iotlb_domain_invalidate, vtd_iommu_replay_all,
 * vtd_address_space_sync, vtd_sync_shadow_page_table, vtd_page_walk,
 * memory_region_iommu_replay), kept:
 * <ul>
 * <li>MAP needs caching mode, DEVIOTLB_UNMAP needs device-iotlb, snoop control refuses all:
 *     {@link NotifierRefusedException} with QEMU's text.</li>
 * <li>Registration replays the existing mappings as MAP events.</li>
 * <li>Page-selective IOTLB invalidation (IVA+AM, or a queued IOTLB descriptor) syncs that
 *     range for devices whose context is in that domain; domain-selective syncs their whole
 *     range; global IOTLB, global context, SRTP and TE changes re-walk every registration;
 *     device-selective context invalidation re-walks the devices it names. A device whose
 *     context is gone (or pass-through, or TE off) has no mappings: all are unmapped.</li>
 * <li>UNMAP-only registrations are told the invalidated range; DEVIOTLB_UNMAP registrations
 *     are told what device-TLB invalidation descriptors name for their device.</li>
 * </ul>
 * Better than QEMU:
 * <ul>
 * <li>Each MAP registration has its own shadow ({@link MappingView}) of what it was told; a
 *     sync walks the guest's tables and sends only the difference: a changed mapping is ONE
 *     {@link IommuEvent.Replace} (QEMU sends UNMAP then MAP, a window in which DMA faults),
 *     an unchanged mapping sends nothing, and contiguous pages arrive as one run (QEMU sends
 *     one event per page-table entry, so a large guest mapping can exceed VFIO's 65535
 *     mappings).</li>
 * <li>Every event carries its {@link InvalidationCause}: kind, register or queued descriptor
 *     (index), domain, address and AM.</li>
 * <li>A domain-selective or page-selective invalidation also syncs a registration whose
 *     shadow was built from that domain, even if the context now names another domain.</li>
 * <li>A bad paging entry unmaps its subtree (QEMU skips it, leaving stale mappings); walks
 *     are bounded ({@link #setWalkBudget}).</li>
 * </ul>
 * Not thread-safe, like the unit: events are delivered from inside the guest's register
 * writes.
 */
public final class MapNotifier {
    /** Default walk budget: paging entries read plus reused runs, per sync. */
    public static final long DEFAULT_WALK_BUDGET = 1L << 22;

    private final IntelIommu iommu;
    private final VtdConfig config;
    private final SecondLevelWalker walker;
    private final List<Registration> registrations = new CopyOnWriteArrayList<>();
    private final Hook hook = new Hook();
    /** QEMU's own page walks, for its trace only (see {@link QemuWalkTrace}). */
    private final QemuWalkTrace qemuWalks;
    private TranslationState lastTranslation;
    private long walkBudget = DEFAULT_WALK_BUDGET;

    private MapNotifier(IntelIommu iommu) {
        this.iommu = iommu;
        this.config = iommu.config();
        this.walker = new SecondLevelWalker(iommu);
        this.qemuWalks = new QemuWalkTrace(iommu);
        this.lastTranslation = iommu.translationState();
    }

    /** Creates the notifier of {@code iommu} and hooks it to the unit's invalidations. */
    public static MapNotifier attach(IntelIommu iommu) {
        MapNotifier n = new MapNotifier(iommu);
        iommu.addInvalidationListener(n.hook);
        return n;
    }

    /** Unhooks from the unit; registrations stay but receive nothing more. */
    public void detach() {
        iommu.removeInvalidationListener(hook);
    }

    /** Work allowed per sync (paging entries read plus runs reused); see {@link MappingListener#walkAborted}. */
    public void setWalkBudget(long budget) {
        if (budget <= 0) {
            throw new IllegalArgumentException("walk budget must be positive: " + budget);
        }
        this.walkBudget = budget;
    }

    /** Work done by the most recent walk (for tests and benchmarks). */
    public long lastWalkCost() {
        return walker.lastWalkCost();
    }

    public List<Registration> registrations() {
        return List.copyOf(registrations);
    }

    /**
     * Registers {@code listener} for {@code device}'s address space over {@code range}, as
     * QEMU's memory_region_register_iommu_notifier followed (for MAP) by
     * memory_region_iommu_replay: the existing mappings arrive at once as MAP events with
     * cause {@link InvalidationCause.Kind#REGISTRATION}.
     *
     * @param range page-aligned IOVA range (use {@link IovaRange#ALL} for everything)
     * @param flags MAP (which needs UNMAP too), UNMAP, DEVIOTLB_UNMAP, in any combination
     * @throws NotifierRefusedException when the unit's configuration cannot serve the flags,
     *                                  with QEMU's message (vtd_iommu_notify_flag_changed)
     * @throws IllegalArgumentException for an empty flag set, MAP without UNMAP, MAP with
     *                                  DEVIOTLB_UNMAP, or a range not on page boundaries
     *                                  (programming errors)
     */
    public Registration register(RequesterId device, IovaRange range, Set<NotifierFlag> flags,
                                 MappingListener listener) throws NotifierRefusedException {
        return register(() -> device, range, flags, listener);
    }

    /**
     * As {@link #register(RequesterId, IovaRange, Set, MappingListener)} for a device whose
     * requester id is read at each event: a function behind a PCIe port has the bus number its
     * port holds when the guest invalidates (QEMU keys the address space by bus and devfn and
     * reads the bus number then), not the one it had when it registered.
     */
    public Registration register(java.util.function.Supplier<RequesterId> deviceId, IovaRange range,
                                 Set<NotifierFlag> flags, MappingListener listener) throws NotifierRefusedException {
        return register(deviceId, range, flags, listener, section -> { });
    }

    /**
     * As {@link #register(java.util.function.Supplier, IovaRange, Set, MappingListener)};
     * {@code qemuSectionAdded} hears, while the unit traces QEMU events, each of the sections
     * QEMU would register a notifier for (the range without the interrupt window) just before
     * QEMU's replay of it ({@link QemuWalkTrace}), so a consumer can trace its own event there.
     */
    public Registration register(java.util.function.Supplier<RequesterId> deviceId, IovaRange range,
                                 Set<NotifierFlag> flags, MappingListener listener,
                                 java.util.function.Consumer<IovaRange> qemuSectionAdded) throws NotifierRefusedException {
        RequesterId device = deviceId.get();
        if (flags.isEmpty()) {
            throw new IllegalArgumentException("no notifier flags");
        }
        if (flags.contains(NotifierFlag.MAP) && !flags.contains(NotifierFlag.UNMAP)) {
            throw new IllegalArgumentException("MAP needs UNMAP too: a shadow cannot follow removals otherwise");
        }
        if (flags.contains(NotifierFlag.MAP) && flags.contains(NotifierFlag.DEVIOTLB_UNMAP)) {
            // A device-TLB invalidation drops cached translations, it does not change the
            // mappings a shadow follows: mixing both in one event stream would make the
            // shadow's contract ambiguous. Register two listeners.
            throw new IllegalArgumentException("MAP and DEVIOTLB_UNMAP need separate registrations");
        }
        if (!range.isPageAligned()) {
            throw new IllegalArgumentException("range not on page boundaries: " + range);
        }
        // QEMU 7.2.x vtd_iommu_notify_flag_changed, in its order.
        if (config.snoopControl()) {
            throw new NotifierRefusedException(NotifierRefusedException.Reason.SNOOP_CONTROL, device);
        }
        if (flags.contains(NotifierFlag.MAP) && !config.cachingMode()) {
            throw new NotifierRefusedException(NotifierRefusedException.Reason.CACHING_MODE, device);
        }
        if (flags.contains(NotifierFlag.DEVIOTLB_UNMAP) && !config.deviceIotlb()) {
            throw new NotifierRefusedException(NotifierRefusedException.Reason.DEVICE_IOTLB, device);
        }
        Registration r = new Registration(deviceId, range, EnumSet.copyOf(flags), listener);
        registrations.add(r);
        if (r.maps()) {
            qemuWalks.registered(device, range, qemuSectionAdded);
            sync(r, r.range, InvalidationCause.of(InvalidationCause.Kind.REGISTRATION, InvalidationOrigin.DIRECT));
        }
        return r;
    }

    /** One consumer's registration: its device, range, flags, and shadow of what it was told. */
    public final class Registration {
        private final java.util.function.Supplier<RequesterId> device;
        private final IovaRange range;
        private final Set<NotifierFlag> flags;
        private final MappingListener listener;
        private final MappingView shadow = new MappingView();
        private int shadowDomain = -1;
        private boolean active = true;
        private RuntimeException failure;
        private long eventsDelivered;

        private Registration(java.util.function.Supplier<RequesterId> device, IovaRange range, Set<NotifierFlag> flags, MappingListener listener) {
            this.device = device;
            this.range = range;
            this.flags = flags;
            this.listener = listener;
        }

        /** The device's requester id now. */
        public RequesterId device() {
            return device.get();
        }

        public IovaRange range() {
            return range;
        }

        public Set<NotifierFlag> flags() {
            return EnumSet.copyOf(flags);
        }

        /** What the listener has been told is mapped (MAP registrations; empty otherwise). */
        public MappingView view() {
            return shadow.copy();
        }

        public long eventsDelivered() {
            return eventsDelivered;
        }

        /** The first exception the listener threw, if any (it was caught). */
        public Optional<RuntimeException> failure() {
            return Optional.ofNullable(failure);
        }

        public boolean isActive() {
            return active;
        }

        /** Walks the whole range and sends whatever differs from what the listener was told. */
        public void resync() {
            if (active && maps()) {
                sync(this, range, InvalidationCause.of(InvalidationCause.Kind.REPLAY, InvalidationOrigin.DIRECT));
            }
        }

        /**
         * memory_region_iommu_replay: the consumer has forgotten everything (e.g. a new host
         * container) and wants every mapping again as MAP events. The shadow is cleared without
         * events, then the range is walked.
         */
        public void replay() {
            if (active && maps()) {
                shadow.clear();
                shadowDomain = -1;
                resync();
            }
        }

        /** Stops events (QEMU memory_region_unregister_iommu_notifier: no UNMAP is sent). */
        public void unregister() {
            active = false;
            registrations.remove(this);
            if (maps()) {
                qemuWalks.unregistered(device());
            }
        }

        boolean maps() {
            return flags.contains(NotifierFlag.MAP);
        }

        boolean unmapOnly() {
            return !maps() && flags.contains(NotifierFlag.UNMAP);
        }

        private void deliver(IommuEvent e) {
            if (!active || failure != null) {
                return;
            }
            try {
                listener.onEvent(e);
                eventsDelivered++;
            } catch (RuntimeException ex) {
                failure = ex;
            }
        }

        private void aborted(InvalidationCause cause, String reason) {
            try {
                listener.walkAborted(cause, reason);
            } catch (RuntimeException ex) {
                if (failure == null) {
                    failure = ex;
                }
            }
        }

        @Override
        public String toString() {
            return "Registration[" + device + " " + range + " " + flags + "]";
        }
    }

    // ====================================================================================
    // Syncing
    // ====================================================================================

    /** Brings {@code r}'s shadow of {@code region} in line with the tables, telling the difference. */
    private void sync(Registration r, IovaRange region, InvalidationCause cause) {
        IovaRange clipped = region.intersect(r.range);
        if (clipped == null) {
            return;
        }
        SecondLevelWalker.Result w;
        try {
            w = walker.walk(r.device(), clipped, walkBudget);
        } catch (SecondLevelWalk.BudgetExceeded e) {
            r.aborted(cause, e.getMessage() + " for " + r.device() + " " + clipped);
            return;
        }
        List<IommuEvent> events = MappingDiff.diff(r.shadow.mappings(clipped), w.mappings(), cause);
        r.shadow.remove(clipped);
        for (Mapping m : w.mappings()) {
            r.shadow.put(m);
        }
        if (w.status() == SecondLevelWalker.Status.TRANSLATED) {
            r.shadowDomain = w.domainId();
        } else if (r.shadow.isEmpty()) {
            r.shadowDomain = -1;
        }
        for (IommuEvent e : events) {
            r.deliver(e);
        }
    }

    /** A whole-range re-evaluation: re-walk for MAP registrations, unmap-all for UNMAP-only ones. */
    private void syncAll(Registration r, InvalidationCause cause) {
        if (r.maps()) {
            sync(r, r.range, cause);
        } else if (r.unmapOnly()) {
            r.deliver(new IommuEvent.Unmap(r.range, cause));
        }
    }

    /** The current context's domain of {@code device}, or -1 if its context does not resolve. */
    private int currentDomain(RequesterId device) {
        return iommu.readContext(device) instanceof ContextResult.Legacy l ? l.domainId() : -1;
    }

    private boolean inDomain(Registration r, int domainId) {
        return currentDomain(r.device()) == domainId || (r.maps() && r.shadowDomain == domainId);
    }

    /**
     * Whether a device-selective context invalidation of {@code sid} with function mask
     * {@code fm} covers {@code device} (VT-d 10.4.7: FM 1, 2, 3 mask SID bits 2, 2:1, 2:0).
     */
    static boolean coveredByFunctionMask(RequesterId device, int sid, int fm) {
        return ContextEntry.coveredByFunctionMask(device.value(), sid, fm);
    }

    private final class Hook implements InvalidationListener {
        @Override
        public void cachesReset() {
            TranslationState now = iommu.translationState();
            InvalidationCause.Kind kind = now == lastTranslation ? InvalidationCause.Kind.CACHES_RESET
                    : now == TranslationState.ENABLED ? InvalidationCause.Kind.TRANSLATION_ENABLED
                    : InvalidationCause.Kind.TRANSLATION_DISABLED;
            lastTranslation = now;
            qemuWalks.unmapAll();
            InvalidationCause cause = InvalidationCause.of(kind, iommu.invalidationOrigin());
            for (Registration r : registrations) {
                syncAll(r, cause);
            }
        }

        @Override
        public void contextCacheGlobal() {
            qemuWalks.contextGlobal();
            InvalidationCause cause = InvalidationCause.of(InvalidationCause.Kind.CONTEXT_GLOBAL,
                    iommu.invalidationOrigin());
            for (Registration r : registrations) {
                syncAll(r, cause);
            }
        }

        @Override
        public void contextCacheDevice(RequesterId device, int fm) {
            int sid = device.value();
            qemuWalks.contextDevice(sid, fm);
            InvalidationCause cause = InvalidationCause.contextDevice(iommu.invalidationOrigin(), sid, fm);
            for (Registration r : registrations) {
                if (coveredByFunctionMask(r.device(), sid, fm)) {
                    syncAll(r, cause);
                }
            }
        }

        @Override
        public void iotlbGlobal() {
            qemuWalks.replayAll(-1);
            InvalidationCause cause = InvalidationCause.of(InvalidationCause.Kind.IOTLB_GLOBAL,
                    iommu.invalidationOrigin());
            for (Registration r : registrations) {
                syncAll(r, cause);
            }
        }

        @Override
        public void iotlbDomain(int domainId) {
            qemuWalks.replayAll(domainId);
            InvalidationCause cause = InvalidationCause.iotlbDomain(iommu.invalidationOrigin(), domainId);
            for (Registration r : registrations) {
                if ((r.maps() || r.unmapOnly()) && inDomain(r, domainId)) {
                    syncAll(r, cause);
                }
            }
        }

        @Override
        public void iotlbPages(int domainId, Iova page, int am) {
            long addr = page.value();
            // The spec ignores the low AM bits of ADDR (VT-d 6.5.1.2); QEMU walks from the
            // unaligned address. The range here is the architected one.
            long size = 4096L << am;
            long first = addr & -size;
            qemuWalks.pages(domainId, addr, size);
            InvalidationCause cause = InvalidationCause.iotlbPages(iommu.invalidationOrigin(), domainId, new Iova(first), am);
            IovaRange region = new IovaRange(first, first + size - 1);
            for (Registration r : registrations) {
                if (!(r.maps() || r.unmapOnly()) || !region.intersects(r.range) || !inDomain(r, domainId)) {
                    continue;
                }
                if (r.maps()) {
                    sync(r, region, cause);
                } else {
                    r.deliver(new IommuEvent.Unmap(region.intersect(r.range), cause));
                }
            }
        }

        @Override
        public void deviceTlb(RequesterId device, Iova start, long size) {
            int sid = device.value();
            long addr = start.value();
            long last = addr + size - 1;
            IovaRange region = Long.compareUnsigned(last, addr) < 0 ? new IovaRange(addr, -1L)
                    : new IovaRange(addr, last);
            InvalidationCause cause = InvalidationCause.deviceTlb(iommu.invalidationOrigin(), sid, start, size);
            for (Registration r : registrations) {
                if (r.flags.contains(NotifierFlag.DEVIOTLB_UNMAP) && r.device().value() == sid) {
                    IovaRange c = region.intersect(r.range);
                    if (c != null) {
                        r.deliver(new IommuEvent.Unmap(c, cause));
                    }
                }
            }
        }
    }
}
