package io.viommu.vmm;

import static io.viommu.vmm.ShadowBed.GUEST_RID;
import static io.viommu.vmm.ShadowBed.PAGE;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.vtd.notify.GuestTables;
import io.viommu.vtd.notify.IovaRange;
import io.viommu.vtd.notify.Permission;
import java.util.List;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * Random guest map / unmap / remap sequences on the vIOMMU, each followed by the invalidation a
 * driver issues for it (page-selective, domain-selective or global; by register or queued): at
 * every invalidation boundary the host container holds exactly the guest's translations (IOVA
 * -> process address of the GPA, read-only where the guest gave no write), the host unit
 * translates each to the frame behind the guest page, and the host device's DMA to a random
 * IOVA of the window either lands in the guest page the guest mapped or faults in the host unit
 * without moving a byte.
 */
class ShadowProperties {
    static final long BASE = 0x0100_0000L;
    static final int PAGES = 1024; // 4 MiB: two 2 MiB slots
    static final long MB2 = 1L << 21;
    static final IovaRange WINDOW = new IovaRange(BASE, BASE + PAGES * PAGE - 1);

    sealed interface Op permits MapRun, UnmapRun, Map2m, Unmap2m {
    }

    record MapRun(int page, int count, long phys, Permission perm) implements Op {
    }

    record UnmapRun(int page, int count) implements Op {
    }

    record Map2m(int slot, long phys, Permission perm) implements Op {
    }

    record Unmap2m(int slot) implements Op {
    }

    enum Inv { PAGES, DOMAIN, GLOBAL }

    record Step(Op op, Inv inv, int probe) {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Integer> page = Arbitraries.integers().between(0, PAGES - 1);
        Arbitrary<Permission> perm = Arbitraries.of(Permission.class);
        // Guest data pages well away from its page tables (0x200000..): a small pool so that
        // remaps land next to each other and runs form; and a GPA that is not RAM.
        Arbitrary<Long> phys = Arbitraries.frequencyOf(
                Tuple.of(8, Arbitraries.integers().between(0, 127).map(i -> 0x0180_0000L + i * PAGE)),
                Tuple.of(2, Arbitraries.integers().between(0, 1).map(i -> 0x0180_0000L + i * MB2)),
                Tuple.of(1, Arbitraries.integers().between(0, 3).map(i -> 0x8000_0000L + i * MB2)));
        Arbitrary<Op> op = Arbitraries.frequencyOf(
                Tuple.of(6, Combinators.combine(page, Arbitraries.integers().between(1, 32), phys, perm).as(MapRun::new)),
                Tuple.of(4, Combinators.combine(page, Arbitraries.integers().between(1, 32)).as(UnmapRun::new)),
                Tuple.of(1, Combinators.combine(Arbitraries.integers().between(0, 1), phys, perm)
                        .as((s, p, q) -> new Map2m(s, p & -MB2, q))),
                Tuple.of(1, Arbitraries.integers().between(0, 1).map(Unmap2m::new)));
        Arbitrary<Inv> inv = Arbitraries.frequency(Tuple.of(6, Inv.PAGES), Tuple.of(2, Inv.DOMAIN), Tuple.of(1, Inv.GLOBAL));
        return Combinators.combine(op, inv, page).as(Step::new).list().ofMinSize(1).ofMaxSize(15);
    }

    @Property(tries = 25)
    void hostMappingsFollowTheGuestAtEveryInvalidation(@ForAll("steps") List<Step> steps, @ForAll boolean queued)
            throws Exception {
        ShadowBed b = ShadowBed.attached().translated();
        GuestTables g = b.guest;
        if (queued) {
            g.enableQueue();
        }
        b.assertMirrors(WINDOW);
        int marker = 1;
        for (Step step : steps) {
            long lo;
            long hi;
            switch (step.op()) {
                case MapRun m -> {
                    int count = Math.min(m.count(), PAGES - m.page());
                    lo = BASE + m.page() * PAGE;
                    hi = lo + count * PAGE - 1;
                    if (isSuperpage(g, lo) || isSuperpage(g, hi)) {
                        lo &= -MB2; // the superpage becomes a table: its whole slot changes
                        hi |= MB2 - 1;
                    }
                    g.mapRange(GUEST_RID, BASE + m.page() * PAGE, count * PAGE, m.phys(), m.perm());
                }
                case UnmapRun u -> {
                    int count = Math.min(u.count(), PAGES - u.page());
                    lo = BASE + u.page() * PAGE;
                    hi = lo + count * PAGE - 1;
                    for (long a = lo; a < hi; a += PAGE) {
                        if (!isSuperpage(g, a)) {
                            g.clear(GUEST_RID, a, 1);
                        }
                    }
                }
                case Map2m m -> {
                    lo = BASE + m.slot() * MB2;
                    hi = lo + MB2 - 1;
                    g.map2m(GUEST_RID, lo, m.phys(), m.perm());
                }
                case Unmap2m u -> {
                    lo = BASE + u.slot() * MB2;
                    hi = lo + MB2 - 1;
                    g.clear(GUEST_RID, lo, 2);
                }
            }
            invalidate(g, step.inv(), queued, lo, hi);
            b.assertMirrors(WINDOW);
            probe(b, BASE + step.probe() * PAGE + 0x18, marker++);
        }
        assertThat(b.listener.hardwareError()).isEmpty();
        assertThat(b.errors).allMatch(e -> e.startsWith("iommu map to non memory area "));
    }

    /** The host device writes 4 bytes at {@code iova}: into the guest page if the guest let it, else nowhere. */
    private static void probe(ShadowBed b, long iova, int marker) {
        TreeMap<Long, long[]> want = b.expectedPages(WINDOW);
        long[] page = want.get(iova & -PAGE);
        byte[] data = {(byte) marker, (byte) (marker >> 8), 0x5a, (byte) 0xa5};
        var out = b.deviceWrites(iova, data);
        if (page != null && page[2] == 1) {
            assertThat(out.ok()).as("DMA to mapped iova 0x%x", iova).isTrue();
            assertThat(b.vmm.read(new io.viommu.memory.VirtAddr(page[0] + (iova & (PAGE - 1))), 4)).isEqualTo(data);
        } else {
            assertThat(out.ok()).as("DMA to unmapped or read-only iova 0x%x", iova).isFalse();
            assertThat(out.bytesDone()).isZero();
        }
    }

    private static boolean isSuperpage(GuestTables g, long iova) {
        return (g.entry(GUEST_RID, iova, 2) & 0x80) != 0;
    }

    private static void invalidate(GuestTables g, Inv inv, boolean queued, long lo, long hi) {
        switch (inv) {
            case PAGES -> g.psiCovering(1, lo, hi, queued);
            case DOMAIN -> {
                if (queued) {
                    g.queuedDsi(1);
                } else {
                    g.dsi(1);
                }
            }
            case GLOBAL -> {
                if (queued) {
                    g.queuedIotlbGlobal();
                } else {
                    g.iotlbGlobal();
                }
            }
        }
    }
}
