package io.viommu.vtd;

import static io.viommu.vtd.VtdRegisters.*;

/**
 * Register-based invalidation (VT-d 6.5.1): CCMD for the context cache, IOTLB/IVA for the
 * IOTLB, as QEMU 7.2's vtd_handle_ccmd_write and vtd_handle_iotlb_write: the granularity
 * actually performed is reported in CAIG/IAIG and ICC/IVT clear when done. Ignored while
 * queued invalidation is on (ICC/IVT stay set, as QEMU).
 */
final class RegisterInvalidation {
    private final RegisterFile regs;
    private final InvalidationQueue queue;
    private final InvalidationQueue.Target target;
    private final VtdTrace trace;

    RegisterInvalidation(RegisterFile regs, InvalidationQueue queue, InvalidationQueue.Target target, VtdTrace trace) {
        this.regs = regs;
        this.queue = queue;
        this.target = target;
        this.trace = trace;
    }

    void ccmdWritten() {
        long val = regs.raw64(CCMD);
        if ((val & CCMD_ICC) == 0) {
            return;
        }
        if (queue.enabled()) {
            // ICC stays set: QEMU ignores register-based invalidation while QI is enabled.
            trace.guestError("register-based context invalidation while queued invalidation is enabled");
            return;
        }
        long caig;
        long cirg = val & CCMD_CIRG_MASK;
        if (cirg == CCMD_CIRG_GLOBAL || cirg == CCMD_CIRG_DOMAIN) {
            // QEMU performs (and reports) a domain-selective request as global.
            target.contextGlobal();
            caig = CCMD_CAIG_GLOBAL;
        } else if (cirg == CCMD_CIRG_DEVICE) {
            target.contextDevice(ccmdSid(val), ccmdFm(val));
            caig = CCMD_CAIG_DEVICE;
        } else {
            trace.guestError("CCMD with CIRG=0");
            caig = 0;
        }
        regs.clearSet64(CCMD, CCMD_ICC, 0);
        regs.clearSet64(CCMD, CCMD_CAIG_MASK, caig);
    }

    void iotlbWritten() {
        long val = regs.raw64(IOTLB);
        if ((val & IOTLB_IVT) == 0) {
            return;
        }
        if (queue.enabled()) {
            trace.guestError("register-based IOTLB invalidation while queued invalidation is enabled");
            return;
        }
        long iaig;
        long iirg = val & IOTLB_IIRG_MASK;
        if (iirg == IOTLB_IIRG_GLOBAL) {
            target.iotlbGlobal();
            iaig = IOTLB_IAIG_GLOBAL;
        } else if (iirg == IOTLB_IIRG_DOMAIN) {
            target.iotlbDomain(iotlbDid(val));
            iaig = IOTLB_IAIG_DOMAIN;
        } else if (iirg == IOTLB_IIRG_PAGE) {
            long iva = regs.raw64(IVA);
            int am = ivaAm(iva);
            if (am > VtdConfig.MAMV) {
                trace.guestError("IVA.AM " + am + " above MAMV");
                iaig = 0;
            } else {
                target.iotlbPages(iotlbDid(val), ivaAddr(iva), am);
                iaig = IOTLB_IAIG_PAGE;
            }
        } else {
            trace.guestError("IOTLB invalidation with IIRG=0");
            iaig = 0;
        }
        regs.clearSet64(IOTLB, IOTLB_IVT, 0);
        regs.clearSet64(IOTLB, IOTLB_IAIG_MASK, iaig);
    }
}
