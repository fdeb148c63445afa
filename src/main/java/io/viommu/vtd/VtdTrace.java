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
}
