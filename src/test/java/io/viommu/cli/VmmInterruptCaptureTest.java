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
 * The assigned device's interrupts end to end, held against real captures
 * (src/test/resources/vmm/irq/NAME: {@code capture.sh} the command, {@code ../NAME.qtest} the
 * script with its pauses, {@code vmm.qtest} what was sent): QEMU 7.2 (TCG, so its userspace
 * INTx and MSI paths) assigning the edu of a real Linux 6.1 host (no interrupt remapping on the
 * host, allow_unsafe_interrupts=1), the VM without a vIOMMU.
 *
 * <p>{@code intx}: {@code irq_intercept_in ioapic}; the edu raises (register 0x60): the host's
 * vfio-pci handler masks it and signals the eventfd, QEMU asserts the VM's pin ({@code IRQ raise
 * 21} after the reply); a status read (0x24) through the device file EOIs ({@code IRQ lower 21}
 * before the reply) and unmasks, and as the edu still asserts the host signals again
 * ({@code IRQ raise 21} after it); the acknowledgement (0x64) EOIs for good. The guest's INTx
 * disable bit is virtual (the config read shows it, the host masks): raising then shows
 * nothing until the guest clears it. {@code msi}: the guest programs the emulated MSI
 * capability with a RAM address and enables it: the edu's MSI reaches the host's vfio-pci
 * handler, and QEMU's write of the programmed data lands in guest RAM; reprogrammed, the next
 * one lands at the new address; with bus mastering off nothing lands; MSI disabled again gives
 * INTx.
 */
class VmmInterruptCaptureTest {
    static final Path DIR = VmmFixtureTest.DIR.resolve("irq");

    static Kernel assertCapture(String name) throws Exception {
        Path d = DIR.resolve(name);
        Kernel k = VmmFixtureTest.fixtureHost();
        List<String> argv = new ArrayList<>(List.of(Files.readString(d.resolve("vmm.cmd")).trim().split(" ")));
        argv.remove(0);
        VmmFixtureTest.Run r = VmmFixtureTest.run(k, argv, Files.readString(d.resolve("vmm.qtest"), StandardCharsets.UTF_8));
        assertThat(r.out()).as(name + " replies").isEqualTo(Files.readString(d.resolve("vmm.out")));
        assertThat(r.err()).as(name + " stderr").isEqualTo(Files.readString(d.resolve("vmm.err")));
        assertThat(r.rc()).isEqualTo(Integer.parseInt(Files.readString(d.resolve("vmm.rc")).trim()));
        List<String> real = Files.readAllLines(d.resolve("host.dmesg")).stream()
                .map(l -> l.replaceFirst("^\\[[ \\d.]+\\] ", "")).toList();
        assertThat(r.dmesg()).as(name + " host dmesg").isEqualTo(real);
        return k;
    }

    @Test
    void intxReachesTheVmsIoApicAndEachBarAccessEoisIt() throws Exception {
        assertCapture("intx");
    }

    @Test
    void msiLandsWhereTheGuestProgrammedIt() throws Exception {
        assertCapture("msi");
    }
}
