package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * MSI-X and DMA of an assigned nvme, held against real captures (src/test/resources/vmm/msix:
 * {@code host.args} and {@code host-setup.sh} the host, NAME/{@code capture.sh} the command,
 * {@code NAME.qtest} the script with its pauses, NAME/{@code vmm.qtest} what was sent): QEMU 7.2
 * (TCG) assigning QEMU's nvme of a real Linux 6.1 host (no interrupt remapping on the host,
 * allow_unsafe_interrupts=1). The script is the guest's nvme driver: it programs the VMM's
 * MSI-X table, enables MSI-X, enables the controller with admin queues in guest RAM and
 * submits commands; the host nvme DMAs the command in, the data and the completion out, and
 * raises its MSI-X vector 0 through the host's vfio-pci to the VMM, which writes the message
 * the guest programmed.
 */
class VmmMsixCaptureTest {
    static final Path DIR = VmmFixtureTest.DIR.resolve("msix");

    static Kernel nvmeHost() throws Exception {
        Kernel k = QtestHost.bootHost(Files.readString(DIR.resolve("host.args")).trim() + " -nodefaults");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertThat(QtestHost.runSetup(k, DIR.resolve("host-setup.sh"), new PrintStream(err, true, StandardCharsets.UTF_8)))
                .as(err.toString(StandardCharsets.UTF_8)).isZero();
        return k;
    }

    /**
     * {@code nvme}: every vector of QEMU's table starts masked; entry 0 programmed (RAM address
     * 0x100000, data 0x4321) and MSI-X enabled (the host vector enabled through VFIO); Identify
     * Controller lands at 0x300000 (ids, serial, model, QEMU's version as firmware revision), its
     * completion in the admin CQ and the message at 0x100000. Vector 0 masked: the next
     * completion's message is pending (QEMU's PBA reads 1) and is sent when the guest unmasks
     * it (the PBA reads the device's again: 0). Reprogrammed, the next lands at the new address;
     * MSI-X disabled, the capability and the guest's table read back as left.
     */
    @Test
    void msixLandsWhereTheGuestProgrammedItAndAMaskedVectorIsPending() throws Exception {
        assertThat(VmmFixtureTest.assertCaptureDir(nvmeHost(), DIR.resolve("nvme"))).isEmpty();
    }

    /**
     * {@code nvme-viommu}: the VM has {@code -device intel-iommu,caching-mode=on}; the guest's
     * tables map the admin SQ (read-only), the CQ, a data page, a read-only page and the MSI-X
     * message page, and the admin queues and the MSI-X address are IOVAs. The host nvme's DMA is
     * translated by the HOST unit with what the VMM mirrored: Identify lands at GPA 0x300000
     * (not at GPA 0x3000), the completion in the CQ, and the VMM's MSI-X write is translated by
     * the vIOMMU to GPA 0x400000. Identify into the unmapped IOVA 0x6000 and the read-only
     * 0x4000 fault in the host unit (the host's two DMAR lines, reason 0x05 as QEMU 7.2's unit
     * reports a non-present PTE) and still complete successfully (QEMU 7.2's nvme counts no
     * residual); the VM's own unit records nothing.
     */
    @Test
    void nvmeDmaThroughTheVirtualIommuFaultsInTheHostUnitWhereTheGuestMappedNothing() throws Exception {
        assertThat(VmmFixtureTest.assertCaptureDir(nvmeHost(), DIR.resolve("nvme-viommu"))).isEmpty();
    }

    /**
     * {@code nvme-trace}: the {@code nvme} script with {@code -trace 'vfio_msi*' -trace
     * 'vfio_intx*'}: every line real QEMU printed is an event the model has (MSI-X early setup,
     * INTx enable/disable at realize, reset and MSI-X enable, vector use and release, the PBA
     * switched on and off, each interrupt with the message read from the table, MSI-X
     * disable), in the same order, byte for byte; the replies are those of {@code nvme}.
     */
    @Test
    void msixTraceEventsAreQemusLines() throws Exception {
        Path d = DIR.resolve("nvme-trace");
        VmmFixtureTest.Run r = VmmFixtureTest.run(nvmeHost(), VmmFixtureTest.captureArgv(d),
                Files.readString(d.resolve("vmm.qtest")));
        java.util.List<String> real = Files.readAllLines(d.resolve("vmm.err"));
        assertThat(VmmTraceCaptureTest.modelledEvents(real)).isEqualTo(real);
        assertThat(r.err().lines().filter(l -> !l.startsWith("viommu: ")).toList()).isEqualTo(real);
        assertThat(r.out()).isEqualTo(Files.readString(d.resolve("vmm.out")));
        assertThat(r.out()).isEqualTo(Files.readString(DIR.resolve("nvme").resolve("vmm.out")));
    }

