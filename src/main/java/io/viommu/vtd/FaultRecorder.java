package io.viommu.vtd;

import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRequest;

/**
 * Where the translation core and interrupt remapping put the faults they find. The register
 * front implements it with the FRCD ring ({@link FaultRing}); the translation code never
 * sees the registers.
 */
@FunctionalInterface
interface FaultRecorder {
    /**
     * Records one fault record for source {@code sid} (FRCD high and low quads without F).
     *
     * @return whether a record was written (PFO, compression or a full ring suppress it)
     */
    boolean record(int sid, long hi, long lo);

    /**
     * An interrupt-remapping fault: recorded as {@link #record} does, but silently (QEMU 7.2
     * records none, so none of its fault-recording messages may appear for one).
     */
    default boolean recordInterruptFault(int sid, long hi, long lo) {
        return record(sid, hi, lo);
    }

    /**
     * The fault of a DMA request: records FRCD high = SID | FR | {@code hiBits} (PV, PP, PRIV,
     * EXE) | T (read) and low = the page of the IOVA, unless {@code suppressed} (FPD on a
     * qualified fault), and returns what the requester is told.
     */
    default DmaFault dmaFault(DmaRequest request, int code, String description, boolean suppressed, long hiBits) {
        boolean recorded = false;
        if (!suppressed) {
            int sid = request.requester().value();
            long hi = sid | ((long) code << VtdRegisters.FRCD_FR_SHIFT) | hiBits
                    | (request.access().isWrite() ? 0 : VtdRegisters.FRCD_T);
            recorded = record(sid, hi, request.iova().value() & ~0xfffL);
        }
        return new DmaFault(request.requester(), request.iova(), request.access(), code,
                description + (suppressed ? " (FPD: not recorded)" : ""), recorded);
    }

    /** A context-stage fault: recorded with PV = 0 (QEMU 7.2), unless FPD suppresses it. */
    default DmaFault dmaFault(DmaRequest request, ContextResult.Fault f) {
        return dmaFault(request, f.code(), f.description(), f.suppressed(), 0);
    }
}
