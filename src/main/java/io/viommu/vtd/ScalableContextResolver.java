package io.viommu.vtd;

import io.viommu.memory.AddressSpace;

/**
 * Scalable-mode context resolution (RTADDR.TTM = 01, VT-d 3.4.3 and 9.4-9.6): scalable root
 * entry (both halves) -> 256-bit context entry, through the context cache; then, for the
 * request's PASID (its prefix, or the context entry's RID_PASID), PASID directory -> PASID
 * entry through the PASID cache ({@link #resolvePasid}). The translation core looks the IOTLB
 * up between the two steps, as QEMU 7.2 reads the PASID entry only on an IOTLB miss.
 *
 * <p>Faults carry QEMU 7.2's codes, or the specification's with {@code x-sm-spec-faults}
 * ({@link ScalableFault}). The PASID cache (VT-d 6.2.3) holds entries that passed every
 * check, tagged by domain id; software invalidates it with PASID-cache descriptors (type 7),
 * and context-cache invalidation of a device drops its entries too. QEMU 7.2 has no PASID
 * cache; with QEMU's invalidation discipline the two behave the same.
 */
final class ScalableContextResolver implements ContextResolver {
    /** PASID cache entries per unit (bounded LRU). */
    static final int PASID_CACHE_ENTRIES = 1024;

    private final AddressSpace memory;
    private final VtdConfig config;
    private final int aw;
    private final long cap;
    private final boolean spec;
    private final LruCache<ContextResult.Scalable> contextCache = new LruCache<>(CACHE_ENTRIES);
    private final LruCache<ContextResult.Pasid> pasidCache = new LruCache<>(PASID_CACHE_ENTRIES);
    private long rootTable;

    ScalableContextResolver(AddressSpace memory, VtdConfig config) {
        this.memory = memory;
        this.config = config;
        this.aw = config.awBits();
        this.cap = config.cap();
        this.spec = config.smSpecFaults();
    }

    @Override
    public void setRootTable(long rootTable) {
        this.rootTable = rootTable;
    }

    @Override
    public ContextResult resolve(int sid) {
        ContextResult.Scalable hit = contextCache.get(sid, 0);
        if (hit != null) {
            return hit;
        }
        ContextResult r = fetch(sid);
        if (r instanceof ContextResult.Scalable s) {
            contextCache.put(sid, 0, s, 0);
        }
        return r;
    }

    private ContextResult.Fault fault(ScalableFault f, boolean fpd) {
        return ContextResult.Fault.scalable(f, spec, fpd);
    }

    @Override
    public ContextResult fetch(int sid) {
        int devfn = sid & 0xff;
        long rootAddr = ScalableRootEntry.address(rootTable, sid >>> 8);
        if (memory.probe(rootAddr, ScalableRootEntry.SIZE) != AddressSpace.Status.OK) {
            return fault(ScalableFault.ROOT_TABLE_ACCESS, false);
        }
        long rlo = memory.read(rootAddr, 8);
        long rhi = memory.read(rootAddr + 8, 8);
        if (!ScalableRootEntry.isPresent(rlo, rhi, devfn)) {
            return fault(ScalableFault.ROOT_NOT_PRESENT, false);
        }
        if (ScalableRootEntry.hasReservedBits(rlo, rhi, aw)) {
            return fault(ScalableFault.ROOT_RESERVED, false);
        }
        long ctxAddr = ScalableContextEntry.address(ScalableRootEntry.contextTable(rlo, rhi, devfn), devfn);
        if (memory.probe(ctxAddr, ScalableContextEntry.SIZE) != AddressSpace.Status.OK) {
            return fault(ScalableFault.CONTEXT_ACCESS, false);
        }
        long q0 = memory.read(ctxAddr, 8);
        long q1 = memory.read(ctxAddr + 8, 8);
        long q2 = memory.read(ctxAddr + 16, 8);
        long q3 = memory.read(ctxAddr + 24, 8);
        boolean fpd = ScalableContextEntry.faultProcessingDisabled(q0);
        if (!ScalableContextEntry.isPresent(q0)) {
            return fault(ScalableFault.CONTEXT_NOT_PRESENT, fpd);
        }
        if (ScalableContextEntry.hasReservedBits(q0, q1, q2, q3, aw)) {
            return fault(ScalableFault.CONTEXT_RESERVED, fpd);
        }
        if (spec && PasidDirEntry.index(ScalableContextEntry.ridPasid(q1))
                >= ScalableContextEntry.pasidDirEntries(q0)) {
            return fault(ScalableFault.RID_PASID_INVALID, fpd);
        }
        return new ContextResult.Scalable(q0, q1);
    }

