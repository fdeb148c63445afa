package io.viommu.vtd;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.MsiAddress;
import io.viommu.pci.PasidPrefix;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;

/**
 * DMA remapping when RTADDR.TTM = 01 (scalable mode, VT-d 3.4.3 and chapter 9): scalable root
 * entry -> 256-bit context entry -> PASID directory -> PASID table entry, then by the entry's
 * PGTT a first-level, second-level, nested or pass-through translation. Requests without a
 * PASID prefix use the context entry's RID_PASID (QEMU 7.2 vtd_ce_get_rid2pasid_entry, checked:
 * RID_PASID 5 selects PASID-table entry 5) and its RID_PRIV for their privilege (0 = user, as a
 * PCIe request without PASID prefix has no Privileged Mode Requested).
 *
 * <p>Where QEMU 7.2's x-scalable-mode supports a path (second level, pass-through, the root,
 * context and PASID-table checks), the order of checks, the recorded codes and FRCD's PP/PV
 * follow QEMU unless {@link VtdConfig#smSpecFaults()} asks for the specification's codes; see
 * {@link ScalableFault}. First-level and nested translation exist only with the
 * {@code x-flts}/{@code x-nest} extensions, which advertise them in ECAP (QEMU 7.2 advertises
 * neither and walks the second-level table of such entries; here an entry whose PGTT the unit
 * does not advertise is an invalid PASID entry).
 *
 * <p>Owned by one {@link IntelIommu}; its caches follow the unit's invalidations (an
 * {@link InvalidationListener}) and the PASID-based descriptors. Not thread-safe.
 */
final class ScalableModeTranslator implements InvalidationListener {
    private static final long FRCD_PP = 1L << 31;
    private static final long FRCD_EXE = 1L << 30;
    private static final long FRCD_PRIV = 1L << 29;
    private static final int PV_SHIFT = 40;

    private final IntelIommu unit;
    private final VtdConfig config;
    private final AddressSpace memory;
    private final int aw;
    private final boolean spec;
    private final ContextCache contextCache = new ContextCache();
    private final PasidCache pasidCache = new PasidCache();
    private final ScalableIotlb iotlb;
    private final SecondLevelWalk slWalk;
    private final FirstLevelWalk flWalk;

    // ---- results of resolve() (scratch; no allocation on the hit path) ----
    private final long[] ctx = new long[2];
    private boolean ctxRead;
    long ctxQ0;
    long ctxQ1;
    int pasid;
    boolean user;
    boolean exec;
    boolean fpd;
    PasidCache.Entry pe;

    // ---- results of walk() ----
    long outPage;
    long outSize;
    boolean outRead;
    boolean outWrite;
    int outFlags;

    ScalableModeTranslator(IntelIommu unit, VtdConfig config, AddressSpace memory) {
        this.unit = unit;
        this.config = config;
        this.memory = memory;
        this.aw = config.awBits();
        this.spec = config.smSpecFaults();
        this.iotlb = new ScalableIotlb(config.iotlbEntries());
        this.slWalk = new SecondLevelWalk(memory, aw, true, config.deviceIotlb());
        this.flWalk = new FirstLevelWalk(memory, aw, config.firstLevel(), slWalk);
    }

    int iotlbSize() {
        return iotlb.size();
    }

    int pasidCacheSize() {
        return pasidCache.size();
    }

    boolean iotlbContains(int sid, int pasidValue, long addr) {
        return iotlb.lookup(sid, pasidValue, addr) >= 0;
    }

    // ====================================================================================
    // Untranslated requests
    // ====================================================================================

