package io.viommu.vtd.notify;

import static io.viommu.vtd.notify.GuestTables.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.PhysAddr;
import io.viommu.vtd.InvalidationOrigin;
import io.viommu.vtd.notify.InvalidationCause.Kind;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random guest behaviour, always followed by an invalidation that covers it: the listener's
 * view, built only from the events, equals what a fresh unit translates page by page; every
 * event keeps the contract (checked as it arrives); a page that stays mapped is never
 * unmapped on the way; the event count is bounded by the runs involved (not the pages); every event names the
 * invalidation that caused it.
 */
class MapNotifierProperties {
    static final int PAGES = 2048; // 8 MiB window: four 2 MiB slots
    static final IovaRange WINDOW = new IovaRange(0, PAGES * PAGE - 1);

    sealed interface Op permits MapRun, UnmapRun, Map2m, Unmap2m, Corrupt, ContextOff, ContextOn {
    }

    /** {@code count} pages from {@code page}, contiguous from {@code phys}. */
    record MapRun(int page, int count, long phys, Permission perm) implements Op {
    }

    record UnmapRun(int page, int count) implements Op {
    }

    record Map2m(int slot, long phys, Permission perm) implements Op {
    }

    record Unmap2m(int slot) implements Op {
    }

    /** Sets a reserved bit in the leaf entry for {@code page} (4 KiB or 2 MiB), if any. */
    record Corrupt(int page) implements Op {
    }

    record ContextOff() implements Op {
    }

    record ContextOn() implements Op {
    }

    enum Inv { PAGES, DOMAIN, IOTLB_GLOBAL, CONTEXT_DEVICE, CONTEXT_GLOBAL }

