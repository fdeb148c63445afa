package io.viommu.vtd;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.AtsCompletion;
import io.viommu.pci.AtsTranslationAgent;
import io.viommu.pci.DeviceTlb;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.PasidPrefix;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import java.util.HashMap;
import java.util.Map;

/**
 * The unit's side of PCIe ATS (VT-d 4.2 "Device-TLB", 6.5.2.5/6.5.2.6 device-TLB invalidation):
 * answers Translation Requests, checks translated requests, and delivers device-TLB
 * invalidations to the {@link DeviceTlb} of the function they name.
 *
 * <p>Translation requests. Legacy mode: the context entry must have TT = 01b (allowed only
 * with ECAP.DT; without it QEMU's check makes TT = 01b an invalid context entry, fault 3);
 * TT = 00b answers Unsupported Request and records 0xD; TT = 10b (pass-through) answers the
 * identity. Scalable mode: the context entry's DTE must be set (else UR and 0x44), then the
 * PASID entry decides as for untranslated requests. Root, context and PASID-structure faults
 * answer UR and are recorded as for DMA; a walk that finds no mapping or no permission answers
 * Success with R = W = 0 and records nothing (VT-d 4.2.3: the device may then use page
 * requests); other walk faults (reserved bits, unreadable tables) answer UR and are recorded.
 * A completion covers the page size the walk found (4 KiB, 2 MiB, 1 GiB; see
 * {@link AtsCompletion#encode}). With translation disabled (TE = 0) translation requests answer
 * UR.
 *
 * <p>Translated requests: legacy mode needs TT = 01b (else 0xD recorded), scalable mode DTE = 1
 * (else 0x44 recorded); the host address then goes to memory unchanged, without a walk.
 *
 * <p>Invalidation: device-TLB descriptors (type 3, any mode, as QEMU 7.2 accepts them) reach
 * the function registered for their SID. PASID-based device-TLB descriptors (type 8) are an
 * invalid descriptor (IQE) in QEMU 7.2; here they are processed when the unit has both scalable
 * mode and device-IOTLB, and are an IQE otherwise.
 */
public final class AtsService implements AtsTranslationAgent, InvalidationListener {
    private final IntelIommu unit;
    private final VtdConfig config;
    private final SecondLevelWalk legacyWalk;
    private final Map<Integer, DeviceTlb> endpoints = new HashMap<>();
    private final long[] ctx = new long[3];

    AtsService(IntelIommu unit, VtdConfig config, AddressSpace memory) {
        this.unit = unit;
        this.config = config;
        this.legacyWalk = new SecondLevelWalk(memory, config.awBits(),
                config.scalableMode() || config.snoopControl(), config.deviceIotlb());
    }

    /** Registers the device-TLB of the function at {@code requester} for invalidations. */
    public void attach(RequesterId requester, DeviceTlb tlb) {
        endpoints.put(requester.value(), tlb);
    }

    public void detach(RequesterId requester) {
        endpoints.remove(requester.value());
    }

    // ====================================================================================
    // Translation requests
    // ====================================================================================

    @Override
    public AtsCompletion translationRequest(RequesterId requester, PasidPrefix prefix, Iova iova, boolean noWrite) {
        try {
            return doTranslationRequest(requester, prefix, iova, noWrite);
        } catch (RuntimeException e) {
            return AtsCompletion.unsupported(iova, 0);
        }
    }

    private AtsCompletion doTranslationRequest(RequesterId requester, PasidPrefix prefix, Iova iova,
                                               boolean noWrite) {
        if (!unit.translationActive()) {
            return AtsCompletion.unsupported(iova, 0);
        }
        DmaRequest asDma = new DmaRequest(requester, iova, 1, noWrite ? DmaAccess.READ : DmaAccess.WRITE);
        return unit.rootTableScalable() ? scalableRequest(asDma, prefix, !noWrite)
                : legacyRequest(asDma, prefix, !noWrite);
    }

    private AtsCompletion legacyRequest(DmaRequest r, PasidPrefix prefix, boolean write) {
        if (prefix != null) {
            DmaFault f = unit.recordTranslationFault(r, 0x31, "translation request with PASID in legacy mode",
                    false, 0);
            return AtsCompletion.unsupported(r.iova(), f.reason());
        }
        int sid = r.requester().value();
        int fr = unit.legacyContext(sid, ctx);
        if (fr != 0) {
            boolean fpd = ctx[2] != 0 && FaultReason.ofCode(fr).qualified();
            DmaFault f = unit.recordTranslationFault(r, fr, FaultReason.ofCode(fr).description(), fpd, 0);
            return AtsCompletion.unsupported(r.iova(), f.reason());
        }
        long lo = ctx[0];
        long hi = ctx[1];
        int tt = ContextEntry.translationType(lo);
        if (tt == ContextEntry.TT_PASS_THROUGH) {
            return AtsCompletion.success(new Iova(r.iova().value() & ~0xfffL), new PhysAddr(r.iova().value() & ~0xfffL),
                    4096, true, true);
        }
        if (tt != ContextEntry.TT_DEV_IOTLB) {
            FaultReason reason = FaultReason.CONTEXT_ENTRY_TT;
            DmaFault f = unit.recordTranslationFault(r, reason.code(), reason.description(),
                    ContextEntry.faultProcessingDisabled(lo), 0);
            return AtsCompletion.unsupported(r.iova(), f.reason());
        }
        long iova = r.iova().value();
        ScalableFault f = legacyWalk.walk(ContextEntry.secondLevelTable(lo), ContextEntry.levels(hi),
                ContextEntry.agaw(hi), iova, write);
        if (f == ScalableFault.SL_PERMISSION && write) {
            f = legacyWalk.walk(ContextEntry.secondLevelTable(lo), ContextEntry.levels(hi),
                    ContextEntry.agaw(hi), iova, false);
        }
        if (f == ScalableFault.SL_PERMISSION) {
            return AtsCompletion.noAccess(r.iova());
        }
        if (f != null) {
            DmaFault d = unit.recordTranslationFault(r, f.qemuCode(), f.description(),
                    ContextEntry.faultProcessingDisabled(lo) && f.qualified(false), 0xffffL << 40);
            return AtsCompletion.unsupported(r.iova(), d.reason());
        }
        long size = SlPte.pageSize(legacyWalk.level);
        long out = SlPte.outputAddress(legacyWalk.pte, config.awBits()) & -size;
        return AtsCompletion.success(new Iova(iova & -size), new PhysAddr(out), size, legacyWalk.reads,
                legacyWalk.writes);
    }

