package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.viommu.linux.Kernel;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code viommu run}'s virtio path, end to end: the guest's virtio-pci driver sets up queue 0 of a
 * virtio-rng-pci (BAR4's common configuration) and posts a device-writable buffer; the device
 * reads the avail ring and the descriptor, writes entropy into the buffer and the used ring —
 * every one of those DMAs through the vIOMMU with {@code iommu_platform=on}, on system memory
 * without it (reported, never silent); the bytes compared with what the device wrote, byte for
 * byte; and a request on the unmapped IOVA faults in the vIOMMU.
 */
class RunVirtioPathTest {
    static final String HOST = "-machine q35 -m 2G -append intel_iommu=on -nodefaults"
            + " -device intel-iommu,caching-mode=on";

    static RunInterruptPathTest.Out run(boolean json, String... vm) throws Exception {
        Kernel host = QtestHost.bootHost(HOST);
        return RunInterruptPathTest.run(host, HOST, json, vm);
    }

    static JsonNode virtio(RunInterruptPathTest.Out r, int n) throws Exception {
        assertThat(r.rc()).as(r.out() + r.err()).isZero();
        JsonNode doc = RunCommandTest.oneDocument(r.out());
        assertThat(doc.get("virtio")).hasSize(n);
        return doc;
    }

    @Test
    void withIommuPlatformEveryDmaOfTheQueueGoesThroughTheViommuAndAStaleIovaFaults() throws Exception {
        JsonNode doc = virtio(run(true, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-device", "virtio-rng-pci,disable-legacy=on,iommu_platform=on"), 1);
        JsonNode v = doc.at("/virtio/0");
        assertThat(v.get("path").asText()).isEqualTo("vIOMMU");
        assertThat(v.get("features").asText()).contains("ACCESS_PLATFORM");
        assertThat(texts(v.get("accesses"))).containsExactly(
                "avail idx read 2 B at 0xffffe082", "avail ring read 2 B at 0xffffe084",
                "descriptor 0 read 16 B at 0xffffe000", "buffer write 64 B at 0xffffd000",
                "used elem write 8 B at 0xffffe09c", "used idx write 2 B at 0xffffe09a");
        assertThat(v.get("translated").asInt()).isEqualTo(6);
        assertThat(v.get("bypassed").asInt()).isZero();
        assertThat(v.get("faulted").asInt()).isZero();
        assertThat(v.get("bytesChecked").asInt()).isEqualTo(64);
        assertThat(v.get("bytesMatched").asBoolean()).isTrue();
        assertThat(v.get("usedLen").asInt()).isEqualTo(64);
        assertThat(v.get("afterUnmap").asText()).isEqualTo("faulted in the vIOMMU; the page kept its bytes");
        assertThat(doc.at("/counts/viommuFaults").asLong()).isEqualTo(1); // the stale request's, logged by the guest
        assertThat(doc.get("warnings").toString()).doesNotContain("bypasses");
    }

    @Test
    void withoutIommuPlatformTheDeviceBypassesTheViommuAndTheReportSaysSo() throws Exception {
        RunInterruptPathTest.Out r = run(false, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-device", "virtio-rng-pci");
        assertThat(r.rc()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("DMA path         BYPASSES the vIOMMU: no ACCESS_PLATFORM (iommu_platform=off)",
                "descriptor 0 read 16 B at 0x", "(system memory, bypassing the vIOMMU)",
                "DMAs 6 (through the vIOMMU 0, bypassing it 6), faults 0; used length 64; bytes: 64 compared in guest"
                        + " RAM with what the device wrote: identical",
                "viommu: warning: virtio-rng-pci at 00:01.0 has no iommu_platform=on: its DMA bypasses the vIOMMU",
                "RESULT  ok");
        JsonNode doc = virtio(run(true, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-device", "virtio-rng-pci"), 1);
        JsonNode v = doc.at("/virtio/0");
        assertThat(v.get("path").asText()).isEqualTo("bypass");
        assertThat(v.get("ring").asText()).contains("guest-physical");
        assertThat(v.get("afterUnmap").isNull()).isTrue();
    }

    @Test
    void withoutViommuTheRingHoldsGuestPhysicalAddresses() throws Exception {
        JsonNode v = virtio(run(true, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "virtio-rng-pci,disable-legacy=on,iommu_platform=on"), 1).at("/virtio/0");
        assertThat(v.get("path").asText()).isEqualTo("no vIOMMU");
        assertThat(v.get("bytesMatched").asBoolean()).isTrue();
        assertThat(v.get("buffer").asText()).contains("dma-direct");
    }

    /**
     * ats=on behind a PCIe root port with device-iotlb=on: the guest enables ATS; the device
     * translates through translation requests and then its device-TLB; the guest's unmap sends a
     * device-TLB invalidation (with PFSID 0, as Linux 6.1 does without ECAP.DIT, which QEMU 7.2
     * would otherwise refuse as reserved bits), so the stale request faults.
     */
    @Test
    void withAtsTheDeviceTranslatesThroughItsDeviceTlbAndTheGuestsUnmapInvalidatesIt() throws Exception {
        JsonNode doc = virtio(run(true, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on,device-iotlb=on", "-device", "pcie-root-port,id=rp,chassis=1",
                "-device", "virtio-rng-pci,bus=rp,iommu_platform=on,ats=on"), 1);
        JsonNode v = doc.at("/virtio/0");
        assertThat(v.get("bdf").asText()).isEqualTo("0000:01:00.0");
        assertThat(v.get("path").asText()).isEqualTo("vIOMMU (ATS)");
        assertThat(v.get("translated").asInt()).isEqualTo(6);
        assertThat(v.get("bytesMatched").asBoolean()).isTrue();
        assertThat(v.get("atsTranslationRequests").asLong()).isPositive();
        assertThat(v.get("deviceTlbHits").asLong()).isPositive();
        assertThat(v.get("deviceTlbInvalidations").asLong()).isEqualTo(1);
        assertThat(v.get("afterUnmap").asText()).startsWith("faulted in the vIOMMU (ATS: the device-TLB entry was"
                + " invalidated");
        // ats=on without device-iotlb: the guest does not enable ATS; plain translated DMA
        JsonNode plain = virtio(run(true, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-device", "pcie-root-port,id=rp,chassis=1",
                "-device", "virtio-rng-pci,bus=rp,iommu_platform=on,ats=on"), 1).at("/virtio/0");
        assertThat(plain.get("path").asText()).isEqualTo("vIOMMU");
        assertThat(plain.get("afterUnmap").asText()).isEqualTo("faulted in the vIOMMU; the page kept its bytes");
    }

    @Test
    void iommuPlatformOnATransitionalDeviceIsRefusedWithQemusMessage() throws Exception {
        RunInterruptPathTest.Out r = run(false, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-device", "virtio-rng-pci,iommu_platform=on");
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.err()).contains("qemu-system-x86_64: -device virtio-rng-pci,iommu_platform=on:"
                + " VIRTIO_F_IOMMU_PLATFORM was supported by neither legacy nor transitional device");
    }

    static List<String> texts(JsonNode a) {
        List<String> out = new java.util.ArrayList<>();
        a.forEach(x -> out.add(x.asText()));
        return out;
    }
}