    record Step(Op op, Inv inv) {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Integer> page = Arbitraries.integers().between(0, PAGES - 1);
        Arbitrary<Permission> perm = Arbitraries.of(Permission.class);
        // A small pool of physical bases so that remaps often land where they were, and
        // contiguity arises; 0xFEE00000 is the interrupt range (translate faults there).
        Arbitrary<Long> phys = Arbitraries.oneOf(
                Arbitraries.integers().between(0, 63).map(i -> 0x4000000L + i * PAGE),
                Arbitraries.integers().between(0, 3).map(i -> 0x8000000L + i * MB2),
                Arbitraries.just(0xfee00000L));
        Arbitrary<Op> op = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Combinators.combine(page, Arbitraries.integers().between(1, 64), phys, perm)
                        .as(MapRun::new)),
                net.jqwik.api.Tuple.of(4, Combinators.combine(page, Arbitraries.integers().between(1, 64))
                        .as(UnmapRun::new)),
                net.jqwik.api.Tuple.of(2, Combinators.combine(Arbitraries.integers().between(0, 3), phys, perm)
                        .as((s, p, q) -> new Map2m(s, p & -MB2, q))),
                net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(0, 3).map(Unmap2m::new)),
                net.jqwik.api.Tuple.of(1, page.map(Corrupt::new)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(new ContextOff())),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(new ContextOn())));
        Arbitrary<Inv> inv = Arbitraries.frequency(
                net.jqwik.api.Tuple.of(6, Inv.PAGES), net.jqwik.api.Tuple.of(2, Inv.DOMAIN),
                net.jqwik.api.Tuple.of(1, Inv.IOTLB_GLOBAL), net.jqwik.api.Tuple.of(1, Inv.CONTEXT_DEVICE),
                net.jqwik.api.Tuple.of(1, Inv.CONTEXT_GLOBAL));
        return Combinators.combine(op, inv).as(Step::new).list().ofMinSize(1).ofMaxSize(20);
    }

    @Property(tries = 60)
    void eventsKeepTheListenerEqualToThePageTables(@ForAll("steps") List<Step> steps, @ForAll boolean queued)
            throws NotifierRefusedException {
        GuestTables g = GuestTables.cachingMode();
        long top = g.context(DEV, 1);
        g.enable();
        if (queued) {
            g.enableQueue();
        }
        RecordingListener l = new RecordingListener();
        var reg = g.notifier.register(DEV, WINDOW, Set.of(NotifierFlag.MAP, NotifierFlag.UNMAP), l);
        boolean contextOn = true;
        MappingView before = g.truth(DEV, WINDOW);
        assertThat(l.view).isEqualTo(before);
        for (Step step : steps) {
            l.take();
            // Apply the guest's change and work out which IOVA it touched.
            long lo;
            long hi;
            Inv inv = step.inv();
            switch (step.op()) {
                case MapRun m -> {
                    int count = Math.min(m.count(), PAGES - m.page());
                    lo = m.page() * PAGE;
                    hi = lo + count * PAGE - 1;
                    if (isSuperpage(g, lo) || isSuperpage(g, hi)) {
                        lo &= -MB2; // the superpage becomes a table: its whole slot changes
                        hi |= MB2 - 1;
                    }
                    g.mapRange(DEV, m.page() * PAGE, count * PAGE, m.phys(), m.perm());
                }
                case UnmapRun u -> {
                    int count = Math.min(u.count(), PAGES - u.page());
                    lo = u.page() * PAGE;
                    hi = lo + count * PAGE - 1;
                    for (long a = lo; a < hi; a += PAGE) {
                        if (!isSuperpage(g, a)) {
                            g.ram.writeLong(PhysAddr.of(g.slot(DEV, a, 1)), 0);
                        }
                    }
                }
                case Map2m m -> {
                    lo = m.slot() * MB2;
                    hi = lo + MB2 - 1;
                    g.map2m(DEV, lo, m.phys(), m.perm());
                }
                case Unmap2m u -> {
                    lo = u.slot() * MB2;
                    hi = lo + MB2 - 1;
                    g.clear(DEV, lo, 2);
                }
                case Corrupt c -> {
                    long iova = c.page() * PAGE;
                    boolean superpage = isSuperpage(g, iova);
                    lo = superpage ? iova & -MB2 : iova;
                    hi = superpage ? lo + MB2 - 1 : iova + PAGE - 1;
                    long slot = g.slot(DEV, iova, superpage ? 2 : 1);
                    g.ram.writeLong(PhysAddr.of(slot), g.ram.readLong(PhysAddr.of(slot)) | 1L << 45);
                }
                case ContextOff x -> {
                    g.clearContext(DEV);
                    contextOn = false;
                    lo = 0;
                    hi = WINDOW.last();
                    inv = Inv.CONTEXT_DEVICE; // the one a driver must issue
                }
                case ContextOn x -> {
                    g.context(DEV, 1, 1, top);
                    contextOn = true;
                    lo = 0;
                    hi = WINDOW.last();
                    inv = Inv.CONTEXT_DEVICE;
                }
            }
            int index = invalidate(g, inv, queued, lo, hi);

            MappingView after = g.truth(DEV, WINDOW);
            List<IommuEvent> events = l.take();
            assertThat(l.view).as("listener view after %s + %s", step.op(), inv).isEqualTo(after);
            assertThat(reg.view()).isEqualTo(after);
            assertThat(contextOn || after.isEmpty()).isTrue();
            for (IommuEvent e : events) {
                // No window: an UNMAP only ever covers IOVA that is unmapped once the sync is done.
                if (e instanceof IommuEvent.Unmap u) {
                    assertThat(after.isUnmapped(u.range())).as("unmap of a range that stays mapped: %s", u).isTrue();
                }
                assertThat(e.cause().kind()).isEqualTo(expectedKind(inv));
                assertThat(e.cause().origin()).isEqualTo(queued ? InvalidationOrigin.queued(index)
                        : InvalidationOrigin.REGISTER);
            }
            // Each run has two ends; the diff's pieces lie between consecutive ends of old and
            // new runs, so coalescing keeps the count within twice the runs, whatever the pages.
            assertThat(events.size()).isLessThanOrEqualTo(2 * (before.runCount() + after.runCount()));
            before = after;
        }
    }

    private static boolean isSuperpage(GuestTables g, long iova) {
        return (g.entry(DEV, iova, 2) & 0x80) != 0;
    }

    /** Issues {@code inv} covering {@code lo..hi}; returns the descriptor index when queued. */
    private static int invalidate(GuestTables g, Inv inv, boolean queued, long lo, long hi) {
        switch (inv) {
            case PAGES -> {
                return g.psiCovering(1, lo, hi, queued);
            }
            case DOMAIN -> {
                if (queued) {
                    return g.queuedDsi(1);
                }
                g.dsi(1);
            }
            case IOTLB_GLOBAL -> {
                if (queued) {
                    return g.queuedIotlbGlobal();
                }
                g.iotlbGlobal();
            }
            case CONTEXT_DEVICE -> {
                if (queued) {
                    return g.queuedContextDevice(DEV, 0);
                }
                g.contextDevice(DEV, 0);
            }
            case CONTEXT_GLOBAL -> {
                if (queued) {
                    return g.queuedContextGlobal();
                }
                g.contextGlobal();
            }
        }
        return -1;
    }

    private static Kind expectedKind(Inv inv) {
        return switch (inv) {
            case PAGES -> Kind.IOTLB_PAGES;
            case DOMAIN -> Kind.IOTLB_DOMAIN;
            case IOTLB_GLOBAL -> Kind.IOTLB_GLOBAL;
            case CONTEXT_DEVICE -> Kind.CONTEXT_DEVICE;
            case CONTEXT_GLOBAL -> Kind.CONTEXT_GLOBAL;
        };
    }
}
