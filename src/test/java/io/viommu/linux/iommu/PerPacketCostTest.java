package io.viommu.linux.iommu;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.PciFunction;
import org.junit.jupiter.api.Test;

/**
 * A receive ring through the DMA API: per packet the driver maps a buffer FROM_DEVICE, the
 * device writes the packet, the driver unmaps. What one packet costs in invalidations and
 * register accesses (VM exits under a vIOMMU) under each policy.
 */
class PerPacketCostTest {
    static final int PACKETS = 1020; // a multiple of 255, the flush queue's capacity

    static IommuCounters run(String append, String iommu) throws Exception {
        Guest g = Guest.boot(append, iommu, "edu");
        PciFunction dev = g.device("edu");
        DmaApi dma = g.dma();
        PhysAddr[] ring = new PhysAddr[16];
        for (int i = 0; i < ring.length; i++) {
            ring[i] = g.buffer(0);
        }
        byte[] packet = new byte[1500];
        IommuCounters before = g.counters();
        for (int p = 0; p < PACKETS; p++) {
            PhysAddr buf = ring[p % ring.length];
            Iova iova = dma.mapSingle(dev.address(), buf, 2048, DmaDirection.FROM_DEVICE);
            packet[0] = (byte) p;
            assertThat(g.deviceWrite(dev, iova, packet).ok()).isTrue();
            dma.unmapSingle(dev.address(), iova, 2048, DmaDirection.FROM_DEVICE);
            assertThat(g.ram(buf.value(), 1)).isEqualTo(p & 0xff);
        }
        return g.counters().minus(before);
    }

    @Test
    void strictCostsOnePageInvalidationAndOneExitPerPacket() throws Exception {
        IommuCounters c = run("iommu.strict=1", Guest.NO_CM);
        assertThat(c.iotlbPage()).isEqualTo(PACKETS);
        assertThat(c.mmioAccesses()).isEqualTo(PACKETS);
        assertThat(c.waitDescriptors()).isEqualTo(PACKETS);
    }

    @Test
    void lazyBatchesPacketsIntoOneDomainFlushPer255() throws Exception {
        IommuCounters c = run(null, Guest.NO_CM);
        assertThat(c.iotlbPage()).isZero();
        // the ring of 256 slots holds 255; the 256th unmap flushes, then every 255 more
        assertThat(c.iotlbDomain()).isEqualTo((PACKETS - 1) / 255);
        assertThat(c.mmioAccesses()).isEqualTo(c.iotlbDomain());
    }

    @Test
    void cachingModeDoublesTheStrictCostWithAnInvalidationOnMapToo() throws Exception {
        IommuCounters c = run(null, Guest.CM);
        assertThat(c.iotlbPage()).isEqualTo(2L * PACKETS);
        assertThat(c.mmioAccesses()).isEqualTo(2L * PACKETS);
    }
}
