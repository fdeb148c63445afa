package io.viommu.vtd;

import static io.viommu.vtd.VtdBench.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.Iova;
import io.viommu.pci.AtsCapability;
import io.viommu.pci.AtsCompletion;
import io.viommu.pci.AtsEndpoint;
import io.viommu.pci.ConfigSpace;
import io.viommu.pci.DeviceTlb;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaPort;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.PasidPrefix;
import io.viommu.pci.Translation;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** Device-IOTLB / ATS: translation requests, translated requests, device-TLB invalidation. */
class AtsTest {
    static final long TT01 = 1 << 2;

    /** Legacy bench with device-iotlb and edu's context entry set to TT = 01. */
    static VtdBench legacy(boolean deviceIotlb) {
        VtdBench b = VtdBench.withProps(Map.of("device-iotlb", deviceIotlb ? "on" : "off")).tables();
        b.ram.writeLong(b.contextLo(EDU), L3 | TT01 | 1);
        return b;
    }

    /** A device at 00:01.0 with an ATS capability, its DMA port through {@code b}'s unit. */
    record Device(ConfigSpace config, AtsCapability cap, AtsEndpoint endpoint, DmaPort port) {
        void enableAts() {
            config.write(cap.offset() + AtsCapability.CONTROL, AtsCapability.CONTROL_ENABLE, 2);
        }

        DmaPort.Outcome read(long iova) {
            return port.read(Iova.of(iova), new byte[8], 0, 8);
        }

        DeviceTlb tlb() {
            return endpoint.deviceTlb();
        }
    }

    static Device device(VtdBench b) {
        ConfigSpace config = new ConfigSpace(ConfigSpace.PCIE_SIZE);
        AtsCapability cap = new AtsCapability(config, 0x100, 0);
        AtsEndpoint ep = new AtsEndpoint(EDU, cap, b.iommu.ats());
        b.iommu.ats().attach(EDU, ep.deviceTlb());
        DmaPort port = new DmaPort(EDU, b.ram, b.iommu, () -> true);
        port.attachAts(ep);
        return new Device(config, cap, ep, port);
    }

    @Test
    void capabilityIsAnExtendedCapabilityWithIdFAndWritableEnable() {
        ConfigSpace config = new ConfigSpace(ConfigSpace.PCIE_SIZE);
        AtsCapability cap = new AtsCapability(config, 0x100, 0);
        assertThat(config.read(0x100, 4)).isEqualTo(0x0001000fL);
        assertThat(cap.enabled()).isFalse();
        config.write(0x106, 0xffff, 2);
        assertThat(config.read(0x106, 2)).isEqualTo(0x801fL);
        assertThat(cap.enabled()).isTrue();
        config.write(0x104, 0, 2); // capability register is read-only
        assertThat(config.read(0x104, 2)).isEqualTo(0x60L);
    }

    @Test
    void translationRequestToTt01ContextCompletesWithAddressSizeAndPermissions() {
        VtdBench b = legacy(true).enable();
        AtsCompletion rw = b.iommu.ats().translationRequest(EDU, null, Iova.of(0x200010), false);
        assertThat(rw.ok()).isTrue();
        assertThat(rw.translated().value()).isEqualTo(0x300000);
        assertThat(rw.size()).isEqualTo(4096);
        assertThat(rw.read()).isTrue();
        assertThat(rw.write()).isTrue();
        AtsCompletion ro = b.iommu.ats().translationRequest(EDU, null, Iova.of(0x201000), false);
        assertThat(ro.read()).isTrue();
        assertThat(ro.write()).isFalse();
        assertThat(b.fsts()).isZero();
    }

    @Test
    void superpageCompletionCarriesTheAtsSizeEncoding() {
        VtdBench b = legacy(true);
        b.ram.writeLong(L2 + 8, 0x400000 | 0x80 | 3);
        b.enable();
        AtsCompletion c = b.iommu.ats().translationRequest(EDU, null, Iova.of(0x234000), true);
        assertThat(c.size()).isEqualTo(2 << 20);
        assertThat(c.untranslated().value()).isEqualTo(0x200000);
        // 2 MiB: S = 1, bits 19:12 ones, bit 20 zero; R and W in bits 0 and 1
        assertThat(c.encodedAddress()).isEqualTo(0x400000L | 0xff000 | 0x800 | 3);
        assertThat(AtsCompletion.decodeSize(c.encodedAddress())).isEqualTo(2 << 20);
    }

