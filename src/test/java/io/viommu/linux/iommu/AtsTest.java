package io.viommu.linux.iommu;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.AtsCapability;
import io.viommu.pci.PciFunction;
import io.viommu.vtd.ContextEntry;
import io.viommu.vtd.VtdRegisters;
import org.junit.jupiter.api.Test;

/**
 * A device with ATS under device-iotlb=on: TT=01 context entries, ATS enabled, and a device-TLB
 * invalidation after every strict unmap. Linux 6.1 leaves the descriptor's PFSID 0 when the unit
 * has no ECAP.DIT (iommu_enable_pci_caps: "If DIT is not set, PFSID will be treated as reserved,
 * which should be set to 0"; QEMU never sets DIT), so QEMU 7.2's reserved-bit check passes it and
 * the device's stale translation is dropped.
 */
class AtsTest {
    @Test
    void strictUnmapSendsADeviceTlbInvalidationWithPfsidZeroThatDropsTheDevicesTranslation() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", "intel-iommu,intremap=off,device-iotlb=on", "edu,x-ats=on");
        PciFunction edu = g.device("edu");
        long[] ce = DriverBootTest.context(g, edu.address());
        assertThat(ContextEntry.translationType(ce[0])).isEqualTo(ContextEntry.TT_DEV_IOTLB);
        assertThat(edu.configRead(0x100 + AtsCapability.CONTROL, 2) & AtsCapability.CONTROL_ENABLE).isNotZero();

        PhysAddr buf = g.buffer(0x66);
        Iova iova = g.dma().mapSingle(edu.address(), buf, 4096, DmaDirection.BIDIRECTIONAL);
        byte[] b = new byte[1];
        assertThat(g.deviceRead(edu, iova, b).ok()).isTrue(); // now in the device's TLB

        IommuCounters before = g.counters();
        g.dma().unmapSingle(edu.address(), iova, 4096, DmaDirection.BIDIRECTIONAL);
        IommuCounters d = g.counters().minus(before);
        assertThat(d.iotlbPage()).isEqualTo(1);
        assertThat(d.deviceTlb()).isEqualTo(1);
        assertThat(g.driver().messages()).noneMatch(m -> m.contains("invalid descriptor"));
        assertThat(g.machine.iommu().load(VtdRegisters.FSTS, 4) & VtdRegisters.FSTS_IQE).isZero();
        // the device-TLB entry is gone: the device's read of the unmapped buffer is refused
        b[0] = 0;
        assertThat(g.deviceRead(edu, iova, b).ok()).isFalse();
        assertThat(b[0]).isZero();
    }
}
