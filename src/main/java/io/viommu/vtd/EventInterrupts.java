package io.viommu.vtd;

import static io.viommu.vtd.VtdRegisters.ECTL_IM;
import static io.viommu.vtd.VtdRegisters.ECTL_IP;
import static io.viommu.vtd.VtdRegisters.FEADDR;
import static io.viommu.vtd.VtdRegisters.FECTL;
import static io.viommu.vtd.VtdRegisters.FEDATA;
import static io.viommu.vtd.VtdRegisters.FSTS_IQE;
import static io.viommu.vtd.VtdRegisters.FSTS_PFO;
import static io.viommu.vtd.VtdRegisters.FSTS_PPF;
import static io.viommu.vtd.VtdRegisters.ICS;
import static io.viommu.vtd.VtdRegisters.ICS_IWC;
import static io.viommu.vtd.VtdRegisters.IEADDR;
import static io.viommu.vtd.VtdRegisters.IECTL;
import static io.viommu.vtd.VtdRegisters.IEDATA;

import io.viommu.pci.MsiSink;
import io.viommu.pci.RequesterId;

/**
 * The unit's two event interrupts (VT-d 7.4 fault event, 6.5.2.9 invalidation completion):
 * FECTL/FEDATA/FEADDR and IECTL/IEDATA/IEADDR with their IM/IP bits, as QEMU 7.2 drives them
 * (vtd_generate_fault_event, vtd_generate_completion_event, vtd_handle_fectl_write,
 * vtd_handle_iectl_write, vtd_handle_ics_write, vtd_handle_fsts_write).
 */
final class EventInterrupts {
    private final RegisterFile regs;
    private final MsiSink msi;
    private final RequesterId source;
    private final VtdTrace trace;

    EventInterrupts(RegisterFile regs, MsiSink msi, RequesterId source, VtdTrace trace) {
        this.regs = regs;
        this.msi = msi;
        this.source = source;
        this.trace = trace;
    }

    private void send(int addrReg, int dataReg) {
        // QEMU uses only the low 32 address bits (FEUADDR/IEUADDR are read-only zero without EIM).
        msi.deliver(regs.raw32(addrReg) & 0xffffffffL, regs.raw32(dataReg), source);
    }

    /**
     * vtd_generate_fault_event: {@code preFsts} is FSTS before the new condition was set;
     * {@code report}: whether QEMU's messages for an event not sent are printed.
     */
    void faultEvent(int preFsts, boolean report) {
        if ((preFsts & (FSTS_PPF | FSTS_PFO | FSTS_IQE)) != 0) {
            // an earlier condition is still pending: no new event
            if (report) {
                trace.errorReportOnce("fault_event:previous", "There are previous interrupt conditions to be serviced by"
                        + " software, fault event is not generated");
            }
            return;
        }
        regs.clearSet32(FECTL, 0, ECTL_IP);
        if ((regs.raw32(FECTL) & ECTL_IM) == 0) {
            send(FEADDR, FEDATA);
            regs.clearSet32(FECTL, ECTL_IP, 0);
        } else if (report) {
            trace.errorReportOnce("fault_event:masked", "Interrupt Mask set, irq is not generated");
        }
    }

    /** vtd_generate_completion_event. */
    void completionEvent() {
        if ((regs.raw32(ICS) & ICS_IWC) != 0) {
            return; // one pending already
        }
        regs.clearSet32(ICS, 0, ICS_IWC);
        regs.clearSet32(IECTL, 0, ECTL_IP);
        if ((regs.raw32(IECTL) & ECTL_IM) == 0) {
            send(IEADDR, IEDATA);
            regs.clearSet32(IECTL, ECTL_IP, 0);
        }
    }

    /** After a guest write to FSTS: IP clears once no fault condition is left. */
    void fstsWritten(int fsts) {
        if ((regs.raw32(FECTL) & ECTL_IP) != 0 && (fsts & (FSTS_PFO | FSTS_PPF | FSTS_IQE)) == 0) {
            regs.clearSet32(FECTL, ECTL_IP, 0);
        }
    }

    /** After a guest write to FECTL: unmasking delivers a pending fault event. */
    void fectlWritten() {
        int fectl = regs.raw32(FECTL);
        if ((fectl & ECTL_IP) != 0 && (fectl & ECTL_IM) == 0) {
            send(FEADDR, FEDATA);
            regs.clearSet32(FECTL, ECTL_IP, 0);
        }
    }

    /** After a guest write to ICS: clearing IWC clears IECTL.IP. */
    void icsWritten() {
        if ((regs.raw32(IECTL) & ECTL_IP) != 0 && (regs.raw32(ICS) & ICS_IWC) == 0) {
            regs.clearSet32(IECTL, ECTL_IP, 0);
        }
    }

    /** After a guest write to IECTL: unmasking delivers a pending completion event. */
    void iectlWritten() {
        int iectl = regs.raw32(IECTL);
        if ((iectl & ECTL_IP) != 0 && (iectl & ECTL_IM) == 0) {
            send(IEADDR, IEDATA);
            regs.clearSet32(IECTL, ECTL_IP, 0);
        }
    }
}
