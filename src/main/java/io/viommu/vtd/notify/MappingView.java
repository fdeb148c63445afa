package io.viommu.vtd.notify;

import io.viommu.memory.PhysAddr;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An interval map IOVA range -> (physical address, permission), kept canonical: runs never
 * overlap and two adjacent runs are never mergeable (IOVA- and physically contiguous with the
 * same permission), so two views with the same page-level content are {@link #equals equal}.
 *
 * <p>The notifier keeps one per registration as its shadow of what the consumer was told; a
 * consumer can keep one as its own view ({@link #apply}), and tests use
 * {@link #applyStrict} to check the contract of each event.
 */
public final class MappingView {
    private final TreeMap<Long, Mapping> runs = new TreeMap<>(Long::compareUnsigned);

    public MappingView() {
    }

    public MappingView(List<Mapping> mappings) {
        for (Mapping m : mappings) {
            put(m);
        }
    }

    /** Applies an event as a consumer would. */
    public void apply(IommuEvent event) {
        switch (event) {
            case IommuEvent.Map m -> put(m.mapping());
            case IommuEvent.Unmap u -> remove(u.range());
            case IommuEvent.Replace r -> put(r.mapping());
        }
    }

    /**
     * Applies an event of a MAP registration after checking its contract: a MAP lands on
     * unmapped IOVA, an UNMAP removes only mapped IOVA, a REPLACE changes a range that is
     * mapped exactly as its old mapping says.
     *
     * @throws IllegalStateException when the event breaks the contract
     */
    public void applyStrict(IommuEvent event) {
        switch (event) {
            case IommuEvent.Map m -> {
                if (!isUnmapped(m.range())) {
                    throw new IllegalStateException("MAP over mapped IOVA: " + m + " view " + mappings(m.range()));
                }
            }
            case IommuEvent.Unmap u -> {
                if (!isFullyMapped(u.range())) {
                    throw new IllegalStateException("UNMAP of unmapped IOVA: " + u + " view " + mappings(u.range()));
                }
            }
            case IommuEvent.Replace r -> {
                List<Mapping> before = mappings(r.range());
                if (!new MappingView(before).mappings().equals(List.of(r.oldMapping()))) {
                    throw new IllegalStateException("REPLACE whose old mapping differs: " + r + " view " + before);
                }
                if (r.oldMapping().equals(r.mapping())) {
                    throw new IllegalStateException("REPLACE that changes nothing: " + r);
                }
            }
        }
        apply(event);
    }

    /** Maps {@code m.range()} to {@code m}, replacing whatever was there. */
    public void put(Mapping m) {
        remove(m.range());
        Mapping merged = m;
        Map.Entry<Long, Mapping> below = runs.lowerEntry(m.range().first());
        if (below != null && below.getValue().continuedBy(merged)) {
            Mapping b = below.getValue();
            runs.remove(below.getKey());
            merged = new Mapping(new IovaRange(b.range().first(), merged.range().last()), b.phys(), b.permission());
        }
        if (merged.range().last() != -1L) {
            Mapping above = runs.get(merged.range().last() + 1);
            if (above != null && merged.continuedBy(above)) {
                runs.remove(above.range().first());
                merged = new Mapping(new IovaRange(merged.range().first(), above.range().last()), merged.phys(),
                        merged.permission());
            }
        }
        runs.put(merged.range().first(), merged);
    }

    /** Unmaps {@code r}, splitting runs that straddle its ends. */
    public void remove(IovaRange r) {
        Map.Entry<Long, Mapping> below = runs.lowerEntry(r.first());
        if (below != null && below.getValue().range().intersects(r)) {
            cut(below.getValue(), r);
        }
        while (true) {
            Map.Entry<Long, Mapping> e = runs.ceilingEntry(r.first());
            if (e == null || Long.compareUnsigned(e.getKey(), r.last()) > 0) {
                break;
            }
            cut(e.getValue(), r);
        }
    }

    private void cut(Mapping m, IovaRange r) {
        runs.remove(m.range().first());
        if (Long.compareUnsigned(m.range().first(), r.first()) < 0) {
            Mapping left = m.clip(new IovaRange(m.range().first(), r.first() - 1));
            runs.put(left.range().first(), left);
        }
        if (Long.compareUnsigned(m.range().last(), r.last()) > 0) {
            Mapping right = m.clip(new IovaRange(r.last() + 1, m.range().last()));
            runs.put(right.range().first(), right);
        }
    }

    /** All runs, in IOVA order. */
    public List<Mapping> mappings() {
        return new ArrayList<>(runs.values());
    }

    /** The runs inside {@code r}, clipped to it, in IOVA order. */
    public List<Mapping> mappings(IovaRange r) {
        List<Mapping> out = new ArrayList<>();
        Map.Entry<Long, Mapping> below = runs.lowerEntry(r.first());
        if (below != null) {
            Mapping c = below.getValue().clip(r);
            if (c != null) {
                out.add(c);
            }
        }
        for (Mapping m : runs.subMap(r.first(), true, r.last(), true).values()) {
            out.add(m.clip(r));
        }
        return out;
    }

    /** The run containing {@code iova}, or null when it is unmapped. */
    public Mapping lookup(long iova) {
        Map.Entry<Long, Mapping> e = runs.floorEntry(iova);
        return e != null && e.getValue().range().contains(iova) ? e.getValue() : null;
    }

    /** Where {@code iova} is mapped, or null. */
    public PhysAddr translate(long iova) {
        Mapping m = lookup(iova);
        return m == null ? null : new PhysAddr(m.physAt(iova));
    }

    public boolean isUnmapped(IovaRange r) {
        return mappings(r).isEmpty();
    }

    public boolean isFullyMapped(IovaRange r) {
        long next = r.first();
        for (Mapping m : mappings(r)) {
            if (m.range().first() != next) {
                return false;
            }
            if (m.range().last() == r.last()) {
                return true;
            }
            next = m.range().last() + 1;
        }
        return false;
    }

    /** Number of runs. */
    public int runCount() {
        return runs.size();
    }

    public boolean isEmpty() {
        return runs.isEmpty();
    }

    public void clear() {
        runs.clear();
    }

    public MappingView copy() {
        MappingView v = new MappingView();
        v.runs.putAll(runs);
        return v;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MappingView v && runs.equals(v.runs);
    }

    @Override
    public int hashCode() {
        return runs.hashCode();
    }

    @Override
    public String toString() {
        return runs.values().toString();
    }
}