    /** Translates one untranslated request (AT = 00b); faults are recorded in the unit's FRCD. */
    TranslationResult translate(DmaRequest request, PasidPrefix prefix, long rootTable) {
        int sid = request.requester().value();
        boolean write = request.access().isWrite();
        long iova = request.iova().value();
        ScalableFault f = resolveContext(sid, rootTable);
        if (f != null) {
            return report(request, prefix, f, ctxRead && ScalableContextEntry.faultProcessingDisabled(ctx[0]), false);
        }
        selectPasid(prefix);
        int hit = iotlb.lookup(sid, pasid, iova);
        if (hit >= 0) {
            Translation t = iotlb.translation(hit);
            int flags = iotlb.flags(hit);
            boolean rightsOk = (!user || (flags & ScalableIotlb.USER_OK) != 0)
                    && (!exec || (flags & ScalableIotlb.EXEC_OK) != 0);
            if (rightsOk && (write ? t.writable() : t.readable())) {
                return t;
            }
            int cachedPgtt = iotlb.pgtt(hit);
            boolean firstLevel = cachedPgtt == PasidEntry.PGTT_FIRST_LEVEL || cachedPgtt == PasidEntry.PGTT_NESTED;
            if (rightsOk && !(firstLevel && write && t.readable())) {
                // As QEMU: a cached entry without the permission fails the access unrecorded.
                return new DmaFault(request.requester(), request.iova(), request.access(),
                        permissionCode(write), "cached translation lacks the permission (not recorded, as QEMU)",
                        false);
            }
            // Otherwise walk again: a first write must set D, other rights must fault.
        }
        f = resolvePasid(sid, prefix);
        if (f != null) {
            return report(request, prefix, f, fpd, false);
        }
        int pgtt = PasidEntry.pgtt(pe.q0());
        if (pgtt == PasidEntry.PGTT_PASS_THROUGH) {
            // QEMU switches the device to its nodmar region: identity, never cached.
            return Translation.identity(request.iova(), 4096, true, true);
        }
        f = walk(pgtt, iova, write);
        if (f != null) {
            return report(request, prefix, f, fpd, true);
        }
        if (MsiAddress.overlaps(outPage, outSize)) {
            return report(request, prefix, ScalableFault.INTERRUPT_ADDRESS, fpd, true);
        }
        Translation t = new Translation(new Iova(iova & -outSize), new PhysAddr(outPage), outSize, outRead,
                outWrite);
        int level = (Long.numberOfTrailingZeros(outSize) - 12) / 9 + 1;
        iotlb.insert(sid, pasid, pe.domainId(), pgtt, iova, level, outFlags, t);
        return t;
    }

    /**
     * The translation stage for a resolved PASID entry: fills out* or returns the fault.
     * Records nothing (ATS translation requests use it too).
     */
    ScalableFault walk(int pgtt, long iova, boolean write) {
        switch (pgtt) {
            case PasidEntry.PGTT_SECOND_LEVEL -> {
                long q0 = pe.q0();
                ScalableFault f = slWalk.walk(PasidEntry.secondLevelTable(q0), PasidEntry.secondLevelLevels(q0),
                        PasidEntry.secondLevelAgaw(q0), iova, write);
                if (f != null) {
                    return f;
                }
                outSize = SlPte.pageSize(slWalk.level);
                outPage = SlPte.outputAddress(slWalk.pte, aw) & -outSize;
                outRead = slWalk.reads;
                outWrite = slWalk.writes;
                outFlags = ScalableIotlb.USER_OK | ScalableIotlb.EXEC_OK;
                return null;
            }
            case PasidEntry.PGTT_FIRST_LEVEL, PasidEntry.PGTT_NESTED -> {
                long q2 = pe.q2();
                if (!user && !PasidEntry.supervisorRequests(q2)) {
                    return ScalableFault.PASID_SRE_CLEAR;
                }
                if (exec && !PasidEntry.executeRequests(q2)) {
                    return ScalableFault.PASID_ERE_CLEAR;
                }
                ScalableFault f = flWalk.walk(pe.q0(), q2, pgtt == PasidEntry.PGTT_NESTED, iova, write, user, exec);
                if (f != null) {
                    return f;
                }
                outPage = flWalk.outputPage;
                outSize = flWalk.pageSize;
                outRead = true;
                outWrite = flWalk.writable;
                outFlags = (flWalk.userOk ? ScalableIotlb.USER_OK : 0) | (flWalk.execOk ? ScalableIotlb.EXEC_OK : 0);
                return null;
            }
            default -> {
                // Pass-through: identity.
                outPage = iova & ~0xfffL;
                outSize = 4096;
                outRead = true;
                outWrite = true;
                outFlags = ScalableIotlb.USER_OK | ScalableIotlb.EXEC_OK;
                return null;
            }
        }
    }

