package io.viommu.vtd;

import static io.viommu.vtd.VtdBench.*;
import static io.viommu.vtd.VtdRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.Iova;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** IOTLB / context cache behaviour and register-based invalidation. */
class InvalidationTest {
    final VtdBench b = new VtdBench().tables().enable();

    void remap(long newPhys) {
        b.ram.writeLong(L1, newPhys | 3);
    }

    long out(long iova) {
        return ((Translation) b.write(iova)).outputValue(iova);
    }

    @Test
    void staleIotlbEntryIsServedUntilGlobalInvalidation() {
        assertThat(out(0x200000)).isEqualTo(0x300000);
        remap(0x310000);
        assertThat(out(0x200000)).isEqualTo(0x300000);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_GLOBAL);
        assertThat(b.readq(IOTLB) & (IOTLB_IVT | IOTLB_IAIG_MASK)).isEqualTo(IOTLB_IAIG_GLOBAL);
        assertThat(out(0x200000)).isEqualTo(0x310000);
    }

    @Test
    void domainSelectiveInvalidationRemovesOnlyThatDomain() {
        out(0x200000);
        remap(0x310000);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_DOMAIN | (2L << 32));
        assertThat(b.readq(IOTLB) & IOTLB_IAIG_MASK).isEqualTo(IOTLB_IAIG_DOMAIN);
        assertThat(out(0x200000)).isEqualTo(0x300000);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_DOMAIN | (1L << 32));
        assertThat(out(0x200000)).isEqualTo(0x310000);
    }

    @Test
    void pageSelectiveInvalidationHonoursAddressMask() {
        out(0x200000);
        b.read(0x201000);
        assertThat(b.iommu.iotlbSize()).isEqualTo(2);
        b.writeq(IVA, 0x201000);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_PAGE | (1L << 32));
        assertThat(b.readq(IOTLB) & IOTLB_IAIG_MASK).isEqualTo(IOTLB_IAIG_PAGE);
        assertThat(b.iommu.iotlbContains(EDU, Iova.of(0x200000))).isTrue();
        assertThat(b.iommu.iotlbContains(EDU, Iova.of(0x201000))).isFalse();
        b.writeq(IVA, 0x200000 | 1); // AM=1: two pages
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_PAGE | (1L << 32));
        assertThat(b.iommu.iotlbSize()).isZero();
    }

    @Test
    void pageSelectiveInvalidationInsideASuperpageRemovesIt() {
        b.ram.writeLong(L2 + 8, 0x400000 | 0x80 | 3);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_GLOBAL);
        out(0x2ff000);
        b.writeq(IVA, 0x234000);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_PAGE | (1L << 32));
        assertThat(b.iommu.iotlbSize()).isZero();
    }

    @Test
    void pageSelectiveWithAmAboveMamvReportsIaigZero() {
        out(0x200000);
        b.writeq(IVA, 0x200000 | 19);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_PAGE | (1L << 32));
        assertThat(b.readq(IOTLB) & (IOTLB_IVT | IOTLB_IAIG_MASK)).isZero();
        assertThat(b.iommu.iotlbSize()).isEqualTo(1);
    }

    @Test
    void contextCacheServesStaleEntryUntilContextInvalidation() {
        out(0x200000);
        b.ram.writeLong(CTX + 0x80, 0); // device removed from its domain
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_GLOBAL);
        assertThat(out(0x200000)).isEqualTo(0x300000);
        b.writeq(CCMD, CCMD_ICC | CCMD_CIRG_DEVICE | (0x08L << 16));
        assertThat(b.readq(CCMD) & (CCMD_ICC | CCMD_CAIG_MASK)).isEqualTo(CCMD_CAIG_DEVICE);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_GLOBAL);
        assertThat(((DmaFault) b.write(0x200000)).reason()).isEqualTo(2);
    }

    @Test
    void deviceSelectiveContextInvalidationUsesFunctionMask() {
        RequesterId fn1 = RequesterId.of(0, 1, 1);
        b.tables(fn1);
        b.dma(EDU, 0x200000, DmaAccess.WRITE);
        b.dma(fn1, 0x200000, DmaAccess.WRITE);
        assertThat(b.iommu.contextCached(fn1)).isTrue();
        b.writeq(CCMD, CCMD_ICC | CCMD_CIRG_DEVICE | (0x08L << 16)); // FM 0: only 01.0
        assertThat(b.iommu.contextCached(EDU)).isFalse();
        assertThat(b.iommu.contextCached(fn1)).isTrue();
        b.writeq(CCMD, CCMD_ICC | CCMD_CIRG_DEVICE | (0x08L << 16) | (3L << 32)); // FM 3: all functions
        assertThat(b.iommu.contextCached(fn1)).isFalse();
    }

    @Test
    void domainSelectiveContextInvalidationIsPerformedAndReportedAsGlobal() {
        b.write(0x200000);
        b.writeq(CCMD, CCMD_ICC | CCMD_CIRG_DOMAIN | 5);
        assertThat(b.readq(CCMD) & (CCMD_ICC | CCMD_CAIG_MASK)).isEqualTo(CCMD_CAIG_GLOBAL);
        assertThat(b.iommu.contextCached(EDU)).isFalse();
    }

    @Test
    void iotlbEvictsLeastRecentlyUsedAtItsBound() {
        VtdBench small = VtdBench.withProps(Map.of("iotlb-entries", "4")).tables();
        for (int i = 0; i < 8; i++) {
            small.ram.writeLong(L1 + 8L * (16 + i), (0x400000L + 0x1000L * i) | 3);
        }
        small.enable();
        for (int i = 0; i < 4; i++) {
            small.write(0x210000L + 0x1000L * i);
        }
        small.write(0x210000L); // touch page 0: page 1 becomes the oldest
        small.write(0x214000L); // fifth entry evicts page 1
        assertThat(small.iommu.iotlbSize()).isEqualTo(4);
        assertThat(small.iommu.iotlbContains(EDU, Iova.of(0x210000))).isTrue();
        assertThat(small.iommu.iotlbContains(EDU, Iova.of(0x211000))).isFalse();
        assertThat(small.iommu.iotlbContains(EDU, Iova.of(0x214000))).isTrue();
        for (int i = 0; i < 8; i++) {
            small.write(0x210000L + 0x1000L * i);
        }
        assertThat(small.iommu.iotlbSize()).isEqualTo(4);
    }

    @Test
    void faultsAreNeverCachedEvenInCachingMode() {
        VtdBench cm = VtdBench.withProps(Map.of("caching-mode", "on")).tables().enable();
        cm.ram.writeLong(L1 + 3 * 8, 0); // not present
        assertThat(cm.write(0x203000)).isInstanceOf(DmaFault.class);
        cm.ram.writeLong(L1 + 3 * 8, 0x303000 | 3); // guest makes it present (then would invalidate)
        assertThat(((Translation) cm.write(0x203000)).physPage().value()).isEqualTo(0x303000);
    }

    @Test
    void registerInvalidationIsIgnoredWhileQueuedInvalidationIsOn() {
        b.enableQueue();
        b.writeq(CCMD, CCMD_ICC | CCMD_CIRG_GLOBAL);
        assertThat(b.readq(CCMD)).isEqualTo(CCMD_ICC | CCMD_CIRG_GLOBAL);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_GLOBAL);
        assertThat(b.readq(IOTLB)).isEqualTo(IOTLB_IVT | IOTLB_IIRG_GLOBAL);
    }

    @Test
    void srtpAndTeChangesEmptyTheCaches() {
        out(0x200000);
        b.writel(GCMD, GCMD_TE | GCMD_SRTP);
        assertThat(b.iommu.iotlbSize()).isZero();
        assertThat(b.iommu.contextCached(EDU)).isFalse();
    }

    @Test
    void listenersHearEveryInvalidation() {
        List<String> heard = new ArrayList<>();
        b.iommu.addInvalidationListener(new InvalidationListener() {
            @Override
            public void iotlbPages(int domainId, Iova addr, int am) {
                heard.add("pages " + domainId + " " + Long.toHexString(addr.value()) + " " + am);
            }

            @Override
            public void contextCacheDevice(RequesterId sid, int fm) {
                heard.add("ctx " + sid.value() + " " + fm);
            }
        });
        b.writeq(IVA, 0x200000 | 2);
        b.writeq(IOTLB, IOTLB_IVT | IOTLB_IIRG_PAGE | (7L << 32));
        b.iommu.invalidateContextCacheDevice(0x08, 1);
        assertThat(heard).containsExactly("pages 7 200000 2", "ctx 8 1");
    }
}
