package io.viommu.vtd;

import static io.viommu.vtd.VtdBench.*;
import static io.viommu.vtd.VtdRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import org.junit.jupiter.api.Test;

/**
 * QEMU 7.2's page-selective IOTLB invalidation compares only the low 8 bits of the 4 KiB frame
 * numbers (its VTDIOTLBPageInvInfo.mask is a uint8_t). Observed with QEMU 7.2 (edu DMA through
 * IOVA 0x2000, domain 1, then a PSI and a second DMA): invalidating 0x102000, 0x202000,
 * 0x1002000 or 0x7ff02000 (AM=0) drops 0x2000's cached translation, 0x3000, 0x12000 and
 * 0x103000 do not; AM=1 at 0x103000 drops it; AM=7 at 0x300000 drops it, AM=7 at 0x380000
 * does not; AM=8 at 0x300000 and AM=9 at 0x40000000 drop it; domain 2 at 0x102000 does not.
 */
class PageInvalidationFrameMaskTest {
    final VtdBench b = new VtdBench().tables().enable();

    PageInvalidationFrameMaskTest() {
        b.ram.writeLong(PhysAddr.of(L1 + 0x100 * 8), 0x400000 | 3); // IOVA 0x300000: 1 MiB above 0x200000
        b.ram.writeLong(PhysAddr.of(L1 + 0x12 * 8), 0x412000 | 3); // IOVA 0x212000
        b.write(0x200000);
        b.write(0x212000);
        b.write(0x300000);
        assertThat(b.iommu.iotlbSize()).isEqualTo(3);
    }

    private void psi(int did, long addr, int am) {
        b.writeq(IVA, addr | am);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_PAGE | ((long) did << 32));
    }

    private boolean cached(long iova) {
        return b.iommu.iotlbContains(EDU, Iova.of(iova));
    }

    @Test
    void pageInvalidationAlsoDropsPagesWhoseFrameAgreesInTheLow8Bits() {
        psi(1, 0x300000, 0);
        assertThat(cached(0x300000)).isFalse();
        assertThat(cached(0x200000)).as("1 MiB below: frame 0x200 vs 0x300, same low 8 bits").isFalse();
        assertThat(cached(0x212000)).isTrue();
    }

    @Test
    void pageInvalidationOfAnotherDomainDropsNothing() {
        psi(2, 0x300000, 0);
        assertThat(b.iommu.iotlbSize()).isEqualTo(3);
    }

    @Test
    void addressMaskOf8OrMoreDropsTheWholeDomain() {
        psi(1, 0x4000_0000L, 8);
        assertThat(b.iommu.iotlbSize()).isZero();
    }

    @Test
    void addressMaskBelow8ComparesTheRemainingLowBits() {
        psi(1, 0x510000, 4); // frame 0x510: bits 7..4 = 1, as 0x212 has; 0x200 and 0x300 have 0
        assertThat(cached(0x212000)).isFalse();
        assertThat(cached(0x200000)).isTrue();
        assertThat(cached(0x300000)).isTrue();
    }
}