    // ====================================================================================
    // Context and PASID resolution (vtd_dev_to_context_entry, vtd_ce_get_rid2pasid_entry)
    // ====================================================================================

    /** Fills ctxQ0/ctxQ1 from the context cache or the tables. */
    ScalableFault resolveContext(int sid, long rootTable) {
        ctxRead = false;
        if (contextCache.lookup(sid, ctx)) {
            ctxRead = true;
            ctxQ0 = ctx[0];
            ctxQ1 = ctx[1];
            return null;
        }
        ScalableFault f = fetchContext(sid, rootTable);
        if (f == null) {
            ctxQ0 = ctx[0];
            ctxQ1 = ctx[1];
            contextCache.put(sid, ctx[0], ctx[1]);
        }
        return f;
    }

    private ScalableFault fetchContext(int sid, long rootTable) {
        ctx[0] = 0;
        ctx[1] = 0;
        int devfn = sid & 0xff;
        long rootAddr = ScalableRootEntry.address(rootTable, sid >>> 8);
        if (memory.probe(rootAddr, ScalableRootEntry.SIZE) != AddressSpace.Status.OK) {
            return ScalableFault.ROOT_TABLE_ACCESS;
        }
        long rlo = memory.read(rootAddr, 8);
        long rhi = memory.read(rootAddr + 8, 8);
        if (!ScalableRootEntry.isPresent(rlo, rhi, devfn)) {
            return ScalableFault.ROOT_NOT_PRESENT;
        }
        if (ScalableRootEntry.hasReservedBits(rlo, rhi, aw)) {
            return ScalableFault.ROOT_RESERVED;
        }
        long ctxAddr = ScalableContextEntry.address(ScalableRootEntry.contextTable(rlo, rhi, devfn), devfn);
        if (memory.probe(ctxAddr, ScalableContextEntry.SIZE) != AddressSpace.Status.OK) {
            return ScalableFault.CONTEXT_ACCESS;
        }
        long q0 = memory.read(ctxAddr, 8);
        long q1 = memory.read(ctxAddr + 8, 8);
        long q2 = memory.read(ctxAddr + 16, 8);
        long q3 = memory.read(ctxAddr + 24, 8);
        ctx[0] = q0;
        ctx[1] = q1;
        ctxRead = true;
        if (!ScalableContextEntry.isPresent(q0)) {
            return ScalableFault.CONTEXT_NOT_PRESENT;
        }
        if (ScalableContextEntry.hasReservedBits(q0, q1, q2, q3, aw)) {
            return ScalableFault.CONTEXT_RESERVED;
        }
        if (spec && PasidDirEntry.index(ScalableContextEntry.ridPasid(q1))
                >= ScalableContextEntry.pasidDirEntries(q0)) {
            return ScalableFault.RID_PASID_INVALID;
        }
        return null;
    }

    /** The PASID, privilege and execute attributes of a request (after resolveContext). */
    void selectPasid(PasidPrefix prefix) {
        if (prefix == null) {
            pasid = ScalableContextEntry.ridPasid(ctxQ1);
            user = !ScalableContextEntry.ridPrivileged(ctxQ1);
            exec = false;
        } else {
            pasid = prefix.pasid();
            user = !prefix.privileged();
            exec = prefix.execute();
        }
    }