    @Property(tries = 50)
    void sizeEncodingRoundTrips(@ForAll @IntRange(min = 12, max = 40) int log2) {
        long size = 1L << log2;
        long addr = 0x7L << 41;
        assertThat(AtsCompletion.decodeSize(AtsCompletion.encode(addr, size))).isEqualTo(size);
        assertThat(AtsCompletion.encode(addr, size) & -size).isEqualTo(addr);
    }

    @Test
    void unmappedPageAnswersSuccessWithNoAccessAndRecordsNothing() {
        VtdBench b = legacy(true).enable();
        AtsCompletion c = b.iommu.ats().translationRequest(EDU, null, Iova.of(0x208000), true);
        assertThat(c.ok()).isTrue();
        assertThat(c.read() || c.write()).isFalse();
        assertThat(b.fsts()).isZero();
    }

    @Test
    void translationRequestToUntranslatedOnlyContextIsUnsupportedAndRecords0xD() {
        VtdBench b = legacy(true);
        b.ram.writeLong(b.contextLo(EDU), L3 | 1); // TT = 00
        b.enable();
        AtsCompletion c = b.iommu.ats().translationRequest(EDU, null, Iova.of(0x200000), true);
        assertThat(c.status()).isEqualTo(AtsCompletion.Status.UNSUPPORTED_REQUEST);
        assertThat(c.faultReason()).isEqualTo(0xD);
        assertThat((b.frcdHi(0) >>> 32) & 0xff).isEqualTo(0xD);
    }

    @Test
    void withoutEcapDtTheDeviceTlbContextIsInvalidAndAtsFails() {
        VtdBench b = legacy(false).enable();
        assertThat(b.readq(VtdRegisters.ECAP) & 4).isZero();
        AtsCompletion c = b.iommu.ats().translationRequest(EDU, null, Iova.of(0x200000), true);
        assertThat(c.ok()).isFalse();
        assertThat((b.frcdHi(0) >>> 32) & 0xff).isEqualTo(3); // QEMU's reason for a disallowed TT
    }

    @Test
    void translatedRequestFromUntranslatedOnlyContextIsBlockedWith0xD() {
        VtdBench b = legacy(true);
        b.ram.writeLong(b.contextLo(EDU), L3 | 1);
        b.enable();
        var r = b.iommu.ats().translatedRequest(new DmaRequest(EDU, Iova.of(0x300000), 8, DmaAccess.WRITE));
        assertThat(r).isInstanceOf(DmaFault.class);
        assertThat(((DmaFault) r).reason()).isEqualTo(0xD);
        assertThat(((DmaFault) r).recorded()).isTrue();
    }

    @Test
    void deviceUsesItsTlbForLaterDmasUntilADeviceTlbDescriptorInvalidatesIt() {
        VtdBench b = legacy(true).enable().enableQueue();
        Device d = device(b);
        d.enableAts();
        b.ram.writeLong(0x300000, 0x1111);
        byte[] buf = new byte[8];
        assertThat(d.port().read(Iova.of(0x200000), buf, 0, 8).ok()).isTrue();
        assertThat(buf[0]).isEqualTo((byte) 0x11);
        assertThat(d.tlb().size()).isEqualTo(1);
        // Remap the page and flush the IOMMU's own IOTLB: the device still uses its cached entry.
        b.ram.writeLong(L1, 0x305000 | 3);
        b.ram.writeLong(0x305000, 0x2222);
        b.iommu.invalidateIotlbGlobal();
        d.port().read(Iova.of(0x200000), buf, 0, 8);
        assertThat(buf[0]).isEqualTo((byte) 0x11);
        assertThat(d.endpoint().translationRequests()).isEqualTo(1);
        // Device-TLB invalidation (type 3): SID 0x0008, 4 KiB at 0x200000.
        b.descriptor(0, 0x3 | ((long) EDU.value() << 32), 0x200000);
        b.descriptor(1, 0x5 | 0x20 | (1L << 32), STATUS); // wait, status 1
        b.tail(2);
        assertThat(d.tlb().size()).isZero();
        d.port().read(Iova.of(0x200000), buf, 0, 8);
        assertThat(buf[0]).isEqualTo((byte) 0x22);
        assertThat(d.endpoint().translationRequests()).isEqualTo(2);
    }

    @Test
    void sizeBitInADeviceTlbDescriptorInvalidatesTheEncodedRange() {
        VtdBench b = legacy(true).enable().enableQueue();
        Device d = device(b);
        d.enableAts();
        d.read(0x200000);
        d.read(0x201000);
        assertThat(d.tlb().size()).isEqualTo(2);
        // S = 1, ADDR bit 12 = 0: 8 KiB at 0x200000
        b.descriptor(0, 0x3 | ((long) EDU.value() << 32), 0x200000 | 1);
        b.tail(1);
        assertThat(d.tlb().size()).isZero();
        d.read(0x200000);
        // another device's SID: nothing happens
        b.descriptor(1, 0x3 | (0x10L << 32), 0x200000);
        b.tail(2);
        assertThat(d.tlb().size()).isEqualTo(1);
    }

