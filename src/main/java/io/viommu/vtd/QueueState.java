package io.viommu.vtd;

/**
 * Queued-invalidation lifecycle (GCMD.QIE / GSTS.QIES and FSTS.IQE). Moved only through
 * {@code InvalidationQueue.transition(QueueState, String)}.
 */
public enum QueueState {
    /** QIES = 0: register-based invalidation is used; IQT writes only latch the tail. */
    DISABLED,
    /** QIES = 1: every IQT write processes descriptors from IQH up to IQT. */
    ENABLED,
    /** QIES = 1 and FSTS.IQE = 1: processing is stopped at the bad descriptor (IQH points at it). */
    ERROR;

    boolean canMoveTo(QueueState next) {
        return switch (this) {
            case DISABLED -> next == ENABLED;
            case ENABLED -> next == DISABLED || next == ERROR;
            case ERROR -> next == ENABLED || next == DISABLED;
        };
    }
}
