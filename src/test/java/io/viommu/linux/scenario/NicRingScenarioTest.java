package io.viommu.linux.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.iommu.DmaApi;
import io.viommu.linux.iommu.DmaDirection;
import io.viommu.linux.scenario.NicRingRun.Mapping;
import io.viommu.linux.scenario.NicRingRun.Policy;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The shape of the NIC-ring numbers (not timings): what a packet costs with per-packet DMA-API
 * mappings under each policy, with and without caching mode, and that every packet's bytes
 * arrived through the VT-d unit's translation.
 */
class NicRingScenarioTest {
    static final int PACKETS = 510; // two flush queues' worth (255 entries each)
    static final int RING = 32;

    static NicRingRun dynamic(Policy p, boolean cm) {
        NicRingRun r = NicRingScenario.dynamic(p, cm, PACKETS, RING);
        assertThat(r.mapping()).isEqualTo(Mapping.DYNAMIC);
        assertThat(r.delivered()).as("packets whose bytes arrived").isEqualTo(PACKETS);
        assertThat(r.dmaFaults()).isZero();
        assertThat(r.traffic().maps()).isEqualTo(PACKETS);
        assertThat(r.traffic().unmaps()).isEqualTo(PACKETS);
        assertThat(r.setup().maps()).isEqualTo(RING);
        return r;
    }

    @Test
    void strictWithoutCachingModeCostsOnePageInvalidationAndOneExitPerPacketAndNoShadow() {
        NicRingRun r = dynamic(Policy.STRICT, false);
        assertThat(r.strictInEffect()).isTrue();
        assertThat(r.traffic().iotlbPage()).isEqualTo(PACKETS);
        assertThat(r.traffic().iotlbDomain() + r.traffic().iotlbGlobal()).isZero();
        assertThat(r.traffic().waitDescriptors()).isEqualTo(PACKETS);
        assertThat(r.traffic().mmioAccesses()).isEqualTo(PACKETS);
        // QEMU refuses a MAP notifier without caching mode: nothing shadows, nothing is counted
        assertThat(r.shadowed()).isFalse();
        assertThat(r.traffic().notifierEvents()).isZero();
    }

    @Test
    void lazyWithoutCachingModeBatchesUnmapsIntoRareDomainFlushes() {
        NicRingRun r = dynamic(Policy.LAZY, false);
        assertThat(r.strictInEffect()).isFalse();
        assertThat(r.traffic().iotlbPage()).isZero();
        assertThat(r.perPacket(NicRingCost::iotlbDomain)).isPositive().isLessThanOrEqualTo(1.0 / 200);
        assertThat(r.perPacket(NicRingCost::mmioAccesses)).isLessThanOrEqualTo(1.0 / 200);
        assertThat(r.traffic().flushQueueFlushes()).isEqualTo(r.traffic().iotlbDomain());
        // the flush after the 10 ms idle is counted: nothing stays queued at the end
        assertThat(r.traffic().iotlbDomain()).isEqualTo((PACKETS - 1) / 255 + 1);
    }

    @Test
    void strictWithCachingModeInvalidatesOnMapAndUnmapAndUpdatesTheHostIommuTwicePerPacket() {
        NicRingRun r = dynamic(Policy.STRICT, true);
        assertThat(r.shadowed()).isTrue();
        assertThat(r.perPacket(NicRingCost::iotlbPage)).isGreaterThanOrEqualTo(2);
        assertThat(r.perPacket(NicRingCost::mmioAccesses)).isGreaterThanOrEqualTo(2);
        assertThat(r.perPacket(NicRingCost::notifierEvents)).isGreaterThanOrEqualTo(2);
        // one page mapped on refill and one unmapped on completion, in the host, every packet
        assertThat(r.traffic().hostPagesMapped()).isEqualTo(PACKETS);
        assertThat(r.traffic().hostPagesUnmapped()).isEqualTo(PACKETS);
        // filling the ring already cost one invalidation and one host map per slot
        assertThat(r.setup().iotlbPage()).isEqualTo(RING);
        assertThat(r.setup().notifierEvents()).isEqualTo(RING);
    }

