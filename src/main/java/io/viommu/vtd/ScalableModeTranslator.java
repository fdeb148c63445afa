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
 * DMA remapping when RTADDR.TTM = 01 (scalable mode, VT-d 3.4.3 and chapter 9): the context
 * step ({@link ScalableContextResolver}: scalable root entry -> 256-bit context entry, then the
 * PASID directory -> PASID entry), then by the entry's PGTT a first-level, second-level, nested
 * or pass-through translation. Requests without a PASID prefix use the context entry's RID_PASID
 * (QEMU 7.2 vtd_ce_get_rid2pasid_entry, checked: RID_PASID 5 selects PASID-table entry 5) and its
 * RID_PRIV for their privilege (0 = user, as a PCIe request without PASID prefix has no
 * Privileged Mode Requested).
 *
 * <p>Where QEMU 7.2's x-scalable-mode supports a path (second level, pass-through, the root,
 * context and PASID-table checks), the order of checks, the recorded codes and FRCD's PP/PV
 * follow QEMU unless {@link VtdConfig#smSpecFaults()} asks for the specification's codes; see
 * {@link ScalableFault}. First-level and nested translation exist only with the
 * {@code x-flts}/{@code x-nest} extensions, which advertise them in ECAP (QEMU 7.2 advertises
 * neither and walks the second-level table of such entries; here an entry whose PGTT the unit
 * does not advertise is an invalid PASID entry).
 *
 * <p>Uses the unit's one {@link Iotlb}, {@link SecondLevelWalk} and {@link FirstLevelWalk};
 * faults go to the {@link FaultRecorder} it is given. Not thread-safe.
 */
final class ScalableModeTranslator {
    private static final long FRCD_PP = 1L << 31;
    private static final long FRCD_EXE = 1L << 30;
    private static final long FRCD_PRIV = 1L << 29;
    private static final int PV_SHIFT = 40;

    private final FaultRecorder recorder;
    private final boolean spec;
    private final ScalableContextResolver resolver;
    private final Iotlb iotlb;
    private final SecondLevelWalk slWalk;
    private final FirstLevelWalk flWalk;

    // ---- results of walk() (no allocation on the walk path) ----
    long outPage;
    long outSize;
    boolean outRead;
    boolean outWrite;
    int outFlags;

    ScalableModeTranslator(VtdConfig config, AddressSpace memory, FaultRecorder recorder,
                           ScalableContextResolver resolver, Iotlb iotlb, SecondLevelWalk slWalk) {
        this.recorder = recorder;
        this.spec = config.smSpecFaults();
        this.resolver = resolver;
        this.iotlb = iotlb;
        this.slWalk = slWalk;
        this.flWalk = new FirstLevelWalk(memory, config.awBits(), config.firstLevel(), slWalk);
    }

    ScalableContextResolver resolver() {
        return resolver;
    }

    /** The PASID a request uses: its prefix's, else the context entry's RID_PASID. */
    static int pasidOf(ContextResult.Scalable ctx, PasidPrefix prefix) {
        return prefix == null ? ctx.ridPasid() : prefix.pasid();
    }

    /** Whether a request is a user-mode one: the prefix's PR, else RID_PRIV. */
    static boolean userOf(ContextResult.Scalable ctx, PasidPrefix prefix) {
        return prefix == null ? !ctx.ridPrivileged() : !prefix.privileged();
    }

    // ====================================================================================
    // Untranslated requests
    // ====================================================================================

    /** Translates one untranslated request (AT = 00b); faults go to the recorder. */
    TranslationResult translate(DmaRequest request, PasidPrefix prefix) {
        int sid = request.requester().value();
        boolean write = request.access().isWrite();
        long iova = request.iova().value();
        ContextResult c = resolver.resolve(sid);
        if (!(c instanceof ContextResult.Scalable ctx)) {
            return report(request, prefix, (ContextResult.Fault) c);
        }
        int pasid = pasidOf(ctx, prefix);
        boolean user = userOf(ctx, prefix);
        boolean exec = prefix != null && prefix.execute();
        int hit = iotlb.index(sid, pasid, iova);
        if (hit >= 0) {
            Translation t = iotlb.translation(hit);
            int flags = iotlb.flags(hit);
            boolean rightsOk = (!user || (flags & Iotlb.USER_OK) != 0) && (!exec || (flags & Iotlb.EXEC_OK) != 0);
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
        ContextResult p = resolver.resolvePasid(ctx, sid, pasid, prefix != null);
        if (!(p instanceof ContextResult.Pasid pe)) {
            return report(request, prefix, (ContextResult.Fault) p);
        }
        boolean fpd = pe.faultProcessingDisabled(ctx);
        int pgtt = pe.pgtt();
        if (pgtt == PasidEntry.PGTT_PASS_THROUGH) {
            // QEMU switches the device to its nodmar region: identity, never cached.
            return Translation.identity(request.iova(), 4096, true, true);
        }
        ScalableFault f = walk(pe, iova, write, user, exec);
        if (f == null && MsiAddress.overlaps(outPage, outSize)) {
            f = ScalableFault.INTERRUPT_ADDRESS;
        }
        if (f != null) {
            return reportWalk(request, prefix, pasid, f, fpd);
        }
        Translation t = Translation.ofWalk(iova, outPage, outSize, outRead, outWrite);
        int level = (Long.numberOfTrailingZeros(outSize) - 12) / 9 + 1;
        iotlb.insert(sid, pasid, pe.domainId(), pgtt, iova, level, outFlags, t);
        return t;
    }

    /**
     * The translation stage for a resolved PASID entry: fills out* or returns the fault.
     * Records nothing (ATS translation requests use it too).
     */
    ScalableFault walk(ContextResult.Pasid pe, long iova, boolean write, boolean user, boolean exec) {
        int pgtt = pe.pgtt();
        switch (pgtt) {
            case PasidEntry.PGTT_SECOND_LEVEL -> {
                long q0 = pe.q0();
                ScalableFault f = slWalk.walk(PasidEntry.secondLevelTable(q0), PasidEntry.secondLevelLevels(q0),
                        PasidEntry.secondLevelAgaw(q0), iova, write);
                if (f != null) {
                    return f;
                }
                outSize = SlPte.pageSize(slWalk.level);
                outPage = slWalk.outputPage();
                outRead = slWalk.reads;
                outWrite = slWalk.writes;
                outFlags = Iotlb.USER_OK | Iotlb.EXEC_OK;
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
                outFlags = (flWalk.userOk ? Iotlb.USER_OK : 0) | (flWalk.execOk ? Iotlb.EXEC_OK : 0);
                return null;
            }
            default -> {
                // Pass-through: identity.
                outPage = iova & ~0xfffL;
                outSize = 4096;
                outRead = true;
                outWrite = true;
                outFlags = Iotlb.USER_OK | Iotlb.EXEC_OK;
                return null;
            }
        }
    }

    // ====================================================================================
    // Fault recording (vtd_report_fault with PASID)
    // ====================================================================================

    /**
     * PP/PV and friends of a scalable-mode fault record. QEMU 7.2 sets PP = 1 and PV = the
     * PASID (RID_PASID for requests without PASID) on faults of the translation stage and leaves
     * both 0 for root/context/PASID-table faults (checked against the binary); with spec codes
     * PP, PV, PRIV and EXE describe the request's PASID prefix, and are 0 without one.
     */
    private long hiBits(PasidPrefix prefix, int walkPasid) {
        if (spec) {
            return prefix == null ? 0 : FRCD_PP | ((long) prefix.pasid() << PV_SHIFT)
                    | (prefix.privileged() ? FRCD_PRIV : 0) | (prefix.execute() ? FRCD_EXE : 0);
        }
        return walkPasid < 0 ? 0 : FRCD_PP | ((long) walkPasid << PV_SHIFT);
    }

    /** Records a fault of the context or PASID step. */
    DmaFault report(DmaRequest request, PasidPrefix prefix, ContextResult.Fault f) {
        return recorder.dmaFault(request, f.code(), f.description(), f.suppressed(), hiBits(prefix, -1));
    }

    /** Records a fault of the translation stage (walk) for {@code pasid}. */
    DmaFault reportWalk(DmaRequest request, PasidPrefix prefix, int pasid, ScalableFault f, boolean fpd) {
        boolean suppressed = fpd && f.qualified(spec);
        int code = f == ScalableFault.SL_PERMISSION ? permissionCode(request.access().isWrite()) : f.code(spec);
        return recorder.dmaFault(request, code, f.description(), suppressed, hiBits(prefix, pasid));
    }

    /** Second-level permission fault: 0x79 with spec codes; QEMU's 5 (write) or 6 (read). */
    private int permissionCode(boolean write) {
        return spec ? ScalableFault.SL_PERMISSION.specCode()
                : write ? FaultReason.WRITE_NOT_PERMITTED.code() : FaultReason.READ_NOT_PERMITTED.code();
    }

    // ====================================================================================
    // PASID-based invalidation descriptors
    // ====================================================================================

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
            iotlb.invalidatePasid(domainId, pasidValue);
        } else if (g == PasidInvalidationDescriptor.PIOTLB_PAGE) {
            long addr = PasidInvalidationDescriptor.addr(hi);
            int am = Math.min(PasidInvalidationDescriptor.am(hi), 63 - 12);
            iotlb.invalidatePasidPages(domainId, pasidValue, addr, am);
        }
        return true;
    }

    /** PASID-cache invalidation (type 7); accepted whatever its fields, as QEMU 7.2 accepts it. */
    boolean pasidCacheDescriptor(long lo) {
        int domainId = PasidInvalidationDescriptor.did(lo);
        switch (PasidInvalidationDescriptor.granularity(lo)) {
            case PasidInvalidationDescriptor.PC_DOMAIN -> resolver.invalidatePasidDomain(domainId);
            case PasidInvalidationDescriptor.PC_PASID ->
                    resolver.invalidatePasid(domainId, PasidInvalidationDescriptor.pasid(lo));
            case PasidInvalidationDescriptor.PC_GLOBAL -> resolver.invalidatePasidAll();
            default -> { }
        }
        return true;
    }
}
