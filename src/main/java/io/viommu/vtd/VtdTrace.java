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
}
