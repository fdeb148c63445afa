package io.viommu.linux.iommu;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.DriverDma;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.driver.PciDriver;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.PciFunction;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import java.util.List;
import org.junit.jupiter.api.Test;

/** DMA-API drivers map their rings through the kernel's DMA API while bound, and unmap them on unbind. */
class DriverDmaTest {

    private static PciDevice device(Guest g, PciFunction f) {
        return g.kernel.drivers().devices().stream().filter(d -> d.rid().equals(f.address())).findFirst().orElseThrow();
    }

    private static PciDriver driver(Guest g, String name) {
        return g.kernel.drivers().driver(name).orElseThrow();
    }

    @Test
    void boundE1000eRingsTranslateToTheirPagesAndFaultAfterUnbind() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", Guest.NO_CM, "e1000e");
        PciFunction nic = g.device("e1000e");
        List<String> bootLog = g.kernel.dmesg();
        assertThat(g.kernel.drivers().loadModule("e1000e")).isZero();
        PciDevice dev = device(g, nic);
        DriverDma dma = driver(g, "e1000e").dma();
        assertThat(dev.driver().name()).isEqualTo("e1000e");
        assertThat(g.dma().dmaMask(nic.address())).isEqualTo(~0L); // dma_set_mask_and_coherent(64)
        assertThat(g.kernel.dmesg()).isEqualTo(bootLog); // mapping prints nothing

        List<DriverDma.Buffer> bufs = dma.buffers(dev);
        assertThat(bufs).hasSize(2 + DriverDma.NIC_RX_BUFFERS);
        assertThat(dma.maps()).isEqualTo(bufs.size());
        DriverDma.Buffer ring = bufs.get(1); // rx-ring
        assertThat(ring.spec().name()).isEqualTo("rx-ring");
        assertThat(ring.dma()).isNotEqualTo(ring.phys()); // an IOVA, not the physical address
        TranslationResult t = g.machine.iommu().translate(
                new DmaRequest(nic.address(), new Iova(ring.dma()), 16, DmaAccess.READ));
        assertThat(t).isInstanceOf(Translation.class);
        assertThat(((Translation) t).output(new Iova(ring.dma())).value()).isEqualTo(ring.phys());
        g.machine.memory().write(PhysAddr.of(ring.phys() + 8), 0x1234_5678L, 4);
        byte[] got = new byte[4];
        assertThat(g.deviceRead(nic, new Iova(ring.dma() + 8), got).ok()).isTrue();
        assertThat(got).containsExactly(0x78, 0x56, 0x34, 0x12);

        g.kernel.drivers().deviceReleaseDriver(dev);
        assertThat(dma.buffers(dev)).isEmpty();
        assertThat(dma.unmaps()).isEqualTo(bufs.size());
        assertThat(g.machine.iommu().translate(
                new DmaRequest(nic.address(), new Iova(ring.dma()), 16, DmaAccess.READ))).isInstanceOf(DmaFault.class);
        assertThat(g.deviceRead(nic, new Iova(ring.dma() + 8), got).fault()).isNotNull();
    }

    @Test
    void underCachingModeEachMapCostsOnePageSelectiveInvalidation() throws Exception {
        Guest g = Guest.boot(null, Guest.CM, "e1000e");
        IommuCounters before = g.counters();
        g.kernel.drivers().loadModule("e1000e");
        DriverDma dma = driver(g, "e1000e").dma();
        IommuCounters d = g.counters().minus(before);
        assertThat(dma.maps()).isEqualTo(2 + DriverDma.NIC_RX_BUFFERS);
        assertThat(d.iotlbPage()).isEqualTo(dma.maps());
    }

    @Test
    void withoutTranslationTheDriverMapsDirectly() throws Exception {
        for (String append : List.of("intel_iommu=off", "iommu=pt")) {
            Guest g = Guest.boot(append, Guest.NO_CM, "e1000e");
            g.kernel.drivers().loadModule("e1000e");
            PciDevice dev = device(g, g.device("e1000e"));
            DriverDma dma = driver(g, "e1000e").dma();
            assertThat(dma.buffers(dev)).isNotEmpty().allSatisfy(b -> assertThat(b.dma()).isEqualTo(b.phys()));
            long entries = g.driver() == null ? 0 : g.counters().iotlbPage();
            assertThat(entries).as(append).isZero();
        }
    }

    @Test
    void nvmeAndVirtioMapTheirQueuesAndE1000UsesA32BitMask() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "nvme,serial=x", "virtio-net-pci", "e1000");
        for (String m : List.of("nvme", "virtio_pci", "e1000")) {
            g.kernel.drivers().loadModule(m);
        }
        PciDevice nvme = device(g, g.device("nvme"));
        assertThat(driver(g, "nvme").dma().buffers(nvme)).extracting(b -> b.spec().name())
                .containsExactly("admin-sq", "admin-cq");
        PciDevice vq = device(g, g.device("virtio-net-pci"));
        assertThat(driver(g, "virtio-pci").dma().buffers(vq)).hasSize(1);
        PciFunction e1000 = g.device("e1000");
        assertThat(g.dma().dmaMask(e1000.address())).isEqualTo(0xffff_ffffL);
        assertThat(driver(g, "e1000").dma().buffers(device(g, e1000))).allSatisfy(
                b -> assertThat(b.dma()).isLessThanOrEqualTo(0xffff_ffffL));
        assertThat(driver(g, "pcieport").dma()).isNull();
    }
}