    private AtsCompletion scalableRequest(DmaRequest r, PasidPrefix prefix, boolean write) {
        ScalableModeTranslator sm = unit.scalableMode();
        int sid = r.requester().value();
        ScalableFault f = sm.resolveContext(sid, unit.rootTableAddress());
        if (f != null) {
            return unsupported(sm, r, prefix, f, false, false);
        }
        if (!config.deviceIotlb() || !ScalableContextEntry.deviceTlbEnabled(sm.ctxQ0)) {
            return unsupported(sm, r, prefix, ScalableFault.CONTEXT_DTE_CLEAR,
                    ScalableContextEntry.faultProcessingDisabled(sm.ctxQ0), false);
        }
        sm.selectPasid(prefix);
        f = sm.resolvePasid(sid, prefix);
        if (f != null) {
            return unsupported(sm, r, prefix, f, sm.fpd, false);
        }
        int pgtt = PasidEntry.pgtt(sm.pe.q0());
        long iova = r.iova().value();
        f = sm.walk(pgtt, iova, write);
        if (f != null && write && isNoAccess(f)) {
            f = sm.walk(pgtt, iova, false);
        }
        if (f != null) {
            return isNoAccess(f) ? AtsCompletion.noAccess(r.iova()) : unsupported(sm, r, prefix, f, sm.fpd, true);
        }
        return AtsCompletion.success(new Iova(iova & -sm.outSize), new PhysAddr(sm.outPage), sm.outSize,
                sm.outRead, sm.outWrite);
    }

    /** Walk outcomes that a translation request answers with R = W = 0 rather than UR. */
    private static boolean isNoAccess(ScalableFault f) {
        return switch (f) {
            case SL_PERMISSION, FL_NOT_PRESENT, FL_WRITE, USER_SUPERVISOR, NO_EXECUTE -> true;
            default -> false;
        };
    }

    private static AtsCompletion unsupported(ScalableModeTranslator sm, DmaRequest r, PasidPrefix prefix,
                                             ScalableFault f, boolean fpd, boolean walkStage) {
        DmaFault d = sm.report(r, prefix, f, fpd, walkStage);
        return AtsCompletion.unsupported(r.iova(), d.reason());
    }

    // ====================================================================================
    // Translated requests
    // ====================================================================================

    @Override
    public TranslationResult translatedRequest(DmaRequest request) {
        try {
            if (!unit.translationActive()) {
                return Translation.identity(request.iova(), 4096, true, true);
            }
            int sid = request.requester().value();
            if (unit.rootTableScalable()) {
                ScalableModeTranslator sm = unit.scalableMode();
                ScalableFault f = sm.resolveContext(sid, unit.rootTableAddress());
                if (f == null && !(config.deviceIotlb() && ScalableContextEntry.deviceTlbEnabled(sm.ctxQ0))) {
                    f = ScalableFault.CONTEXT_DTE_CLEAR;
                }
                if (f != null) {
                    return sm.report(request, null, f, false, false);
                }
            } else {
                int fr = unit.legacyContext(sid, ctx);
                if (fr != 0) {
                    return unit.recordTranslationFault(request, fr, FaultReason.ofCode(fr).description(), false, 0);
                }
                if (ContextEntry.translationType(ctx[0]) != ContextEntry.TT_DEV_IOTLB) {
                    FaultReason reason = FaultReason.CONTEXT_ENTRY_TT;
                    return unit.recordTranslationFault(request, reason.code(),
                            "translated request blocked by context TT", false, 0);
                }
            }
            return Translation.identity(request.iova(), 4096, true, true);
        } catch (RuntimeException e) {
            return new DmaFault(request.requester(), request.iova(), request.access(), 0,
                    "internal model error: " + e, false);
        }
    }

    // ====================================================================================
    // Device-TLB invalidation
    // ====================================================================================

    /** Type 3 (through the unit's invalidation hook): requests without PASID of {@code sid}. */
    @Override
    public void deviceTlb(int sid, long addr, long size) {
        DeviceTlb tlb = endpoints.get(sid);
        if (tlb != null) {
            tlb.invalidate(DeviceTlb.NO_PASID, false, addr, size);
        }
    }

    /** Type 8: PASID-based device-TLB invalidation. */
    boolean pasidDeviceTlbDescriptor(long lo, long hi) {
        if (!(config.scalableMode() && config.deviceIotlb())) {
            return false; // unknown descriptor type for QEMU 7.2: IQE
        }
        long[] range = PasidInvalidationDescriptor.devTlbRange(PasidInvalidationDescriptor.addr(hi),
                PasidInvalidationDescriptor.devTlbSizeBit(hi));
        DeviceTlb tlb = endpoints.get(PasidInvalidationDescriptor.devTlbSid(lo));
        if (tlb != null) {
            tlb.invalidate(PasidInvalidationDescriptor.pasid(lo), PasidInvalidationDescriptor.devTlbGlobal(hi),
                    range[0], range[1]);
        }
        return true;
    }
}
