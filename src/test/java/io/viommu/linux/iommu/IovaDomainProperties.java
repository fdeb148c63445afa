package io.viommu.linux.iommu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** iova.c: the range tree and the per-CPU magazines. */
class IovaDomainProperties {
    /** One step: allocate {@code size} pages below {@code limitPfn}, or free the n-th live range. */
    record Op(boolean alloc, int size, long limitPfn, int victim, int cpu) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Arbitraries.integers().between(0, 99).flatMap(kind -> kind < 60
                ? Arbitraries.integers().between(1, 70).flatMap(size -> Arbitraries.of(0xfffffL, 0x7ffffL, 0x3ffL, 0xffffffL)
                        .flatMap(lim -> Arbitraries.integers().between(0, 3).map(cpu -> new Op(true, size, lim, 0, cpu))))
                : Arbitraries.integers().between(0, 1000).flatMap(v -> Arbitraries.integers().between(0, 3)
                        .map(cpu -> new Op(false, 0, 0, v, cpu))));
        return op.list().ofMinSize(1).ofMaxSize(300);
    }

    @Property(tries = 200)
    void allocationsAreSizeAlignedBelowTheLimitAndNeverOverlap(@ForAll("ops") List<Op> ops) {
        IovaDomain d = new IovaDomain(1, 4);
        TreeMap<Long, Long> live = new TreeMap<>(); // pfn -> requested size
        List<Long> order = new ArrayList<>();
        for (Op op : ops) {
            if (op.alloc()) {
                long pfn = d.allocFast(op.cpu(), op.size(), op.limitPfn(), true);
                if (pfn == 0) {
                    continue;
                }
                long size = op.size() < 32 ? roundPow2(op.size()) : op.size(); // alloc_iova_fast's round-up
                long alignTo = roundPow2(size);
                assertThat(pfn % alignTo).as("pfn %x for %d pages", pfn, op.size()).isZero();
                assertThat(pfn + op.size() - 1).isLessThanOrEqualTo(op.limitPfn());
                assertThat(pfn).isPositive();
                var below = live.floorEntry(pfn + size - 1);
                if (below != null) {
                    long belowSize = below.getValue() < 32 ? roundPow2(below.getValue()) : below.getValue();
                    assertThat(below.getKey() + belowSize - 1).as("overlap at %x", pfn).isLessThan(pfn);
                }
                live.put(pfn, (long) op.size());
                order.add(pfn);
            } else if (!order.isEmpty()) {
                long pfn = order.remove(op.victim() % order.size());
                d.freeFast(op.cpu(), pfn, live.remove(pfn));
            }
        }
    }

    static long roundPow2(long n) {
        return Long.highestOneBit(n) == n ? n : Long.highestOneBit(n) << 1;
    }

    @Property(tries = 100)
    void aFreedRangeComesBackToTheNextAllocationOfItsSizeOnTheSameCpu(
            @ForAll("sizes") int size, @ForAll("cpus") int cpu) {
        IovaDomain d = new IovaDomain(1, 4);
        long a = d.allocFast(cpu, size, 0xfffff, true);
        d.allocFast(cpu, size, 0xfffff, true);
        d.freeFast(cpu, a, size);
        assertThat(d.allocFast(cpu, size, 0xfffff, true)).isEqualTo(a);
    }

    @Provide
    Arbitrary<Integer> sizes() {
        return Arbitraries.integers().between(1, 100);
    }

    @Provide
    Arbitrary<Integer> cpus() {
        return Arbitraries.integers().between(0, 3);
    }

    @Test
    void allocationIsTopDownBelowTheLimit() {
        IovaDomain d = new IovaDomain(1, 1);
        assertThat(d.alloc(1, 0xfffff, true)).isEqualTo(0xfffff);
        assertThat(d.alloc(1, 0xfffff, true)).isEqualTo(0xffffe);
        assertThat(d.alloc(4, 0xfffff, true)).isEqualTo(0xffff8); // aligned: skips 0xffffc..d
        // the search starts below the cached (last allocated) node, so the alignment hole
        // 0xffffc..d above it stays unused, exactly as in Linux
        assertThat(d.alloc(2, 0xfffff, true)).isEqualTo(0xffff6);
        assertThat(d.alloc(1, 0xfffff, true)).isEqualTo(0xffff5);
        assertThat(d.free(0xffffe)).isTrue();
        assertThat(d.alloc(1, 0xfffff, true)).isEqualTo(0xffffe); // the hole above the cached node
    }

    @Test
    void aFailedBelow4GiBAllocationIsRememberedUntilSomethingThereIsFreed() {
        IovaDomain d = new IovaDomain(1, 1);
        d.reserve(1, 0xffff0);
        long a = d.alloc(8, 0xfffff, true);
        assertThat(a).isEqualTo(0xffff8);
        assertThat(d.alloc(16, 0xfffff, true)).isZero();
        assertThat(d.alloc(16, 0xfffff, true)).isZero();     // max32_alloc_size short cut
        assertThat(d.alloc(4, 0xfffff, true)).isEqualTo(0xffff4); // smaller still tried
        assertThat(d.free(a)).isTrue();
        assertThat(d.alloc(8, 0xfffff, true)).isEqualTo(0xffff8);
    }

    @Test
    void magazinesHold127AndSpillIntoTheDepotThenBackToTheTree() {
        IovaDomain d = new IovaDomain(1, 2);
        int n = IovaDomain.MAG_SIZE * 2 + 1 + IovaDomain.MAX_GLOBAL_MAGS * IovaDomain.MAG_SIZE + 5;
        long[] pfns = new long[n];
        for (int i = 0; i < n; i++) {
            pfns[i] = d.allocFast(0, 1, 0xfffff, true);
        }
        int tree = d.treeSize();
        for (int i = 0; i < IovaDomain.MAG_SIZE; i++) {
            d.freeFast(0, pfns[i], 1);
        }
        assertThat(d.cachedOnCpu(0, 0)).isEqualTo(127);
        assertThat(d.cachedOnCpu(1, 0)).isZero();
        for (int i = IovaDomain.MAG_SIZE; i < 2 * IovaDomain.MAG_SIZE; i++) {
            d.freeFast(0, pfns[i], 1);
        }
        assertThat(d.cachedOnCpu(0, 0)).isEqualTo(254); // loaded and prev both full
        assertThat(d.depotMagazines(0)).isZero();
        d.freeFast(0, pfns[2 * IovaDomain.MAG_SIZE], 1);
        assertThat(d.depotMagazines(0)).isEqualTo(1);
        assertThat(d.treeSize()).isEqualTo(tree); // cached ranges stay allocated in the tree
        for (int i = 2 * IovaDomain.MAG_SIZE + 1; i < n; i++) {
            d.freeFast(0, pfns[i], 1);
        }
        assertThat(d.depotMagazines(0)).isEqualTo(IovaDomain.MAX_GLOBAL_MAGS);
        assertThat(d.treeSize()).isLessThan(tree); // a full depot sends a magazine back to the tree
        // another CPU finds the depot when its own magazines are empty
        long hits = d.cacheHits();
        d.allocFast(1, 1, 0xfffff, true);
        assertThat(d.cacheHits()).isEqualTo(hits + 1);
        assertThat(d.depotMagazines(0)).isEqualTo(IovaDomain.MAX_GLOBAL_MAGS - 1);
    }

    @Test
    void largeRangesBypassTheCachesAndAreOnlySizeAlignedToTheirPowerOfTwo() {
        IovaDomain d = new IovaDomain(1, 1);
        long a = d.allocFast(0, 33, 0xfffff, true); // > 32 pages: not rounded, not cached
        assertThat(a % 64).isZero();
        assertThat(d.find(a)).containsExactly(a, a + 32);
        d.freeFast(0, a, 33);
        assertThat(d.find(a)).isNull();
        long b = d.allocFast(0, 3, 0xfffff, true); // rounded to 4
        assertThat(d.find(b)).containsExactly(b, b + 3);
    }
}
