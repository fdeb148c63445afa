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
 * The translation core of one unit: DMA request in, {@link Translation} or recorded
 * {@link DmaFault} out (QEMU 7.2 vtd_do_iommu_translate). It owns the caches (one
 * {@link Iotlb}, the context and PASID caches inside the {@link ContextResolver}s) and the one
 * {@link SecondLevelWalk}; the register front drives it with operations (enable, set root
 * table, invalidate) and gives it a {@link FaultRecorder}. It never sees the registers.
 *
 * <p>Legacy mode: IOTLB (keyed by source id, so a hit needs no context), else the context step
 * ({@link LegacyContextResolver}), then TT: pass-through is the identity, otherwise the second
 * level is walked, the output checked against the interrupt range and the translation cached.
 * Scalable mode: {@link ScalableModeTranslator}. Not thread-safe.
 */
final class DmaRemapping {
    private final FaultRecorder recorder;
    private final VtdTrace trace;
    private final Iotlb iotlb;
    private final SecondLevelWalk walk;
    private final LegacyContextResolver legacy;
    private final ScalableModeTranslator scalable;

    private boolean enabled;
    private boolean rootScalable;
    /** Translation on and legacy root: the condition of the IOTLB fast path. */
    private boolean legacyActive;
    private long rootTable;

    DmaRemapping(VtdConfig config, AddressSpace memory, FaultRecorder recorder, VtdTrace trace) {
        this.recorder = recorder;
        this.trace = trace;
        this.iotlb = new Iotlb(config.iotlbEntries());
        this.walk = new SecondLevelWalk(memory, config);
        this.legacy = new LegacyContextResolver(memory, config);
        this.scalable = new ScalableModeTranslator(config, memory, recorder,
                new ScalableContextResolver(memory, config), iotlb, walk);
    }

    // ====================================================================================
    // Operations from the register front
    // ====================================================================================

    /** GCMD.TE (and reset/restore): translation on or off; the caller resets the caches. */
    void setEnabled(boolean on) {
        enabled = on;
        legacyActive = enabled && !rootScalable;
    }

    /** SRTP: the root table and its mode (RTADDR.TTM = 01 with scalable mode); caller resets caches. */
    void setRootTable(long table, boolean scalableMode) {
        rootTable = table;
        rootScalable = scalableMode;
        legacy.setRootTable(table);
        scalable.resolver().setRootTable(table);
        legacyActive = enabled && !rootScalable;
    }

    void resetCaches() {
        iotlb.clear();
        legacy.invalidateAll();
        scalable.resolver().invalidateAll();
    }

    void invalidateContextAll() {
        legacy.invalidateAll();
        scalable.resolver().invalidateAll();
    }

    void invalidateContextDevice(int sid, int fm) {
        legacy.invalidateDevice(sid, fm);
        scalable.resolver().invalidateDevice(sid, fm);
    }

    void invalidateIotlbAll() {
        iotlb.clear();
    }

    void invalidateIotlbDomain(int did) {
        iotlb.invalidateDomain(did);
    }

    void invalidateIotlbPages(int did, long addr, int am) {
        iotlb.invalidatePages(did, addr, am);
    }

    boolean pasidIotlbDescriptor(long lo, long hi) {
        return scalable.pasidIotlbDescriptor(lo, hi);
    }

    boolean pasidCacheDescriptor(long lo) {
        return scalable.pasidCacheDescriptor(lo);
    }

    // ====================================================================================
    // State the helpers read
    // ====================================================================================

    boolean enabled() {
        return enabled;
    }

    boolean rootScalable() {
        return rootScalable;
    }

    long rootTable() {
        return rootTable;
    }

    FaultRecorder recorder() {
        return recorder;
    }

    SecondLevelWalk walk() {
        return walk;
    }

    Iotlb iotlb() {
        return iotlb;
    }

    LegacyContextResolver legacy() {
        return legacy;
    }

    ScalableModeTranslator scalable() {
        return scalable;
    }

    /** The resolver of the current root table's mode. */
    ContextResolver resolver() {
        return rootScalable ? scalable.resolver() : legacy;
    }

    // ====================================================================================
    // Translation
    // ====================================================================================

    TranslationResult translate(DmaRequest request) {
        try {
            long iova = request.iova().value();
            if (legacyActive && !MsiAddress.contains(iova)) {
                return translateLegacy(request, iova);
            }
            return translateOther(request, null);
        } catch (RuntimeException e) {
            return internalError(request, e);
        }
    }

    /** A request with PASID prefix ({@code prefix} null: none). */
    TranslationResult translate(DmaRequest request, PasidPrefix prefix) {
        try {
            return translateOther(request, prefix);
        } catch (RuntimeException e) {
            return internalError(request, e);
        }
    }

