package io.viommu.vtd;

import static io.viommu.vtd.VtdRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Register semantics; every expected value was read from QEMU 7.2 with the same writes. */
class VtdRegisterTest {
    final VtdBench b = new VtdBench();

    @Test
    void versionIs10AndResetValuesMatchQemu() {
        assertThat(b.readl(VER)).isEqualTo(0x10);
        assertThat(b.readl(FECTL)).isEqualTo(0x80000000L);
        assertThat(b.readl(IECTL)).isEqualTo(0x80000000L);
        assertThat(b.readl(GSTS)).isZero();
        assertThat(b.readq(IQER)).isZero();
    }

    @Test
    void accessesNarrowerThanFourBytesReadZeroAndAreDropped() {
        assertThat(b.iommu.load(0, 1)).isZero();
        assertThat(b.iommu.load(0, 2)).isZero();
        assertThat(b.iommu.load(CAP, 1)).isZero();
        b.writeq(RTADDR, 0x1234567800000000L);
        b.iommu.store(RTADDR, 0xff, 1);
        assertThat(b.readq(RTADDR)).isEqualTo(0x1234567800000000L);
    }

    @Test
    void misalignedAccessesSplitLikeQemusMemoryCore() {
        assertThat(b.iommu.load(1, 4)).isZero();
        assertThat(b.iommu.load(4, 8)).isEqualTo(0x2226020600000000L);
        assertThat(b.iommu.load(0xc, 8)).isEqualTo(0x00f00f4a00d2008cL);
        assertThat(b.readl(0xc)).isEqualTo(0x00d2008cL);
    }

    @Test
    void beyondTheRegisterBlockReadsZero() {
        assertThat(b.readq(0xff8)).isZero();
        assertThat(b.readl(0x230)).isZero();
        assertThat(b.iommu.load(0x1000, 4)).isZero();
        assertThat(b.iommu.load(-8, 8)).isZero();
        assertThat(b.iommu.load(0, 3)).isZero();
    }

    @Test
    void writeMasksMatchQemu() {
        b.writeq(RTADDR, -1L);
        assertThat(b.readq(RTADDR)).isEqualTo(0xfffffffffffffc00L);
        b.writel(RTADDR + 4, 0x12345678L);
        b.writel(RTADDR, 0);
        assertThat(b.readq(RTADDR)).isEqualTo(0x1234567800000000L);
        b.writel(FEDATA, 0xffffffffL);
        assertThat(b.readl(FEDATA)).isEqualTo(0xffff);
        b.writel(FEADDR, 0xffffffffL);
        assertThat(b.readl(FEADDR)).isEqualTo(0xfffffffcL);
        b.writel(FEUADDR, 0xffffffffL);
        assertThat(b.readl(FEUADDR)).isZero();
        b.writel(FSTS, 0xffffffffL);
        assertThat(b.readl(FSTS)).isZero();
        b.writeq(IQT, -1L);
        assertThat(b.readq(IQT)).isEqualTo(0x7fff0);
        b.writeq(IRTA, -1L);
        assertThat(b.readq(IRTA)).isEqualTo(0xfffffffffffff80fL);
        b.writel(IEDATA, 0xffffffffL);
        assertThat(b.readl(IEDATA)).isEqualTo(0xffffffffL);
        b.writel(IEADDR, 0xffffffffL);
        assertThat(b.readl(IEADDR)).isEqualTo(0xfffffffcL);
        b.writel(PMEN, 0xffffffffL);
        assertThat(b.readl(PMEN)).isZero();
        b.writeq(FRCD, -1L);
        b.writeq(FRCD + 8, -1L);
        assertThat(b.readq(FRCD)).isZero();
        assertThat(b.readq(FRCD + 8)).isZero();
        b.writel(FECTL, 0);
        assertThat(b.readl(FECTL)).isZero();
        for (int unimplemented : new int[] {0x60, 0xc0, 0x100, 0x1f8}) {
            b.writeq(unimplemented, -1L);
            assertThat(b.readq(unimplemented)).isZero();
        }
    }

