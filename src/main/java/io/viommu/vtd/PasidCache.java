package io.viommu.vtd;

import java.util.HashMap;
import java.util.Map;

/**
 * The PASID cache (VT-d 6.2.3): PASID-table entries fetched for (source id, PASID), with the
 * FPD of the directory entry that led to them, tagged by the entry's domain id. Only entries
 * that passed every check are cached. Software must invalidate it (PASID-cache invalidation
 * descriptor, type 7) after changing a present PASID entry; until then the cached entry is
 * used, as on hardware. Context-cache invalidation of a device drops its entries too (its
 * context entry may now point at another PASID directory).
 *
 * <p>QEMU 7.2 has no PASID cache (it reads the PASID entry on every IOTLB miss), so with
 * QEMU's invalidation discipline the two behave the same. Lookups happen only on IOTLB misses.
 */
final class PasidCache {
    record Entry(long q0, long q1, long q2, boolean dirFpd) {
        int domainId() {
            return PasidEntry.domainId(q1);
        }
    }

    private final Map<Long, Entry> entries = new HashMap<>();

    private static long key(int sid, int pasid) {
        return ((long) (sid & 0xffff) << 20) | (pasid & 0xfffff);
    }

    Entry lookup(int sid, int pasid) {
        return entries.get(key(sid, pasid));
    }

    void put(int sid, int pasid, Entry e) {
        entries.put(key(sid, pasid), e);
    }

    int size() {
        return entries.size();
    }

    void clear() {
        entries.clear();
    }

    /** Domain-selective (granularity 00). */
    void invalidateDomain(int did) {
        entries.values().removeIf(e -> e.domainId() == did);
    }

    /** PASID-selective within a domain (granularity 01). */
    void invalidatePasid(int did, int pasid) {
        entries.entrySet().removeIf(e -> (e.getKey() & 0xfffff) == pasid && e.getValue().domainId() == did);
    }

    /** Everything cached for the devices a device-selective context invalidation names. */
    void invalidateDevice(int sid, int fm) {
        int mask = switch (fm & 3) {
            case 0 -> 0;
            case 1 -> 4;
            case 2 -> 6;
            default -> 7;
        };
        int keep = ~mask & 0xffff;
        entries.keySet().removeIf(k -> ((int) (k >>> 20) & keep) == (sid & keep));
    }
}
