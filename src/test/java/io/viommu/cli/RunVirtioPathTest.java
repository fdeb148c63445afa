package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.viommu.linux.Kernel;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code viommu run}'s virtio path, end to end: the guest's virtio-pci driver sets up the queues of
 * a virtio-rng-pci, virtio-net-pci or virtio-blk-pci (BAR4's common configuration) and makes its
 * driver's request (a device-writable buffer; a frame sent and received; a disk write and read);
 * the device reads the avail ring and the descriptors, moves the data and writes the used ring —
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

    /**
     * virtio-net with iommu_platform=on,ats=on behind a root port and device-iotlb=on: the
     * guest's driver posts a receive buffer and transmits a frame; the device reads the frame
     * from the transmit ring and writes it into the receive buffer (the model's loopback
     * backend), every DMA through the vIOMMU's ATS path; the bytes it read are the guest's frame
     * and the bytes it wrote are in guest RAM; a stale receive buffer faults.
     */
    @Test
    void virtioNetSendsAndReceivesAFrameThroughTheViommusAtsPath() throws Exception {
        JsonNode doc = virtio(run(true, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on,device-iotlb=on", "-device", "pcie-root-port,id=rp,chassis=1",
                "-netdev", "user,id=n0", "-device", "virtio-net-pci,bus=rp,netdev=n0,iommu_platform=on,ats=on"), 1);
        JsonNode v = doc.at("/virtio/0");
        assertThat(v.get("device").asText()).isEqualTo("virtio-net-pci");
        assertThat(v.get("path").asText()).isEqualTo("vIOMMU (ATS)");
        assertThat(v.get("features").asText()).contains("VERSION_1, MAC, ACCESS_PLATFORM");
        assertThat(v.get("ring").asText()).contains("receiveq: desc 0x", "transmitq: desc 0x", "256 entries");
        List<String> a = texts(v.get("accesses"));
        assertThat(a).hasSize(12);
        assertThat(a.get(3)).matches("tx buffer read 90 B at 0x[0-9a-f]+");
        assertThat(a.get(9)).matches("rx buffer write 90 B at 0x[0-9a-f]+");
        assertThat(v.get("translated").asInt()).isEqualTo(12);
        assertThat(v.get("faulted").asInt()).isZero();
        assertThat(v.get("bytesChecked").asInt()).isEqualTo(180);
        assertThat(v.get("bytesMatched").asBoolean()).isTrue();
        assertThat(v.get("usedLen").asInt()).isEqualTo(90);
        assertThat(v.get("atsTranslationRequests").asLong()).isPositive();
        assertThat(v.get("deviceTlbInvalidations").asLong()).isPositive();
        assertThat(v.get("afterUnmap").asText()).startsWith("faulted in the vIOMMU (ATS: the device-TLB entry was"
                + " invalidated");
        assertThat(v.get("ok").asBoolean()).isTrue();
        assertThat(doc.get("ok").asBoolean()).isTrue();
    }

    /**
     * virtio-blk with iommu_platform=on (disable-legacy=on on pcie.0): 4 KiB written to the
     * model disk and read back, header, data and status each a translated DMA; the data read back
     * is the data written, in guest RAM; a read into the unmapped buffer faults in the vIOMMU, is
     * logged by the guest, and leaves the page as it was.
     */
    @Test
    void virtioBlkWritesAndReadsItsDiskThroughTheViommu() throws Exception {
        JsonNode doc = virtio(run(true, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-blockdev", "driver=file,filename=/nonexistent.img,node-name=d0",
                "-device", "virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on"), 1);
        JsonNode v = doc.at("/virtio/0");
        assertThat(v.get("device").asText()).isEqualTo("virtio-blk-pci");
        assertThat(v.get("path").asText()).isEqualTo("vIOMMU");
        List<String> a = texts(v.get("accesses"));
        assertThat(a).hasSize(20);
        assertThat(a.subList(5, 8)).satisfiesExactly(
                x -> assertThat(x).matches("request header read 16 B at 0x[0-9a-f]+"),
                x -> assertThat(x).matches("data read 4096 B at 0x[0-9a-f]+"),
                x -> assertThat(x).matches("status write 1 B at 0x[0-9a-f]+"));
        assertThat(a.get(16)).matches("data write 4096 B at 0x[0-9a-f]+");
        assertThat(v.get("translated").asInt()).isEqualTo(20);
        assertThat(v.get("bytesChecked").asInt()).isEqualTo(8194);
        assertThat(v.get("bytesMatched").asBoolean()).isTrue();
        assertThat(v.get("usedLen").asInt()).isEqualTo(4097);
        assertThat(v.get("afterUnmap").asText()).isEqualTo("faulted in the vIOMMU; the page kept its bytes");
        assertThat(doc.at("/counts/viommuFaults").asLong()).isEqualTo(1);
        assertThat(doc.get("noEffect").toString()).contains("/nonexistent.img");
    }

    /** The seeds' {@code -drive file=...,if=virtio} disk and a default virtio NIC: both bypass, both said so. */
    @Test
    void aVirtioDiskAndNicWithoutIommuPlatformBypassAndTheReportSaysSo() throws Exception {
        RunInterruptPathTest.Out r = run(false, "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-drive", "file=/nonexistent.img,if=virtio",
                "-netdev", "user,id=n0,hostfwd=tcp::2222-:22", "-device", "virtio-net-pci,netdev=n0");
        assertThat(r.rc()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("  virtio-net-pci at 0000:00:01.0:", "  virtio-blk-pci at 0000:00:02.0:",
                "tx buffer read 90 B at 0x", "data write 4096 B at 0x",
                "DMAs 12 (through the vIOMMU 0, bypassing it 12), faults 0; used length 90; bytes: 90 the device read"
                        + " from the transmit buffer against what the guest wrote, 90 it wrote into the receive buffer"
                        + " against guest RAM: identical",
                "DMAs 20 (through the vIOMMU 0, bypassing it 20), faults 0; used length 4097",
                "viommu: warning: virtio-net-pci at 00:01.0 has no iommu_platform=on: its DMA bypasses the vIOMMU",
                "viommu: warning: virtio-blk-pci at 00:02.0 has no iommu_platform=on: its DMA bypasses the vIOMMU",
                "RESULT  ok");
        assertThat(r.out()).doesNotContain("the unmapped IOVA posted again");
    }

    static List<String> texts(JsonNode a) {
        List<String> out = new java.util.ArrayList<>();
        a.forEach(x -> out.add(x.asText()));
        return out;
    }
}
