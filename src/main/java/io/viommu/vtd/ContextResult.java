package io.viommu.vtd;

/**
 * What the context step of DMA remapping found for a requester: a resolved context or a fault
 * with its reason. Legacy mode resolves root -> context entry ({@link Legacy}); scalable mode
 * resolves root -> context entry ({@link Scalable}) and then, for the request's PASID, the
 * PASID directory -> PASID entry ({@link Pasid}). Values are immutable; caches hold them and
 * hand the same instance out again, so a cache hit allocates nothing.
 */
public sealed interface ContextResult {

    /** A legacy context entry that passed QEMU's checks (vtd_dev_to_context_entry). */
    record Legacy(long lo, long hi) implements ContextResult {
        public int domainId() {
            return ContextEntry.domainId(hi);
        }

        /** Input address width of the second-level table (AGAW). */
        public int agaw() {
            return ContextEntry.agaw(hi);
        }

        public int levels() {
            return ContextEntry.levels(hi);
        }

        public long secondLevelTable() {
            return ContextEntry.secondLevelTable(lo);
        }

        public int translationType() {
            return ContextEntry.translationType(lo);
        }

        public boolean passThrough() {
            return translationType() == ContextEntry.TT_PASS_THROUGH;
        }

        public boolean faultProcessingDisabled() {
            return ContextEntry.faultProcessingDisabled(lo);
        }

        @Override
        public String toString() {
            return "Legacy[" + ContextEntry.describe(lo, hi) + "]";
        }
    }

    /** A scalable-mode context entry (quads 0 and 1) that passed the checks. */
    record Scalable(long q0, long q1) implements ContextResult {
        public int ridPasid() {
            return ScalableContextEntry.ridPasid(q1);
        }

        public boolean ridPrivileged() {
            return ScalableContextEntry.ridPrivileged(q1);
        }

        public boolean pasidEnabled() {
            return ScalableContextEntry.pasidEnabled(q0);
        }

        public boolean deviceTlbEnabled() {
            return ScalableContextEntry.deviceTlbEnabled(q0);
        }

        public boolean faultProcessingDisabled() {
            return ScalableContextEntry.faultProcessingDisabled(q0);
        }

        @Override
        public String toString() {
            return "Scalable[" + ScalableContextEntry.describe(q0, q1) + "]";
        }
    }

    /**
     * A PASID-table entry (quads 0-2) that passed the checks, with the FPD of the directory
     * entry that led to it (QEMU vtd_ce_get_pasid_fpd).
     */
    record Pasid(long q0, long q1, long q2, boolean dirFpd) implements ContextResult {
        public int domainId() {
            return PasidEntry.domainId(q1);
        }

        public int pgtt() {
            return PasidEntry.pgtt(q0);
        }

        /** FPD that applies to a fault under this entry: the context's, the directory's or its own. */
        public boolean faultProcessingDisabled(Scalable context) {
            return context.faultProcessingDisabled() || dirFpd || PasidEntry.faultProcessingDisabled(q0);
        }

        @Override
        public String toString() {
            return "Pasid[" + PasidEntry.describe(q0, q1, q2) + (dirFpd ? " dir FPD" : "") + "]";
        }
    }

    /**
     * The step faulted: the fault reason to record, whether the reason is qualified (FPD
     * suppresses its record, VT-d 7.2.1) and whether an FPD bit applied.
     */
    record Fault(int code, String description, boolean qualified, boolean fpd) implements ContextResult {
        /** Whether the record is suppressed: FPD set on a qualified fault. */
        public boolean suppressed() {
            return fpd && qualified;
        }

        static Fault legacy(FaultReason reason, boolean fpd) {
            return new Fault(reason.code(), reason.description(), reason.qualified(), fpd);
        }

        static Fault scalable(ScalableFault reason, boolean spec, boolean fpd) {
            return new Fault(reason.code(spec), reason.description(), reason.qualified(spec), fpd);
        }
    }
}
