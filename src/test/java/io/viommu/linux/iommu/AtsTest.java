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
 * invalidation after every strict unmap. Linux 6.1 fills the descriptor's PFSID field, which
 * QEMU 7.2 (and so the VT-d model) still treats as reserved: the descriptor is refused with an
 * invalidation queue error, Linux clears it and goes on, and the device keeps its stale
 * translation.
 */
class AtsTest {
    @Test
    void strictUnmapSendsADeviceTlbInvalidationThatQemu72RefusesSoTheDeviceTlbStaysStale() throws Exception {
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
        assertThat(g.driver().messages()).anyMatch(m -> m.startsWith("DMAR: VT-d detected invalid descriptor: qw0 = "))
                .contains("DMAR: Invalidation Queue Error (IQE) cleared");
        assertThat(g.machine.iommu().load(VtdRegisters.FSTS, 4) & VtdRegisters.FSTS_IQE).isZero();
        // the device-TLB entry survived: the device still reads the unmapped buffer
        assertThat(g.deviceRead(edu, iova, b).ok()).isTrue();
        assertThat(b[0]).isEqualTo((byte) 0x66);

        // the queue recovered: the next batch runs the patched slot, then its own IOTLB
        // invalidation, and stops only at its own (again refused) device-TLB descriptor
        int messages = g.driver().messages().size();
        IommuDomain dom = g.driver().domainOf(g.group(edu.address()));
        dom.flushIotlbAll();
        assertThat(g.driver().messages().subList(messages, g.driver().messages().size()))
                .filteredOn(m -> m.contains("invalid descriptor")).hasSize(1);
        assertThat(g.driver().messages()).noneMatch(m -> m.contains("did not complete"));
    }
}
