package io.viommu.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.Translation;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * The unit's one cache structure against a reference model (an access-ordered
 * {@link LinkedHashMap}): random gets, puts and removals give the same contents, the same
 * eviction victim and the same LRU order; and the IOTLB's fast paths (MRU fields, per-level
 * counts) never answer differently from a full lookup.
 */
class LruCacheProperties {
    /** One operation: 0 get, 1 put, 2 removeIf(key A == k). */
    record Op(int kind, int a, int b) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = net.jqwik.api.Combinators.combine(Arbitraries.integers().between(0, 2),
                Arbitraries.integers().between(0, 5), Arbitraries.integers().between(0, 7)).as(Op::new);
        return op.list().ofMaxSize(300);
    }

    @Property(tries = 300)
    void behavesAsAnAccessOrderedMapBoundedByCapacity(@ForAll("ops") List<Op> ops,
                                                      @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 9) int capacity) {
        LruCache<String> cache = new LruCache<>(capacity);
        LinkedHashMap<List<Integer>, String> model = new LinkedHashMap<>(16, 0.75f, true);
        for (Op op : ops) {
            List<Integer> key = List.of(op.a(), op.b());
            switch (op.kind()) {
                case 0 -> assertThat(cache.get(op.a(), op.b())).isEqualTo(model.get(key));
                case 1 -> {
                    String v = op.a() + ":" + op.b() + "@" + model.size();
                    if (!model.containsKey(key) && model.size() == capacity) {
                        Iterator<List<Integer>> it = model.keySet().iterator();
                        it.next();
                        it.remove();
                    }
                    model.put(key, v);
                    cache.put(op.a(), op.b(), v, op.a());
                }
                default -> {
                    model.keySet().removeIf(k -> k.get(0) == op.a());
                    cache.removeIf((a, b, m, v) -> a == op.a() && m == op.a());
                }
            }
            assertThat(cache.size()).isEqualTo(model.size());
        }
        // Same LRU order: evicting one by one removes the model's eldest first.
        List<String> order = new ArrayList<>();
        for (Map.Entry<List<Integer>, String> e : model.entrySet()) {
            order.add(e.getValue());
            assertThat(cache.find(e.getKey().get(0), e.getKey().get(1))).isNotEqualTo(LruCache.NIL);
        }
        List<String> evicted = new ArrayList<>();
        for (int i = 0; i < order.size(); i++) {
            int victim = cache.size() == capacity ? cache.evictionVictim() : LruCache.NIL;
            if (victim == LruCache.NIL) {
                break;
            }
            evicted.add(cache.value(victim));
            cache.remove(victim);
        }
        assertThat(order.subList(0, evicted.size())).isEqualTo(evicted);
    }

    /** One operation on a wider key space: 0 get, 1 put (meta class c), 2 removeIf(class == c), 3 replace via put. */
    record WideOp(int kind, long a, long b, int cls) {
    }

    @Provide
    Arbitrary<List<WideOp>> wideOps() {
        // Keys from a small pool of arbitrary longs (so they repeat), classes 0..15.
        Arbitrary<Long> keyPart = Arbitraries.oneOf(Arbitraries.longs().between(0, 40),
                Arbitraries.of(-1L, Long.MIN_VALUE, Long.MAX_VALUE, 0x10000001L, 1L << 40, 0x40000L, 0x40001L));
        Arbitrary<WideOp> op = net.jqwik.api.Combinators.combine(Arbitraries.integers().between(0, 3),
                keyPart, keyPart, Arbitraries.integers().between(0, 15)).as(WideOp::new);
        return op.list().ofMaxSize(600);
    }

    /**
     * The open-addressing index (linear probing, backward-shift removal, wrap-around at the end
     * of the slot array) and the per-class counts against the reference model, with capacities
     * up to 70 and keys anywhere in the long range: after every operation every key of the model
     * is found, nothing else is, and each class has the model's number of entries.
     */
    @Property(tries = 300)
    void indexAndClassCountsAgreeWithTheModel(@ForAll("wideOps") List<WideOp> ops,
                                              @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 70) int capacity) {
        LruCache<String> cache = new LruCache<>(capacity);
        record Entry(String value, int meta) {
        }
        LinkedHashMap<List<Long>, Entry> model = new LinkedHashMap<>(16, 0.75f, true);
        java.util.Set<List<Long>> seen = new java.util.HashSet<>();
        long evictions = 0;
        for (WideOp op : ops) {
            List<Long> key = List.of(op.a(), op.b());
            seen.add(key);
            int meta = op.cls() << 28 | (op.kind() & 0xff);
            switch (op.kind()) {
                case 0 -> {
                    Entry e = model.get(key);
                    assertThat(cache.get(op.a(), op.b())).isEqualTo(e == null ? null : e.value());
                }
                case 1, 3 -> {
                    String v = op.a() + ":" + op.b() + "#" + op.cls();
                    if (!model.containsKey(key) && model.size() == capacity) {
                        Iterator<List<Long>> it = model.keySet().iterator();
                        it.next();
                        it.remove();
                        evictions++;
                    }
                    model.put(key, new Entry(v, meta));
                    cache.put(op.a(), op.b(), v, meta);
                }
                default -> {
                    model.values().removeIf(e -> e.meta() >>> 28 == op.cls());
                    cache.removeIf((a, b, m, v) -> (int) m >>> 28 == op.cls());
                }
            }
            assertThat(cache.size()).isEqualTo(model.size());
            assertThat(cache.evictions()).isEqualTo(evictions);
            Map<List<Long>, Entry> snapshot = new java.util.HashMap<>(model); // model.get would reorder it
            for (List<Long> k : seen) {
                int i = cache.find(k.get(0), k.get(1));
                Entry e = snapshot.get(k);
                assertThat(i == LruCache.NIL ? null : cache.value(i)).isEqualTo(e == null ? null : e.value());
                if (e != null) {
                    assertThat(cache.meta(i)).isEqualTo(e.meta());
                    assertThat(cache.keyA(i)).isEqualTo(k.get(0));
                    assertThat(cache.keyB(i)).isEqualTo(k.get(1));
                }
            }
            for (int c = 0; c < 16; c++) {
                int cls = c;
                assertThat(cache.count(c)).isEqualTo(model.values().stream().filter(e -> e.meta() >>> 28 == cls).count());
            }
        }
        // Same LRU order: inserting fresh keys into the full cache evicts the model's keys eldest first.
        List<List<Long>> order = new ArrayList<>(model.keySet());
        long fresh = 0;
        while (cache.size() < capacity) {
            cache.put(Long.MIN_VALUE + 1, fresh++, "fresh", 0);
        }
        java.util.Set<List<Long>> remaining = new java.util.LinkedHashSet<>(order);
        List<List<Long>> evicted = new ArrayList<>();
        for (int j = 0; j < order.size(); j++) {
            cache.put(Long.MIN_VALUE + 1, fresh++, "fresh", 0);
            for (Iterator<List<Long>> it = remaining.iterator(); it.hasNext(); ) {
                List<Long> k = it.next();
                if (cache.find(k.get(0), k.get(1)) == LruCache.NIL) {
                    evicted.add(k);
                    it.remove();
                }
            }
        }
        assertThat(evicted).isEqualTo(order);
    }

    private static Translation page(long iova, long size) {
        return new Translation(new Iova(iova & -size), new PhysAddr(0x1000_0000L + (iova & -size)), size, true, true);
    }

    @Property(tries = 200)
    void iotlbFastPathsAgreeWithAFullLookup(@ForAll("iotlbOps") List<long[]> ops) {
        Iotlb iotlb = new Iotlb(4);
        for (long[] op : ops) {
            int sid = (int) op[1];
            long addr = op[2] << 12;
            int level = (int) op[3];
            switch ((int) op[0]) {
                case 0 -> {
                    boolean present = iotlb.contains(sid, 0, addr);
                    Translation t = iotlb.lookup(sid, 0, addr);
                    assertThat(t != null).isEqualTo(present);
                    if (t != null) {
                        assertThat(t.covers(new Iova(addr))).isTrue();
                    }
                }
                case 1 -> {
                    long size = SlPte.pageSize(level);
                    if (iotlb.lookup(sid, 0, addr) == null) {
                        iotlb.insertAbsent(sid, 0, 1, Iotlb.LEGACY, addr, level, 0, page(addr, size));
                    }
                }
                case 2 -> iotlb.insert(sid, 0, 1, Iotlb.LEGACY, addr, level, 0, page(addr, SlPte.pageSize(level)));
                case 3 -> iotlb.invalidatePages(1, addr, 0);
                default -> iotlb.invalidateDomain(1);
            }
        }
    }

    @Provide
    Arbitrary<List<long[]>> iotlbOps() {
        Arbitrary<long[]> op = net.jqwik.api.Combinators.combine(Arbitraries.longs().between(0, 4),
                Arbitraries.longs().between(1, 2), Arbitraries.longs().between(0, 1030),
                Arbitraries.longs().between(1, 2)).as((k, s, p, l) -> new long[] {k, s, p, l});
        return op.list().ofMaxSize(200);
    }

    @Test
    void aSuperpageHitDoesNotLeaveAStaleFastPath() {
        Iotlb iotlb = new Iotlb(2);
        iotlb.insertAbsent(1, 0, 1, Iotlb.LEGACY, 0x1000, 1, 0, page(0x1000, 4096));
        iotlb.insertAbsent(1, 0, 1, Iotlb.LEGACY, 0x200000, 2, 0, page(0x200000, 1 << 21));
        assertThat(iotlb.lookup(1, 0, 0x201000)).isNotNull(); // 2 MiB entry becomes most recent
        assertThat(iotlb.lookup(1, 0, 0x1000)).isNotNull();   // 4 KiB entry most recent again
        iotlb.insertAbsent(1, 0, 1, Iotlb.LEGACY, 0x5000, 1, 0, page(0x5000, 4096)); // evicts the 2 MiB entry
        assertThat(iotlb.contains(1, 0, 0x200000)).isFalse();
        assertThat(iotlb.lookup(1, 0, 0x1000)).isNotNull();
        assertThat(iotlb.lookup(1, 0, 0x5000)).isNotNull();
    }
}
