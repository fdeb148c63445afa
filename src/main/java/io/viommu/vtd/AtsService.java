package io.viommu.vtd;

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
    private final DmaRemapping core;
    private final VtdConfig config;
    private final Map<Integer, DeviceTlb> endpoints = new HashMap<>();

    AtsService(DmaRemapping core, VtdConfig config) {
        this.core = core;
        this.config = config;
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
        if (!core.enabled()) {
            return AtsCompletion.unsupported(iova, 0);
        }
        DmaRequest asDma = new DmaRequest(requester, iova, 1, noWrite ? DmaAccess.READ : DmaAccess.WRITE);
        return core.rootScalable() ? scalableRequest(asDma, prefix, !noWrite)
                : legacyRequest(asDma, prefix, !noWrite);
    }

    private AtsCompletion legacyRequest(DmaRequest r, PasidPrefix prefix, boolean write) {
        FaultRecorder recorder = core.recorder();
        if (prefix != null) {
            DmaFault f = recorder.dmaFault(r, 0x31, "translation request with PASID in legacy mode", false, 0);
            return AtsCompletion.unsupported(r.iova(), f.reason());
        }
        ContextResult c = core.legacy().resolve(r.requester().value());
        if (!(c instanceof ContextResult.Legacy ctx)) {
            DmaFault f = recorder.dmaFault(r, (ContextResult.Fault) c);
            return AtsCompletion.unsupported(r.iova(), f.reason());
        }
        int tt = ctx.translationType();
        if (tt == ContextEntry.TT_PASS_THROUGH) {
            return AtsCompletion.success(new Iova(r.iova().value() & ~0xfffL), new PhysAddr(r.iova().value() & ~0xfffL),
                    4096, true, true);
        }
        if (tt != ContextEntry.TT_DEV_IOTLB) {
            FaultReason reason = FaultReason.CONTEXT_ENTRY_TT;
            DmaFault f = recorder.dmaFault(r, reason.code(), reason.description(), ctx.faultProcessingDisabled(), 0);
            return AtsCompletion.unsupported(r.iova(), f.reason());
        }
        long iova = r.iova().value();
        SecondLevelWalk walk = core.walk();
        ScalableFault f = walk.walk(ctx.secondLevelTable(), ctx.levels(), ctx.agaw(), iova, write);
        if (f == ScalableFault.SL_PERMISSION && write) {
            f = walk.walk(ctx.secondLevelTable(), ctx.levels(), ctx.agaw(), iova, false);
        }
        if (f == ScalableFault.SL_PERMISSION) {
            return AtsCompletion.noAccess(r.iova());
        }
        if (f != null) {
            DmaFault d = recorder.dmaFault(r, f.qemuCode(), f.description(),
                    ctx.faultProcessingDisabled() && f.qualified(false), VtdRegisters.FRCD_PV_QEMU_NO_PASID);
            return AtsCompletion.unsupported(r.iova(), d.reason());
        }
        long size = SlPte.pageSize(walk.level);
        return AtsCompletion.success(new Iova(iova & -size), new PhysAddr(walk.outputPage()), size, walk.reads,
                walk.writes);
    }

    private AtsCompletion scalableRequest(DmaRequest r, PasidPrefix prefix, boolean write) {
        ScalableModeTranslator sm = core.scalable();
        int sid = r.requester().value();
        ContextResult c = sm.resolver().resolve(sid);
        if (!(c instanceof ContextResult.Scalable ctx)) {
            ContextResult.Fault f = (ContextResult.Fault) c;
            // Root and context faults of translation requests are recorded whatever FPD says.
            return unsupported(sm.report(r, prefix, new ContextResult.Fault(f.code(), f.description(),
                    f.qualified(), false)));
        }
        if (!config.deviceIotlb() || !ctx.deviceTlbEnabled()) {
            return unsupported(sm.report(r, prefix, ContextResult.Fault.scalable(ScalableFault.CONTEXT_DTE_CLEAR,
                    config.smSpecFaults(), ctx.faultProcessingDisabled())));
        }
        int pasid = ScalableModeTranslator.pasidOf(ctx, prefix);
        boolean user = ScalableModeTranslator.userOf(ctx, prefix);
        boolean exec = prefix != null && prefix.execute();
        ContextResult p = sm.resolver().resolvePasid(ctx, sid, pasid, prefix != null);
        if (!(p instanceof ContextResult.Pasid pe)) {
            return unsupported(sm.report(r, prefix, (ContextResult.Fault) p));
        }
        long iova = r.iova().value();
        ScalableFault f = sm.walk(pe, iova, write, user, exec);
        if (f != null && write && isNoAccess(f)) {
            f = sm.walk(pe, iova, false, user, exec);
        }
        if (f != null) {
            return isNoAccess(f) ? AtsCompletion.noAccess(r.iova())
                    : unsupported(sm.reportWalk(r, prefix, pasid, f, pe.faultProcessingDisabled(ctx)));
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

    private static AtsCompletion unsupported(DmaFault d) {
        return AtsCompletion.unsupported(d.iova(), d.reason());
    }

    // ====================================================================================
    // Translated requests
    // ====================================================================================

    @Override
    public TranslationResult translatedRequest(DmaRequest request) {
        try {
            if (!core.enabled()) {
                return Translation.identity(request.iova(), 4096, true, true);
            }
            int sid = request.requester().value();
            FaultRecorder recorder = core.recorder();
            if (core.rootScalable()) {
                ScalableModeTranslator sm = core.scalable();
                ContextResult c = sm.resolver().resolve(sid);
                if (c instanceof ContextResult.Scalable ctx
                        && !(config.deviceIotlb() && ctx.deviceTlbEnabled())) {
                    c = ContextResult.Fault.scalable(ScalableFault.CONTEXT_DTE_CLEAR, config.smSpecFaults(), false);
                }
                if (c instanceof ContextResult.Fault f) {
                    // FPD is not applied to translated requests.
                    return sm.report(request, null, new ContextResult.Fault(f.code(), f.description(),
                            f.qualified(), false));
                }
            } else {
                ContextResult c = core.legacy().resolve(sid);
                if (c instanceof ContextResult.Fault f) {
                    return recorder.dmaFault(request, f.code(), f.description(), false, 0);
                }
                if (((ContextResult.Legacy) c).translationType() != ContextEntry.TT_DEV_IOTLB) {
                    FaultReason reason = FaultReason.CONTEXT_ENTRY_TT;
                    return recorder.dmaFault(request, reason.code(), "translated request blocked by context TT", false, 0);
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
    public void deviceTlb(RequesterId sid, Iova addr, long size) {
        DeviceTlb tlb = endpoints.get(sid.value());
        if (tlb != null) {
            tlb.invalidate(DeviceTlb.NO_PASID, false, addr.value(), size);
        }
    }

    /** Type 8: PASID-based device-TLB invalidation. */
    boolean pasidDeviceTlbDescriptor(long lo, long hi) {
        if (!(config.scalableMode() && config.deviceIotlb())) {
            return false; // unknown descriptor type for QEMU 7.2: IQE
        }
        PasidInvalidationDescriptor.DeviceTlbRange range = PasidInvalidationDescriptor.devTlbRange(PasidInvalidationDescriptor.addr(hi),
                PasidInvalidationDescriptor.devTlbSizeBit(hi));
        DeviceTlb tlb = endpoints.get(PasidInvalidationDescriptor.devTlbSid(lo));
        if (tlb != null) {
            tlb.invalidate(PasidInvalidationDescriptor.pasid(lo), PasidInvalidationDescriptor.devTlbGlobal(hi),
                    range.start().value(), range.size());
        }
        return true;
    }
}
