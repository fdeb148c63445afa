package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
}