    /**
     * The PASID entry of {@code pasid} under {@code ctx} (vtd_ce_get_rid2pasid_entry /
     * vtd_get_pe_from_pasid_table): a {@link ContextResult.Pasid} or a fault whose FPD is that
     * of every entry read on the way. {@code withPrefix}: the request carries a PASID prefix.
     */
    ContextResult resolvePasid(ContextResult.Scalable ctx, int sid, int pasid, boolean withPrefix) {
        boolean fpd = ctx.faultProcessingDisabled();
        if (withPrefix && !ctx.pasidEnabled()) {
            return fault(ScalableFault.CONTEXT_PASIDE_CLEAR, fpd);
        }
        if (withPrefix && spec && PasidDirEntry.index(pasid) >= ScalableContextEntry.pasidDirEntries(ctx.q0())) {
            return fault(ScalableFault.PASID_TOO_LARGE, fpd);
        }
        ContextResult.Pasid cached = pasidCache.get(sid, pasid);
        if (cached != null) {
            return cached;
        }
        long dirAddr = PasidDirEntry.address(ScalableContextEntry.pasidDirTable(ctx.q0()), pasid);
        if (memory.probe(dirAddr, PasidDirEntry.SIZE) != AddressSpace.Status.OK) {
            return fault(ScalableFault.PASID_DIR_ACCESS, fpd);
        }
        long dir = memory.read(dirAddr, 8);
        // QEMU vtd_ce_get_pasid_fpd: the directory entry's FPD counts before its present bit.
        boolean dirFpd = PasidDirEntry.faultProcessingDisabled(dir);
        fpd |= dirFpd;
        if (!PasidDirEntry.isPresent(dir)) {
            return fault(ScalableFault.PASID_DIR_NOT_PRESENT, fpd);
        }
        if (spec && (dir & PasidDirEntry.reserved(aw)) != 0) {
            return fault(ScalableFault.PASID_DIR_RESERVED, fpd);
        }
        long peAddr = PasidEntry.address(PasidDirEntry.pasidTable(dir), pasid);
        if (memory.probe(peAddr, PasidEntry.SIZE) != AddressSpace.Status.OK) {
            return fault(ScalableFault.PASID_TABLE_ACCESS, fpd);
        }
        long q0 = memory.read(peAddr, 8);
        long q1 = memory.read(peAddr + 8, 8);
        long q2 = memory.read(peAddr + 16, 8);
        if (!PasidEntry.isPresent(q0)) {
            return fault(ScalableFault.PASID_NOT_PRESENT, fpd);
        }
        fpd |= PasidEntry.faultProcessingDisabled(q0);
        int pgtt = PasidEntry.pgtt(q0);
        boolean firstLevel = pgtt == PasidEntry.PGTT_FIRST_LEVEL || pgtt == PasidEntry.PGTT_NESTED;
        if (spec && ((q0 & PasidEntry.reservedQ0(aw)) != 0 || (q1 & PasidEntry.RESERVED_Q1) != 0
                || (firstLevel && (q2 & PasidEntry.reservedQ2(aw)) != 0))) {
            return fault(ScalableFault.PASID_RESERVED, fpd);
        }
        if (!pgttSupported(pgtt, q0, q2)) {
            return fault(ScalableFault.PASID_INVALID, fpd);
        }
        ContextResult.Pasid pe = new ContextResult.Pasid(q0, q1, q2, dirFpd);
        pasidCache.put(sid, pasid, pe, PasidEntry.domainId(q1));
        return pe;
    }

    /** vtd_pe_type_check and the level check, plus the first-level options this unit offers. */
    private boolean pgttSupported(int pgtt, long q0, long q2) {
        boolean slLevelOk = ContextResolver.levelsSupported(cap, PasidEntry.secondLevelLevels(q0));
        return switch (pgtt) {
            case PasidEntry.PGTT_SECOND_LEVEL -> slLevelOk;
            // QEMU 7.2 checks AW for pass-through entries too (checked: AW 0 faults 0x58).
            case PasidEntry.PGTT_PASS_THROUGH -> config.pt() && slLevelOk;
            case PasidEntry.PGTT_FIRST_LEVEL -> config.firstLevel() && PasidEntry.firstLevelLevels(q2) > 0;
            case PasidEntry.PGTT_NESTED -> config.nested() && slLevelOk && PasidEntry.firstLevelLevels(q2) > 0;
            default -> false;
        };
    }

    @Override
    public boolean cached(int sid) {
        return contextCache.find(sid, 0) != LruCache.NIL;
    }

    int pasidCacheSize() {
        return pasidCache.size();
    }

    /** Context-cache global invalidation: the PASID cache goes too (its entries hang off contexts). */
    @Override
    public void invalidateAll() {
        contextCache.clear();
        pasidCache.clear();
    }

    @Override
    public void invalidateDevice(int sid, int fm) {
        contextCache.removeIf((s, z, m, v) -> ContextEntry.coveredByFunctionMask((int) s, sid, fm));
        pasidCache.removeIf((s, p, m, v) -> ContextEntry.coveredByFunctionMask((int) s, sid, fm));
    }

    /** PASID-cache invalidation, domain-selective (granularity 00). */
    void invalidatePasidDomain(int did) {
        pasidCache.removeIf((s, p, m, v) -> m == did);
    }

    /** PASID-cache invalidation, PASID-selective within a domain (granularity 01). */
    void invalidatePasid(int did, int pasid) {
        pasidCache.removeIf((s, p, m, v) -> m == did && p == pasid);
    }

    /** PASID-cache invalidation, global (granularity 11). */
    void invalidatePasidAll() {
        pasidCache.clear();
    }
}