    /** Fills {@link #pe} and {@link #fpd} for (sid, {@link #pasid}). */
    ScalableFault resolvePasid(int sid, PasidPrefix prefix) {
        fpd = ScalableContextEntry.faultProcessingDisabled(ctxQ0);
        if (prefix != null && !ScalableContextEntry.pasidEnabled(ctxQ0)) {
            return ScalableFault.CONTEXT_PASIDE_CLEAR;
        }
        if (prefix != null && spec
                && PasidDirEntry.index(pasid) >= ScalableContextEntry.pasidDirEntries(ctxQ0)) {
            return ScalableFault.PASID_TOO_LARGE;
        }
        PasidCache.Entry cached = pasidCache.lookup(sid, pasid);
        if (cached != null) {
            pe = cached;
            fpd |= cached.dirFpd() || PasidEntry.faultProcessingDisabled(cached.q0());
            return null;
        }
        long dirAddr = PasidDirEntry.address(ScalableContextEntry.pasidDirTable(ctxQ0), pasid);
        if (memory.probe(dirAddr, PasidDirEntry.SIZE) != AddressSpace.Status.OK) {
            return ScalableFault.PASID_DIR_ACCESS;
        }
        long dir = memory.read(dirAddr, 8);
        // QEMU vtd_ce_get_pasid_fpd: the directory entry's FPD counts before its present bit.
        boolean dirFpd = PasidDirEntry.faultProcessingDisabled(dir);
        fpd |= dirFpd;
        if (!PasidDirEntry.isPresent(dir)) {
            return ScalableFault.PASID_DIR_NOT_PRESENT;
        }
        if (spec && (dir & PasidDirEntry.reserved(aw)) != 0) {
            return ScalableFault.PASID_DIR_RESERVED;
        }
        long peAddr = PasidEntry.address(PasidDirEntry.pasidTable(dir), pasid);
        if (memory.probe(peAddr, PasidEntry.SIZE) != AddressSpace.Status.OK) {
            return ScalableFault.PASID_TABLE_ACCESS;
        }
        long q0 = memory.read(peAddr, 8);
        long q1 = memory.read(peAddr + 8, 8);
        long q2 = memory.read(peAddr + 16, 8);
        if (!PasidEntry.isPresent(q0)) {
            return ScalableFault.PASID_NOT_PRESENT;
        }
        fpd |= PasidEntry.faultProcessingDisabled(q0);
        int pgtt = PasidEntry.pgtt(q0);
        boolean firstLevel = pgtt == PasidEntry.PGTT_FIRST_LEVEL || pgtt == PasidEntry.PGTT_NESTED;
        if (spec && ((q0 & PasidEntry.reservedQ0(aw)) != 0 || (q1 & PasidEntry.RESERVED_Q1) != 0
                || (firstLevel && (q2 & PasidEntry.reservedQ2(aw)) != 0))) {
            return ScalableFault.PASID_RESERVED;
        }
        if (!pgttSupported(pgtt, q0, q2)) {
            return ScalableFault.PASID_INVALID;
        }
        pe = new PasidCache.Entry(q0, q1, q2, dirFpd);
        pasidCache.put(sid, pasid, pe);
        return null;
    }

    /** vtd_pe_type_check and the level check, plus the first-level options this unit offers. */
    private boolean pgttSupported(int pgtt, long q0, long q2) {
        boolean slLevelOk = unit.secondLevelLevelsSupported(PasidEntry.secondLevelLevels(q0));
        return switch (pgtt) {
            case PasidEntry.PGTT_SECOND_LEVEL -> slLevelOk;
            // QEMU 7.2 checks AW for pass-through entries too (checked: AW 0 faults 0x58).
            case PasidEntry.PGTT_PASS_THROUGH -> config.pt() && slLevelOk;
            case PasidEntry.PGTT_FIRST_LEVEL -> config.firstLevel() && PasidEntry.firstLevelLevels(q2) > 0;
            case PasidEntry.PGTT_NESTED -> config.nested() && slLevelOk && PasidEntry.firstLevelLevels(q2) > 0;
            default -> false;
        };
    }

    // ====================================================================================
    // Fault recording (vtd_report_fault with PASID)
    // ====================================================================================

    /**
     * Records {@code f} for {@code request}. PP/PV: QEMU 7.2 sets PP = 1 and PV = the PASID
     * (RID_PASID for requests without PASID) on faults of the translation stage and leaves both 0
     * for root/context/PASID-table faults (checked against the binary); with spec codes PP, PV,
     * PRIV and EXE describe the request's PASID prefix, and are 0 without one.
     */
    DmaFault report(DmaRequest request, PasidPrefix prefix, ScalableFault f, boolean fpdSet, boolean walkStage) {
        long hiBits = 0;
        if (spec) {
            if (prefix != null) {
                hiBits = FRCD_PP | ((long) prefix.pasid() << PV_SHIFT) | (prefix.privileged() ? FRCD_PRIV : 0)
                        | (prefix.execute() ? FRCD_EXE : 0);
            }
        } else if (walkStage) {
            hiBits = FRCD_PP | ((long) pasid << PV_SHIFT);
        }
        boolean suppressed = fpdSet && f.qualified(spec);
        int code = f == ScalableFault.SL_PERMISSION ? permissionCode(request.access().isWrite()) : f.code(spec);
        return unit.recordTranslationFault(request, code, f.description(), suppressed, hiBits);
    }