    @Test
    void withAtsDisabledTheDeviceSendsUntranslatedRequests() {
        VtdBench b = legacy(true).enable();
        Device d = device(b);
        assertThat(d.read(0x200000).ok()).isTrue();
        assertThat(d.endpoint().translationRequests()).isZero();
        assertThat(b.iommu.iotlbContains(EDU, Iova.of(0x200000))).isTrue();
    }

    @Test
    void writeThroughACachedReadOnlyEntryFailsWithoutReachingMemory() {
        VtdBench b = legacy(true).enable();
        Device d = device(b);
        d.enableAts();
        b.ram.writeLong(0x301000, 0x55);
        DmaPort.Outcome o = d.port().write(Iova.of(0x201000), new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, 0, 8);
        assertThat(o.ok()).isFalse();
        assertThat(b.ram.readLong(0x301000)).isEqualTo(0x55);
    }

    // ---- scalable mode ----

    static ScalableBench scalable(boolean dte) {
        ScalableBench s = new ScalableBench("device-iotlb=on");
        s.context(PDIR_Q0 | (dte ? ScalableContextEntry.DTE : 0) | ScalableContextEntry.PASIDE, 0);
        s.pasidEntry(4, ScalableBench.SL_PE, 1, 0);
        return s;
    }

    static final long PDIR_Q0 = ScalableBench.PDIR | 1;

    @Test
    void scalableTranslationRequestNeedsDteAndUsesThePasidEntry() {
        ScalableBench s = scalable(true).enable();
        AtsCompletion c = s.iommu().ats().translationRequest(EDU, null, Iova.of(0x2000), false);
        assertThat(c.ok()).isTrue();
        assertThat(c.translated().value()).isEqualTo(0x300000);
        AtsCompletion p = s.iommu().ats().translationRequest(EDU, PasidPrefix.of(4), Iova.of(0x1000), true);
        assertThat(p.translated().value()).isEqualTo(0x200000);
        assertThat(p.write()).isFalse();

        ScalableBench noDte = scalable(false).enable();
        AtsCompletion u = noDte.iommu().ats().translationRequest(EDU, null, Iova.of(0x2000), false);
        assertThat(u.status()).isEqualTo(AtsCompletion.Status.UNSUPPORTED_REQUEST);
        assertThat(noDte.frcdReason()).isEqualTo(0x44);
        var t = noDte.iommu().ats().translatedRequest(new DmaRequest(EDU, Iova.of(0x300000), 8, DmaAccess.READ));
        assertThat(t).isInstanceOf(DmaFault.class);
    }

    @Test
    void pasidDeviceTlbDescriptorReachesOnlyThatPasidsEntries() {
        ScalableBench s = scalable(true).enable().enableQueue();
        Device d = device(s.b);
        d.enableAts();
        d.endpoint().setPasid(PasidPrefix.of(4));
        d.read(0x1000);
        d.endpoint().setPasid(null);
        d.read(0x1000);
        assertThat(d.tlb().contains(4, Iova.of(0x1000))).isTrue();
        assertThat(d.tlb().contains(DeviceTlb.NO_PASID, Iova.of(0x1000))).isTrue();
        // type 8: SID 31:16, PASID 51:32; hi ADDR, S = 0
        s.submit(0x8 | ((long) EDU.value() << 16) | (4L << 32), 0x1000);
        assertThat(s.b.fsts() & VtdRegisters.FSTS_IQE).isZero();
        assertThat(d.tlb().contains(4, Iova.of(0x1000))).isFalse();
        assertThat(d.tlb().contains(DeviceTlb.NO_PASID, Iova.of(0x1000))).isTrue();
        // global (G = 1) reaches every PASID, including requests without PASID
        s.submit(0x8 | ((long) EDU.value() << 16), 0x1000 | 1);
        assertThat(d.tlb().size()).isZero();
    }

    @Test
    void translatedRequestWithDteSkipsTheWalk() {
        ScalableBench s = scalable(true).enable();
        var t = s.iommu().ats().translatedRequest(new DmaRequest(EDU, Iova.of(0x9000), 8, DmaAccess.WRITE));
        assertThat(t).isInstanceOf(Translation.class);
        assertThat(s.iommu().iotlbSize()).isZero();
    }
}
