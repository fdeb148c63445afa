package io.viommu.pci;

import io.viommu.memory.Iova;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A function's address translation cache (the "device-TLB" of VT-d, the ATC of PCIe ATS):
 * successful translation completions keyed by PASID (or {@link #NO_PASID}) and untranslated
 * range. Filled by the function's {@link AtsEndpoint}, emptied by invalidation requests the
 * IOMMU sends (VT-d device-TLB and PASID-based device-TLB invalidation descriptors) and by
 * disabling ATS. Not thread-safe.
 */
public final class DeviceTlb {
    public static final int NO_PASID = -1;

    private final Map<Integer, TreeMap<Long, AtsCompletion>> byPasid = new HashMap<>();
    private long hits;
    private long misses;
    private long invalidations;

    /** The cached completion covering {@code iova} for {@code pasid}, or null. */
    public AtsCompletion lookup(int pasid, Iova iova) {
        TreeMap<Long, AtsCompletion> m = byPasid.get(pasid);
        if (m != null) {
            Map.Entry<Long, AtsCompletion> e = m.floorEntry(iova.value());
            if (e != null && Long.compareUnsigned(iova.value() - e.getKey(), e.getValue().size()) < 0) {
                hits++;
                return e.getValue();
            }
        }
        misses++;
        return null;
    }

    public void insert(int pasid, AtsCompletion c) {
        if (!c.ok() || (!c.read() && !c.write()) || c.untranslatedOnly()) {
            return; // nothing a translated request could use
        }
        TreeMap<Long, AtsCompletion> m = byPasid.computeIfAbsent(pasid, k -> new TreeMap<>());
        // Drop what the new range overlaps, so lookups see one entry per address.
        removeRange(m, c.untranslated().value(), c.size());
        m.put(c.untranslated().value(), c);
    }

    /**
     * An invalidation request for {@code size} bytes at {@code addr} (size-aligned);
     * {@code pasid} {@link #NO_PASID} for requests without PASID; {@code allPasids} for a
     * global invalidation (VT-d PASID device-TLB descriptor with G = 1).
     */
    public void invalidate(int pasid, boolean allPasids, long addr, long size) {
        invalidations++;
        if (allPasids) {
            for (TreeMap<Long, AtsCompletion> m : byPasid.values()) {
                removeRange(m, addr, size);
            }
            return;
        }
        TreeMap<Long, AtsCompletion> m = byPasid.get(pasid);
        if (m != null) {
            removeRange(m, addr, size);
        }
    }

    public void invalidateAll() {
        invalidations++;
        byPasid.clear();
    }

    private static void removeRange(TreeMap<Long, AtsCompletion> m, long addr, long size) {
        long end = size == Long.MIN_VALUE || addr + size < addr ? -1L : addr + size - 1;
        m.entrySet().removeIf(e -> {
            long s = e.getKey();
            long last = s + e.getValue().size() - 1;
            return Long.compareUnsigned(s, end) <= 0 && Long.compareUnsigned(last, addr) >= 0;
        });
    }

    public int size() {
        int n = 0;
        for (TreeMap<Long, AtsCompletion> m : byPasid.values()) {
            n += m.size();
        }
        return n;
    }

    public boolean contains(int pasid, Iova iova) {
        TreeMap<Long, AtsCompletion> m = byPasid.get(pasid);
        if (m == null) {
            return false;
        }
        Map.Entry<Long, AtsCompletion> e = m.floorEntry(iova.value());
        return e != null && Long.compareUnsigned(iova.value() - e.getKey(), e.getValue().size()) < 0;
    }

    public long hits() {
        return hits;
    }

    public long misses() {
        return misses;
    }

    public long invalidations() {
        return invalidations;
    }
}