    /**
     * {@code msix-reset/reset} (src/test/resources/vmm/msix-reset: the same host, {@code
     * msix-reset.qtest} the script): after the {@code nvme} script's first half (vector 0 masked
     * with a message pending, entry 1 programmed and unmasked, MSI-X on) the guest resets the
     * machine through ICH9's reset control register (port 0xCF9, 0x6). QEMU 7.2's reset releases
     * the vectors (vfio_pci_reset), resets the host nvme by FLR through VFIO (the controller's CC
     * and CSTS read 0 afterwards: the host kernel restored only the function's configuration
     * header), and msix_reset clears QEMU's table (address and data 0, every vector masked), its
     * PBA and the MSI-X enable bit, and the BAR and command register; programmed again, the
     * controller's next completion's message lands at the new address and nothing at the old ones.
     */
    @Test
    void aSystemResetClearsTheMsixStateAndResetsTheHostDevice() throws Exception {
        Path d = VmmFixtureTest.DIR.resolve("msix-reset").resolve("reset");
        assertThat(VmmFixtureTest.assertCaptureDir(nvmeHost(), d)).isEmpty();
        List<String> out = Files.readAllLines(d.resolve("vmm.out"));
        List<String> sent = Files.readAllLines(d.resolve("vmm.qtest"));
        int reset = sent.indexOf("outb 0xcf9 0x6");
        assertThat(reset).isPositive();
        // what the capture shows and the model reproduces: BAR0 back to its type bits, MSI-X off,
        // QEMU's table masked and zero after the reset
        assertThat(out.get(reset + 2)).isEqualTo("OK 0x0004");
        assertThat(out.get(reset + 6)).isEqualTo("OK 0x408011");
        assertThat(out.subList(reset + 13, reset + 20)).containsExactly("OK 0x0000000000000000", "OK 0x0000000000000000",
                "OK 0x0000000000000001", "OK 0x0000000000000000", "OK 0x0000000000000000", "OK 0x0000000000000001",
                "OK 0x0000000000000000");
    }

    /**
     * {@code msix-reset/reset-trace}: the reset script again with {@code -trace 'vfio_msix*'
     * -trace vfio_pci_reset -trace 'vfio_intx*'}: the vectors used, released by the reset
     * (vfio_msix_disable after the notifiers went), INTx enabled, MSI-X used again, every line
     * QEMU printed, in its order; the replies are those of {@code reset}.
     */
    @Test
    void theResetsMsixTraceIsQemus() throws Exception {
        Path d = VmmFixtureTest.DIR.resolve("msix-reset").resolve("reset-trace");
        VmmFixtureTest.Run r = VmmFixtureTest.run(nvmeHost(), VmmFixtureTest.captureArgv(d),
                Files.readString(d.resolve("vmm.qtest")));
        List<String> real = Files.readAllLines(d.resolve("vmm.err"));
        assertThat(real).contains("vfio_pci_reset  (0000:00:04.0)", "vfio_msix_disable  (0000:00:04.0)");
        assertThat(VmmTraceCaptureTest.modelledEvents(real)).isEqualTo(real);
        assertThat(r.err().lines().filter(l -> !l.startsWith("viommu: ")).toList()).isEqualTo(real);
        assertThat(r.out()).isEqualTo(Files.readString(d.resolve("vmm.out")));
        assertThat(r.out()).isEqualTo(Files.readString(d.resolveSibling("reset").resolve("vmm.out")));
    }

    /**
     * The same host with interrupt remapping on (Linux 6.1 panics with it under TCG: no capture):
     * VFIO needs no allow_unsafe_interrupts, the host kernel gives the nvme's MSI-X vector an
     * IRTE, each of the three completions' messages reaches the host CPU through it, and the VM
     * sees exactly what the capture shows.
     */
    @Test
    void withHostInterruptRemappingTheVmSeesTheSameThroughTheHostIrte() throws Exception {
        String args = Files.readString(DIR.resolve("host.args")).trim().replace("intremap=off", "intremap=on") + " -nodefaults";
        Path setup = Files.createTempFile("host-setup", ".sh");
        try {
            Files.write(setup, Files.readAllLines(DIR.resolve("host-setup.sh")).stream()
                    .filter(l -> !l.contains("allow_unsafe_interrupts")).toList());
            Kernel k = QtestHost.bootHost(args);
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            assertThat(QtestHost.runSetup(k, setup, new PrintStream(err, true, StandardCharsets.UTF_8))).isZero();
            Path d = DIR.resolve("nvme");
            int before = k.machine().interrupts().apic().log().size();
            VmmFixtureTest.Run r = VmmFixtureTest.run(k, VmmFixtureTest.captureArgv(d), Files.readString(d.resolve("vmm.qtest")));
            assertThat(r.out()).isEqualTo(Files.readString(d.resolve("vmm.out")));
            assertThat(r.err()).isEqualTo(Files.readString(d.resolve("vmm.err")));
            var nvme = io.viommu.pci.RequesterId.parse("00:04.0");
            var log = k.machine().interrupts().apic().log();
            var fromNvme = log.subList(before, log.size()).stream().filter(i -> i.source().equals(nvme)).toList();
            assertThat(fromNvme).hasSize(3);
            assertThat(fromNvme).allMatch(io.viommu.machine.device.LocalApicSink.ApicInterrupt::remapped);
        } finally {
            Files.deleteIfExists(setup);
        }
    }
}
