package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The vIOMMU path end to end, held against real captures (src/test/resources/vmm/viommu/NAME,
 * {@code capture.sh} the command, {@code ../vtd-dma.qtest} the script with its pauses): a VM
 * with {@code -device intel-iommu,caching-mode=on} and the host's edu assigned; the "guest"
 * writes root/context/second-level tables, sets the root table, enables TE, invalidates the
 * context cache and the IOTLB globally by register, then programs the edu's DMA to mapped and
 * unmapped IOVAs. {@code vtd-dma}: intel-iommu first, the DMA is translated (the data lands in
 * the mapped guest page; the unmapped and read-only IOVAs fault in the HOST unit, which the host
 * kernel logs). {@code vfio-first}: vfio-pci listed first takes system memory at realize (QEMU
 * 7.2's vfio_realize -> pci_device_iommu_address_space), so the same DMA lands at GPA = IOVA.
 */
class VmmViommuCaptureTest {
    static final Path DIR = VmmFixtureTest.DIR.resolve("viommu");

    static final String BYPASS = "viommu: warning: vfio-pci 0000:00:04.0 (00:01.0 in the VM) is listed before "
            + "-device intel-iommu: its DMA bypasses the vIOMMU (all guest RAM mapped at its guest-physical "
            + "address); QEMU 7.2 does not warn";

    static Kernel assertCapture(String name) throws Exception {
        Kernel k = VmmFixtureTest.fixtureHost();
        // the DMAR fault lines included in the host's: the host's CPU takes the unit's fault
        // event between two commands and dmar_fault prints them
        List<String> own = VmmFixtureTest.assertCaptureDir(k, DIR.resolve(name));
        assertThat(own).as(name + " warnings").isEqualTo(name.equals("vfio-first") ? List.of(BYPASS) : List.of());
        return k;
    }

    @Test
    void intelIommuFirstTranslatesTheAssignedDevice() throws Exception {
        Kernel k = assertCapture("vtd-dma");
        assertThat(k.log().messages().stream().filter(m -> m.text().startsWith("DMAR: [DMA Write")).count()).isEqualTo(2);
        // and dmar_fault cleared the host unit's records, as the real host's did
        long fsts = k.machine().iommu().load(0x34, 4);
        assertThat(fsts & 0x3).as("FSTS PFO|PPF").isZero();
    }

    /**
     * {@code qi-dma} (its capture.sh; script ../qi-dma.qtest): the same tables invalidated through
     * the queued-invalidation interface: IQA at 0x110000, QIE, TE, then a context-cache global +
     * IOTLB global + wait descriptor (status 1 at 0x120000), a page-selective IOTLB descriptor for
     * a new mapping IOVA 0x4000 -> GPA 0x400000 + wait (2), DMAs through both mappings, the
     * mapping cleared with another page-selective descriptor + wait (3), and a DMA to IOVA 0x4000
     * that now faults in the HOST unit. Replies, stderr, exit status and host kernel lines are the
     * real ones byte for byte.
     */
    @Test
    void queuedInvalidationDescriptorsDriveTheShadowAsRegisterInvalidationDoes() throws Exception {
        Kernel k = assertCapture("qi-dma");
        assertThat(k.log().messages().stream().filter(m -> m.text().startsWith("DMAR: [DMA Write")).map(m -> m.text()))
                .containsExactly("DMAR: [DMA Write NO_PASID] Request device [00:04.0] fault addr 0x4000"
                        + " [fault reason 0x05] PTE Write access is not set");
    }

    @Test
    void vfioPciFirstBypassesTheVirtualIommu() throws Exception {
        assertCapture("vfio-first");
    }

    @Test
    void anEmulatedDeviceListedBeforeIntelIommuIsTranslatedAllTheSame() throws Exception {
        // viommu/edu-first: the machine's QEMU 7.2 (run.sh), the same guest tables and DMA with an
        // emulated edu listed BEFORE intel-iommu: the copy lands at GPA 0x300000 and the stray
        // write faults in the VM's unit (FSTS 0x2: primary pending fault) - identical replies to
        // the edu listed after it. Only vfio-pci has the order trap.
        Path d = DIR.resolve("edu-first");
        var m = io.viommu.machine.config.MachineBuilder.build(List.of("-M", "q35", "-accel", "tcg", "-display", "none",
                "-nodefaults", "-m", "128M", "-device", "edu", "-device", "intel-iommu,caching-mode=on"),
                io.viommu.machine.device.MachineLog.SILENT).machine();
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        QtestServer s = new QtestServer(m, new java.io.PrintStream(o, true, StandardCharsets.UTF_8),
                new java.io.PrintStream(new java.io.ByteArrayOutputStream()));
        for (String line : Files.readAllLines(d.resolve("sent.qtest"))) {
            s.handle(line);
        }
        assertThat(o.toString(StandardCharsets.UTF_8)).isEqualTo(Files.readString(d.resolve("qemu.out")));
    }

    /**
     * hw_error after set-up: with snoop-control=on the notifier is refused (vfio_listener_region_add),
     * which once DMAR is on is QEMU 7.2's {@code vfio: DMA mapping failed, unable to continue}
     * hw_error: {@code qemu: hardware error: ...}, the vCPU dump (skipped, a viommu note says so)
     * and abort() - no reply to the command, nothing served after it, status 134 (128 + SIGABRT).
     */
    @Test
    void aHardwareErrorEndsTheVmmAsQemusAbortDoes() throws Exception {
        Path d = DIR.resolve("vtd-dma");
        List<String> argv = new ArrayList<>(List.of(Files.readString(d.resolve("vmm.cmd")).trim().split(" ")));
        argv.remove(0);
        String script = Files.readString(d.resolve("vmm.qtest"), StandardCharsets.UTF_8);
        String te = "writel 0xfed90018 0x80000000\n";
        String before = script.substring(0, script.indexOf(te));
        List<String> snoop = new ArrayList<>(argv);
        snoop.set(snoop.indexOf("intel-iommu,caching-mode=on"), "intel-iommu,caching-mode=on,snoop-control=on");
        VmmFixtureTest.Run ok = VmmFixtureTest.run(VmmFixtureTest.fixtureHost(), snoop, before);
        VmmFixtureTest.Run r = VmmFixtureTest.run(VmmFixtureTest.fixtureHost(), snoop, script);
        assertThat(r.rc()).isEqualTo(134);
        assertThat(r.out()).isEqualTo(ok.out());
        assertThat(r.err()).isEqualTo(ok.err()
                + "qemu-system-x86_64: Snoop Control with vhost or VFIO is not supported: Operation not supported\n"
                + "qemu: hardware error: vfio: DMA mapping failed, unable to continue\n"
                + "viommu: note: QEMU 7.2 dumps every vCPU's registers here and aborts (SIGABRT);"
                + " viommu skips the dump and exits with status 134\n");
    }
}