    private TranslationResult internalError(DmaRequest request, RuntimeException e) {
        // Never reached by guest input; a model bug must still not escape into the machine.
        trace.guestError("internal error in translate " + request + ": " + e);
        return new DmaFault(request.requester(), request.iova(), request.access(), 0,
                "internal model error: " + e, false);
    }

    private TranslationResult translateOther(DmaRequest request, PasidPrefix prefix) {
        if (!enabled || MsiAddress.contains(request.iova().value())) {
            // TE off: identity (QEMU's nodmar region). The interrupt range is QEMU's vtd-ir
            // region in both cases: a write there is an MSI, handled by the platform.
            return Translation.identity(request.iova(), 4096, true, true);
        }
        if (rootScalable) {
            return scalable.translate(request, prefix);
        }
        if (prefix != null) {
            // VT-d 7.1.3: TTM 00b and a request with PASID: blocked and recorded with 0x31.
            return recorder.dmaFault(request, 0x31, "request with PASID in legacy mode", false, 0);
        }
        return translateLegacy(request, request.iova().value());
    }

    private TranslationResult translateLegacy(DmaRequest request, long iova) {
        int sid = request.requester().value();
        boolean write = request.access().isWrite();
        Translation hit = iotlb.lookup(sid, 0, iova);
        if (hit != null) {
            if (write ? hit.writable() : hit.readable()) {
                return hit;
            }
            // QEMU returns the cached entry and the memory core fails the access without
            // recording a fault (checked against QEMU 7.2: a write through a cached read-only
            // translation leaves FRCD untouched).
            FaultReason r = write ? FaultReason.WRITE_NOT_PERMITTED : FaultReason.READ_NOT_PERMITTED;
            return new DmaFault(request.requester(), request.iova(), request.access(), r.code(),
                    r.description() + " (cached translation; not recorded, as QEMU)", false);
        }
        TranslationResult r = missLegacy(request, sid, iova, write);
        if (r instanceof DmaFault) {
            // QEMU 7.2 vtd_iommu_translate, whenever vtd_do_iommu_translate fails
            trace.errorReportOnce("iommu_translate", String.format(
                    "vtd_iommu_translate: detected translation failure (dev=%02x:%02x:%02x, iova=0x%x)",
                    request.requester().bus(), request.requester().device(), request.requester().function(), iova));
        }
        return r;
    }

    private TranslationResult missLegacy(DmaRequest request, int sid, long iova, boolean write) {
        ContextResult c = legacy.resolve(sid);
        if (!(c instanceof ContextResult.Legacy ctx)) {
            return recorder.dmaFault(request, (ContextResult.Fault) c);
        }
        if (ctx.passThrough()) {
            // Pass-through: identity, not cached in the IOTLB (QEMU switches to its nodmar region).
            return Translation.identity(request.iova(), 4096, true, true);
        }
        boolean fpd = ctx.faultProcessingDisabled();
        ScalableFault f = walk.walk(ctx.secondLevelTable(), ctx.levels(), ctx.agaw(), iova, write);
        if (f == ScalableFault.SL_PERMISSION) {
            trace.errorReportOnce("iova_to_slpte:permission", String.format("vtd_iova_to_slpte: detected slpte"
                    + " permission error (iova=0x%x, level=0x%x, slpte=0x%x, write=%d, pasid=0x%x)",
                    iova, walk.level, walk.pte, write ? 1 : 0, 0xffff_ffff)); // PCI_NO_PASID
        }
        if (f != null) {
            // QEMU's legacy codes; PV = 0xffff on walk faults although PP = 0 (QEMU 7.2).
            int code = f == ScalableFault.SL_PERMISSION
                    ? (write ? FaultReason.WRITE_NOT_PERMITTED : FaultReason.READ_NOT_PERMITTED).code()
                    : f.qemuCode();
            return legacyWalkFault(request, code, fpd);
        }
        long size = SlPte.pageSize(walk.level);
        long out = walk.outputPage();
        if (MsiAddress.overlaps(out, size)) {
            return legacyWalkFault(request, FaultReason.INTERRUPT_ADDRESS.code(), fpd);
        }
        Translation t = Translation.ofWalk(iova, out, size, walk.reads, walk.writes);
        iotlb.insertAbsent(sid, 0, ctx.domainId(), Iotlb.LEGACY, iova, walk.level, 0, t);
        return t;
    }

    private DmaFault legacyWalkFault(DmaRequest request, int code, boolean fpd) {
        FaultReason reason = FaultReason.ofCode(code);
        return recorder.dmaFault(request, code, reason.description(), fpd && reason.qualified(),
                VtdRegisters.FRCD_PV_QEMU_NO_PASID);
    }
}
