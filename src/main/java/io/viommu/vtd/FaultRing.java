package io.viommu.vtd;

import static io.viommu.vtd.VtdRegisters.FRCD;
import static io.viommu.vtd.VtdRegisters.FRCD_F;
import static io.viommu.vtd.VtdRegisters.FSTS;
import static io.viommu.vtd.VtdRegisters.FSTS_FRI_MASK;
import static io.viommu.vtd.VtdRegisters.FSTS_FRI_SHIFT;
import static io.viommu.vtd.VtdRegisters.FSTS_PFO;
import static io.viommu.vtd.VtdRegisters.FSTS_PPF;

/**
 * The primary fault-recording registers (VT-d 7.3.1, 10.4.14): a ring of FRCD registers, with
 * FSTS.PPF/PFO/FRI and the fault event, as QEMU 7.2's vtd_report_frcd_fault and
 * vtd_try_collapse_fault. The register front owns it and gives it to the translation core
 * and interrupt remapping as their {@link FaultRecorder}.
 */
final class FaultRing implements FaultRecorder {
    private final RegisterFile regs;
    private final int count;
    private final EventInterrupts events;
    private final VtdTrace trace;
    private int next;

    FaultRing(RegisterFile regs, int count, EventInterrupts events, VtdTrace trace) {
        this.regs = regs;
        this.count = count;
        this.events = events;
        this.trace = trace;
    }

    /** Index of the next record to write (state; QEMU restarts it at 0 when TE goes off). */
    int next() {
        return next;
    }

    void setNext(int index) {
        next = index;
    }

    private boolean pending(int i) {
        return (regs.raw64(FRCD + 16 * i + 8) & FRCD_F) != 0;
    }

    /** FSTS.PPF: whether any record is pending (after a record or a guest clearing F). */
    void updatePpf() {
        boolean any = false;
        for (int i = 0; i < count && !any; i++) {
            any = pending(i);
        }
        regs.clearSet32(FSTS, FSTS_PPF, any ? FSTS_PPF : 0);
    }

    /**
     * Records a fault unless PFO is set, a pending record from the same source already exists
     * (QEMU's compression, vtd_try_collapse_fault), or the next register is still in use (which
     * sets PFO). Records form a ring; FSTS.FRI names the first of a batch; the fault event fires
     * only when no earlier fault condition is pending.
     */
    /** Whether the recording in progress is an interrupt-remapping fault (no QEMU message). */
    private boolean quiet;

    @Override
    public boolean recordInterruptFault(int sid, long hi, long lo) {
        quiet = true;
        try {
            return record(sid, hi, lo);
        } finally {
            quiet = false;
        }
    }

    private void report(String site, String message) {
        if (!quiet) {
            trace.errorReportOnce(site, message);
        }
    }

    @Override
    public boolean record(int sid, long hi, long lo) {
        int fsts = regs.raw32(FSTS);
        if ((fsts & FSTS_PFO) != 0) {
            report("frcd:pfo", "New fault is not recorded due to Primary Fault Overflow");
            return false;
        }
        for (int i = 0; i < count; i++) {
            long h = regs.raw64(FRCD + 16 * i + 8);
            if ((h & FRCD_F) != 0 && (h & 0xffff) == sid) {
                report("frcd:collapse", "New fault is not recorded due to compression of faults");
                return false;
            }
        }
        if (pending(next)) {
            regs.clearSet32(FSTS, 0, FSTS_PFO);
            report("frcd:next",
                    "Next Fault Recording Reg is used, new fault is not recorded, set PFO field");
            return false;
        }
        int index = next;
        regs.setRaw64(FRCD + 16 * index, lo);
        regs.setRaw64(FRCD + 16 * index + 8, hi);
        if ((fsts & FSTS_PPF) == 0) {
            regs.clearSet32(FSTS, FSTS_FRI_MASK, (index << FSTS_FRI_SHIFT) & FSTS_FRI_MASK);
        }
        regs.clearSet64(FRCD + 16 * index + 8, 0, FRCD_F);
        updatePpf();
        next = index + 1 == count ? 0 : index + 1;
        if ((fsts & FSTS_PPF) == 0) {
            events.faultEvent(fsts, !quiet);
        } else {
            report("frcd:pending", "There are pending faults already, fault event is not generated");
        }
        return true;
    }
}
