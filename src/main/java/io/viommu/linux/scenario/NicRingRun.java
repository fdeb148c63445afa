package io.viommu.linux.scenario;

import java.util.Locale;
import java.util.function.ToLongFunction;

/**
 * One run of the NIC-ring scenario: how the ring's buffers were mapped, the guest's
 * invalidation policy, and what setup and traffic cost.
 *
 * @param mapping        per-packet DMA-API mappings or static VFIO mappings
 * @param policy         the invalidation policy asked for on the guest's command line
 *                       (null for static VFIO mappings, whose unmanaged domain is always strict)
 * @param cachingMode    the vIOMMU's caching-mode property
 * @param strictInEffect what the guest kernel used (caching mode forces strict)
 * @param packets        packets received
 * @param ringSize       ring slots (DMA buffers)
 * @param setup          cost of filling the ring (dynamic) or of the one MAP_DMA (static)
 * @param traffic        cost of all packets, including the 10 ms idle after the last one (in
 *                       which the lazy flush queue's timer drains what it still holds)
 * @param shadowed       whether a shadowing MAP/UNMAP notifier was registered (QEMU's vfio
 *                       listener; needs caching mode): the notifier columns count only then
 * @param delivered      packets whose bytes arrived intact in the buffer the driver reads
 * @param dmaFaults      device DMAs that did not complete (translation fault)
 */
public record NicRingRun(Mapping mapping, Policy policy, boolean cachingMode, boolean strictInEffect, int packets,
                         int ringSize, NicRingCost setup, NicRingCost traffic, boolean shadowed, long delivered,
                         long dmaFaults) {

    /** How the ring's buffers are made visible to the device. */
    public enum Mapping {
        /** dma_map_single on refill, dma_unmap_single on completion (a Linux network driver). */
        DYNAMIC,
        /** The whole buffer area mapped once through VFIO at setup (DPDK). */
        STATIC_VFIO
    }

    /** The guest's IOTLB invalidation policy (iommu.strict=1 or 0). */
    public enum Policy {
        STRICT, LAZY;

        public String option() {
            return this == STRICT ? "iommu.strict=1" : "iommu.strict=0";
        }
    }

    /** {@code what} of the traffic phase divided by the packets. */
    public double perPacket(ToLongFunction<NicRingCost> what) {
        return packets == 0 ? 0 : (double) what.applyAsLong(traffic) / packets;
    }

    /** True when every packet arrived intact and no DMA faulted. */
    public boolean allDelivered() {
        return delivered == packets && dmaFaults == 0;
    }

    /** A short name: "DMA API strict", "DMA API lazy (strict: CM)", "VFIO static". */
    public String label() {
        if (mapping == Mapping.STATIC_VFIO) {
            return "VFIO static";
        }
        String p = policy.name().toLowerCase(Locale.ROOT);
        if (policy == Policy.LAZY && strictInEffect) {
            return "DMA API lazy->strict";
        }
        return "DMA API " + p;
    }
}