    /** Second-level permission fault: 0x79 with spec codes; QEMU's 5 (write) or 6 (read). */
    private int permissionCode(boolean write) {
        return spec ? ScalableFault.SL_PERMISSION.specCode()
                : write ? FaultReason.WRITE_NOT_PERMITTED.code() : FaultReason.READ_NOT_PERMITTED.code();
    }

    // ====================================================================================
    // Invalidation
    // ====================================================================================

    @Override
    public void cachesReset() {
        contextCache.invalidateAll();
        pasidCache.clear();
        iotlb.clear();
    }

    @Override
    public void contextCacheGlobal() {
        contextCache.invalidateAll();
        pasidCache.clear();
    }

    @Override
    public void contextCacheDevice(int sid, int fm) {
        contextCache.invalidateDevice(sid, fm);
        pasidCache.invalidateDevice(sid, fm);
    }

    @Override
    public void iotlbGlobal() {
        iotlb.clear();
    }

    @Override
    public void iotlbDomain(int domainId) {
        iotlb.removeIf((s, p, did, pgtt, level, gfn) -> did == domainId);
    }

    /**
     * Page-selective IOTLB invalidation in scalable mode: second-level and pass-through entries
     * of the range, and every first-level and nested entry of the domain (QEMU
     * vtd_hash_remove_by_page drops first-level entries whatever the address; a nested entry's
     * input address is not the second-level address the descriptor names).
     */
    @Override
    public void iotlbPages(int domainId, long addr, int am) {
        iotlb.removeIf((s, p, did, pgtt, level, gfn) -> did == domainId
                && (pgtt == PasidEntry.PGTT_FIRST_LEVEL || pgtt == PasidEntry.PGTT_NESTED
                || ScalableIotlb.pageMatch(gfn, level, addr, am)));
    }

    /**
     * PASID-based IOTLB invalidation (type 6): first-level and nested entries only (VT-d
     * 6.5.2.4), for the PASID in the domain, or its pages. QEMU 7.2 accepts every type-6
     * descriptor without checking it; so does this unit (other granularities do nothing).
     */
    boolean pasidIotlbDescriptor(long lo, long hi) {
        int g = PasidInvalidationDescriptor.granularity(lo);
        int domainId = PasidInvalidationDescriptor.did(lo);
        int pasidValue = PasidInvalidationDescriptor.pasid(lo);
        if (g == PasidInvalidationDescriptor.PIOTLB_PASID) {
            iotlb.removeIf((s, p, did, pgtt, level, gfn) -> did == domainId && p == pasidValue
                    && (pgtt == PasidEntry.PGTT_FIRST_LEVEL || pgtt == PasidEntry.PGTT_NESTED));
        } else if (g == PasidInvalidationDescriptor.PIOTLB_PAGE) {
            long addr = PasidInvalidationDescriptor.addr(hi);
            int am = Math.min(PasidInvalidationDescriptor.am(hi), 63 - 12);
            iotlb.removeIf((s, p, did, pgtt, level, gfn) -> did == domainId && p == pasidValue
                    && (pgtt == PasidEntry.PGTT_FIRST_LEVEL || pgtt == PasidEntry.PGTT_NESTED)
                    && ScalableIotlb.pageMatch(gfn, level, addr, am));
        }
        return true;
    }

    /** PASID-cache invalidation (type 7); accepted whatever its fields, as QEMU 7.2 accepts it. */
    boolean pasidCacheDescriptor(long lo) {
        int domainId = PasidInvalidationDescriptor.did(lo);
        switch (PasidInvalidationDescriptor.granularity(lo)) {
            case PasidInvalidationDescriptor.PC_DOMAIN -> pasidCache.invalidateDomain(domainId);
            case PasidInvalidationDescriptor.PC_PASID ->
                    pasidCache.invalidatePasid(domainId, PasidInvalidationDescriptor.pasid(lo));
            case PasidInvalidationDescriptor.PC_GLOBAL -> pasidCache.clear();
            default -> { }
        }
        return true;
    }
}
