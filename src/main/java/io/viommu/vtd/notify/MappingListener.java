package io.viommu.vtd.notify;

/**
 * A consumer of one registration's events. Called on the thread that performed the guest's
 * invalidation (inside the unit's register write), so it must not call back into the unit's
 * load/store; it may unregister. An exception it throws is caught and kept
 * ({@link MapNotifier.Registration#failure()}); it never reaches the guest.
 */
@FunctionalInterface
public interface MappingListener {
    void onEvent(IommuEvent event);

    /**
     * A sync was abandoned because the guest's tables need more work than the walk budget
     * allows (e.g. one table aliased under every entry of a 48-bit space). The view was left as
     * it was before the sync; a later sync (or {@link MapNotifier.Registration#resync()}) may
     * succeed once the guest's tables are smaller.
     */
    default void walkAborted(InvalidationCause cause, String reason) {
    }
}