    @Test
    void cachingModeForcesStrictSoLazyCostsTheSameAsStrict() {
        NicRingRun lazy = dynamic(Policy.LAZY, true);
        NicRingRun strict = dynamic(Policy.STRICT, true);
        assertThat(lazy.strictInEffect()).isTrue();
        assertThat(lazy.traffic()).isEqualTo(strict.traffic());
        assertThat(lazy.traffic().iotlbDomain()).isZero();
        assertThat(lazy.traffic().flushQueueFlushes()).isZero();
    }

    @Test
    void staticVfioMappingsCostNothingPerPacketAfterOneMapDmaAtSetup() {
        for (boolean cm : new boolean[] {false, true}) {
            NicRingRun r = NicRingScenario.staticVfio(cm, PACKETS, RING);
            assertThat(r.mapping()).isEqualTo(Mapping.STATIC_VFIO);
            assertThat(r.delivered()).as("packets whose bytes arrived, CM " + cm).isEqualTo(PACKETS);
            assertThat(r.dmaFaults()).isZero();
            NicRingCost t = r.traffic();
            assertThat(t.maps() + t.unmaps()).isZero();
            assertThat(t.iotlbInvalidations() + t.contextInvalidations()).isZero();
            assertThat(t.descriptors() + t.mmioAccesses()).isZero();
            assertThat(t.notifierEvents()).isZero();
            // the one MAP_DMA of the whole area at setup
            assertThat(r.setup().maps()).isEqualTo(1);
            assertThat(r.shadowed()).isEqualTo(cm);
            if (cm) {
                // caching mode: the mapping was invalidated once, and shadowed into the host
                assertThat(r.setup().iotlbPage()).isPositive();
                assertThat(r.setup().hostPagesMapped()).isEqualTo(RING * NicRingScenario.BUFFER_BYTES / 4096);
            }
        }
    }

    @Test
    void theDevicesDmaIsTranslatedStrictUnmapFaultsAtOnceLazyLeavesAStaleWindowUntilTheFlush() {
        for (Policy p : Policy.values()) {
            NicRingScenario.Guest g = NicRingScenario.Guest.boot(false, "intel_iommu=on " + p.option());
            g.enableDevice();
            DmaApi dma = DmaApi.of(g.kernel.iommuDriver());
            var rid = g.edu.address();
            dma.setDmaMask(rid, g.edu.dmaMask());
            EduNic nic = new EduNic(g.edu, (off, v) -> g.machine.memory().write(PhysAddr.of(NicRingScenario.EDU_BAR + off), v, 8));
            PhysAddr buf = g.kernel.iommuDriver().pages().allocate();
            Iova iova = dma.mapSingle(rid, buf, NicRingScenario.BUFFER_BYTES, DmaDirection.FROM_DEVICE);
            assertThat(iova.value()).as("an IOVA, not the physical address").isNotEqualTo(buf.value());
            byte[] frame = new byte[64];
            NicRingScenario.fillFrame(frame, 7);
            assertThat(nic.receive(frame, iova)).isTrue();
            byte[] got = new byte[64];
            g.machine.ram().readBytes(buf, got, 0, got.length);
            assertThat(got).isEqualTo(frame);

            dma.unmapSingle(rid, iova, NicRingScenario.BUFFER_BYTES, DmaDirection.FROM_DEVICE);
            NicRingScenario.fillFrame(frame, 8);
            boolean late = nic.receive(frame, iova);
            g.machine.ram().readBytes(buf, got, 0, got.length);
            if (p == Policy.STRICT) {
                assertThat(late).as("DMA after a strict unmap").isFalse();
                assertThat(got[0]).isEqualTo((byte) 7);
            } else {
                // the IOTLB still holds the translation until the flush queue flushes
                assertThat(late).as("DMA in the lazy window").isTrue();
                assertThat(Arrays.equals(got, frame)).isTrue();
                g.kernel.iommuDriver().clock().advance(NicRingScenario.IDLE_AFTER_NANOS);
                assertThat(nic.receive(frame, iova)).as("DMA after the flush").isFalse();
            }
        }
    }
}
