package io.viommu.vtd;

import io.viommu.memory.AddressSpace;

/**
 * Legacy-mode context resolution (RTADDR.TTM = 00): root entry -> 128-bit context entry with
 * QEMU 7.2's checks in QEMU's order (vtd_dev_to_context_entry), through a context cache keyed
 * by source id. Only entries that pass every check are cached, so a fault (a not-present entry
 * included) is never cached, whatever caching mode says.
 */
final class LegacyContextResolver implements ContextResolver {
    private final AddressSpace memory;
    private final VtdConfig config;
    private final int aw;
    private final long cap;
    private final LruCache<ContextResult.Legacy> cache = new LruCache<>(CACHE_ENTRIES);
    private long rootTable;

    LegacyContextResolver(AddressSpace memory, VtdConfig config) {
        this.memory = memory;
        this.config = config;
        this.aw = config.awBits();
        this.cap = config.cap();
    }

    @Override
    public void setRootTable(long rootTable) {
        this.rootTable = rootTable;
    }

    @Override
    public ContextResult resolve(int sid) {
        ContextResult.Legacy hit = cache.get(sid, 0);
        if (hit != null) {
            return hit;
        }
        ContextResult r = fetch(sid);
        if (r instanceof ContextResult.Legacy l) {
            cache.put(sid, 0, l, 0);
        }
        return r;
    }

    @Override
    public ContextResult fetch(int sid) {
        long rootAddr = RootEntry.address(rootTable, sid >>> 8);
        if (memory.probe(rootAddr, RootEntry.SIZE) != AddressSpace.Status.OK) {
            return ContextResult.Fault.legacy(FaultReason.ROOT_TABLE_INVALID, false);
        }
        long rlo = memory.read(rootAddr, 8);
        long rhi = memory.read(rootAddr + 8, 8);
        if (!RootEntry.isPresent(rlo)) {
            return ContextResult.Fault.legacy(FaultReason.ROOT_ENTRY_NOT_PRESENT, false);
        }
        if (RootEntry.hasReservedBits(rlo, rhi, aw)) {
            return ContextResult.Fault.legacy(FaultReason.ROOT_ENTRY_RESERVED, false);
        }
        long ctxAddr = ContextEntry.address(RootEntry.contextTable(rlo), sid & 0xff);
        if (memory.probe(ctxAddr, ContextEntry.SIZE) != AddressSpace.Status.OK) {
            return ContextResult.Fault.legacy(FaultReason.CONTEXT_TABLE_INVALID, false);
        }
        long lo = memory.read(ctxAddr, 8);
        long hi = memory.read(ctxAddr + 8, 8);
        // From here the context entry was read: its FPD applies to the fault.
        boolean fpd = ContextEntry.faultProcessingDisabled(lo);
        if (!ContextEntry.isPresent(lo)) {
            return ContextResult.Fault.legacy(FaultReason.CONTEXT_ENTRY_NOT_PRESENT, fpd);
        }
        if (ContextEntry.hasReservedBits(lo, hi, aw)) {
            return ContextResult.Fault.legacy(FaultReason.CONTEXT_ENTRY_RESERVED, fpd);
        }
        if (!ContextResolver.levelsSupported(cap, ContextEntry.levels(hi))) {
            return ContextResult.Fault.legacy(FaultReason.CONTEXT_ENTRY_INVALID, fpd);
        }
        boolean ttOk = switch (ContextEntry.translationType(lo)) {
            case ContextEntry.TT_MULTI_LEVEL -> true;
            case ContextEntry.TT_DEV_IOTLB -> config.deviceIotlb();
            case ContextEntry.TT_PASS_THROUGH -> config.pt();
            default -> false;
        };
        // QEMU reports a disallowed or reserved TT as an invalid context entry (3), not 0xD.
        return ttOk ? new ContextResult.Legacy(lo, hi) : ContextResult.Fault.legacy(FaultReason.CONTEXT_ENTRY_INVALID, fpd);
    }

    @Override
    public boolean cached(int sid) {
        return cache.find(sid, 0) != LruCache.NIL;
    }

    @Override
    public void invalidateAll() {
        cache.clear();
    }

    @Override
    public void invalidateDevice(int sid, int fm) {
        cache.removeIf((s, z, m, v) -> ContextEntry.coveredByFunctionMask((int) s, sid, fm));
    }
}
