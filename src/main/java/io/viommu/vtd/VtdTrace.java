package io.viommu.vtd;

/**
 * Observation hook for one unit: lifecycle transitions and guest programming errors (the
 * cases where QEMU prints error_report_once). Default: ignore.
 */
public interface VtdTrace {
    VtdTrace NONE = new VtdTrace() {
    };

    default void transition(Enum<?> from, Enum<?> to, String reason) {
    }

    default void guestError(String message) {
    }

    /**
     * QEMU's {@code error_report_once} at call site {@code site}: QEMU prints the message on
     * stderr (after the program name) the first time that site reports in the process and never
     * again. Default: {@link #guestError}.
     */
    default void errorReportOnce(String site, String message) {
        guestError(message);
    }

    /**
     * One of QEMU 7.2's trace events of the unit (hw/i386/trace-events), by name with its
     * formatted arguments, at the point QEMU's intel_iommu.c emits it (vtd_reg_read,
     * vtd_reg_write, vtd_reg_write_gcmd, vtd_reg_dmar_root, vtd_dmar_enable,
     * vtd_inv_desc_cc_global, vtd_inv_desc_iotlb_global, and the queue's vtd_inv_qi_* and vtd_inv_desc*).
     */
    default void qemuEvent(String name, String args) {
    }

    /**
     * Whether {@link #qemuEvent} prints anything: callers test it before formatting the
     * arguments, so that a unit without -trace formats nothing on its MMIO and queue paths.
     */
    default boolean qemuEvents() {
        return false;
    }
}
