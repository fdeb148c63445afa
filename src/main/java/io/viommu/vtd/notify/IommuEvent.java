package io.viommu.vtd.notify;

import io.viommu.memory.PhysAddr;

/**
 * One change to a consumer's view of a device's address space (QEMU IOMMUTLBEvent, plus
 * {@link Replace}). Applying the events of a registration in order to an empty
 * {@link MappingView} yields exactly the mappings the guest's tables define for that range
 * (at the time of the last sync).
 */
public sealed interface IommuEvent {
    /** The IOVA range the event covers. */
    IovaRange range();

    /** The guest invalidation (or consumer request) that caused it. */
    InvalidationCause cause();

    /** {@code range}, unmapped before, is now mapped to {@code mapping}. */
    record Map(Mapping mapping, InvalidationCause cause) implements IommuEvent {
        @Override
        public IovaRange range() {
            return mapping.range();
        }
    }

    /**
     * {@code range} is no longer mapped. For MAP registrations it was entirely mapped before;
     * for UNMAP-only and DEVIOTLB_UNMAP registrations it is the invalidated range (QEMU
     * semantics: drop whatever you cached there).
     */
    record Unmap(IovaRange range, InvalidationCause cause) implements IommuEvent {
    }

    /**
     * {@code range} stays mapped but now to {@code mapping} instead of {@code oldPhys} with
     * {@code oldPermission} (both contiguous over the range): one atomic change, never an
     * unmap-then-map window in which DMA to a still-mapped page would fault.
     */
    record Replace(Mapping mapping, PhysAddr oldPhys, Permission oldPermission, InvalidationCause cause)
            implements IommuEvent {
        @Override
        public IovaRange range() {
            return mapping.range();
        }

        public Mapping oldMapping() {
            return new Mapping(mapping.range(), oldPhys, oldPermission);
        }
    }
}