    @Test
    void iqaReadsTheBaseLatchedAtQueueEnablePlusQs() {
        b.writeq(IQA, 0x110807L);
        assertThat(b.readq(IQA)).isEqualTo(7);
        b.writel(GCMD, GCMD_QIE);
        assertThat(b.readq(IQA)).isEqualTo(0x110007L);
        b.writeq(IQA, 0x220000L);
        assertThat(b.readq(IQA)).isEqualTo(0x110000L);
    }

    @Test
    void gcmdIsWriteOnlyAndWbfSflLeaveGstsAlone() {
        b.writel(GCMD, GCMD_WBF | GCMD_SFL);
        assertThat(b.readl(GCMD)).isZero();
        assertThat(b.readl(GSTS)).isZero();
    }

    @Test
    void cfiSetsAndClearsCfisWithInterruptRemapping() {
        // Spec 10.4.4; deviation from QEMU 7.2, which ignores CFI.
        b.writel(GCMD, GCMD_CFI);
        assertThat(b.readl(GSTS)).isEqualTo(GCMD_CFI & 0xffffffffL);
        b.writel(GCMD, 0);
        assertThat(b.readl(GSTS)).isZero();
        VtdBench off = VtdBench.withProps(java.util.Map.of("intremap", "off"));
        off.writel(GCMD, GCMD_CFI);
        assertThat(off.readl(GSTS)).isZero();
    }

    @Test
    void srtpAndTeSetStatusBits() {
        b.writeq(RTADDR, VtdBench.ROOT);
        b.writel(GCMD, GCMD_SRTP);
        assertThat(b.readl(GSTS)).isEqualTo(GSTS_RTPS & 0xffffffffL);
        b.writel(GCMD, GCMD_TE);
        assertThat(b.readl(GSTS)).isEqualTo(0xc0000000L);
        assertThat(b.iommu.translationState()).isEqualTo(TranslationState.ENABLED);
        b.writel(GCMD, 0);
        assertThat(b.readl(GSTS)).isEqualTo(0x40000000L);
        assertThat(b.iommu.translationState()).isEqualTo(TranslationState.DISABLED);
    }

    @Test
    void ccmdAllOnesRunsDeviceInvalidationAndReportsCaig() {
        b.writeq(CCMD, -1L);
        assertThat(b.readq(CCMD)).isEqualTo(0x780000000000ffffL);
    }

    @Test
    void ivaIsWriteOnlyAndIotlbKeepsWrittenFields() {
        b.writeq(IVA, -1L);
        assertThat(b.readq(IVA)).isZero();
        b.writeq(IOTLB, 0x0000ffff00000000L);
        assertThat(b.readq(IOTLB)).isEqualTo(0x0000ffff00000000L);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_GLOBAL);
        assertThat(b.readq(IOTLB)).isEqualTo(0x1200000000000000L);
    }

    @Test
    void sirtpAndIreSetStatus() {
        b.writeq(IRTA, 0x130000L | 7);
        b.writel(GCMD, GCMD_SIRTP);
        assertThat(b.readl(GSTS)).isEqualTo(GSTS_IRTPS & 0xffffffffL);
        b.writel(GCMD, GCMD_IRE);
        assertThat(b.readl(GSTS)).isEqualTo((GSTS_IRES | GSTS_IRTPS) & 0xffffffffL);
        assertThat(b.iommu.snapshot().irtSize()).isEqualTo(256);
    }

    @Test
    void ireIsIgnoredWithoutInterruptRemapping() {
        VtdBench off = VtdBench.withProps(java.util.Map.of("intremap", "off"));
        off.writel(GCMD, GCMD_IRE | GCMD_SIRTP);
        assertThat(off.readl(GSTS)).isEqualTo(GSTS_IRTPS & 0xffffffffL);
    }

    @Test
    void eightByteWriteToFectlActsAsTwoDwordWrites() {
        b.writeq(FECTL, 0x0000123400000000L);
        assertThat(b.readl(FECTL)).isZero();
        assertThat(b.readl(FEDATA)).isEqualTo(0x1234);
    }

    @Test
    void registerTableRowsPrintEveryField() {
        assertThat(VtdRegisters.table(VtdConfig.defaults()).get(0).toString())
                .isEqualTo("VER@0x000/4 reset=0x10 wmask=0x0 w1c=0x0 wo=0x0");
    }
}
