package io.viommu.vtd;

import io.viommu.memory.Iova;
import io.viommu.pci.RequesterId;

/**
 * Hooks called after the unit has applied an invalidation to its own caches, whether it came
 * from a register (CCMD, IOTLB), a queued descriptor, or a direct call on {@link IntelIommu}.
 * A map/unmap notifier layer (caching mode, VFIO shadowing) hangs off these. Called on the
 * thread that performed the guest access; implementations must not call back into load/store.
 */
public interface InvalidationListener {
    /** SRTP or a TE change: every cached context entry and translation is gone. */
    default void cachesReset() {
    }

    default void contextCacheGlobal() {
    }

    /** Device-selective: {@code sid} with function mask {@code fm} (0..3). */
    default void contextCacheDevice(RequesterId sid, int fm) {
    }

    default void iotlbGlobal() {
    }

    default void iotlbDomain(int domainId) {
    }

    /** Page-selective: 2^{@code am} pages from {@code addr} in {@code domainId}. */
    default void iotlbPages(int domainId, Iova addr, int am) {
    }

    /** A device-TLB (ATS) invalidation for {@code sid}: {@code size} bytes at {@code addr}. */
    default void deviceTlb(RequesterId sid, Iova addr, long size) {
    }

    /** Interrupt entry cache: global, or 2^{@code indexMask} entries from {@code index}. */
    default void interruptEntryCache(boolean global, int index, int indexMask) {
    }
}
