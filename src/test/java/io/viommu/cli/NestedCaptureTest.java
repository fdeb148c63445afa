package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.KernelMessage;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two levels of real QEMU 7.2 on real Linux 6.1 (src/test/resources/vmm/nested/NAME, made by the
 * lab's capture with --via; {@code capture.sh} in each is the command): the fixture host assigns
 * its edu at 00:04.0 to an intermediate VM (L1: {@code intel-iommu,intremap=off,caching-mode=on},
 * the device pinned at its 00:04.0, {@code kernel-irqchip=split}), whose root binds it to its own
 * vfio-pci ({@code via-setup.sh}) and runs the innermost VMM. {@code viommu qtest --host ... --via
 * ... --via-setup ...} replays it: the innermost VMM's replies, stderr and exit status, and the
 * host kernel's lines while it ran, equal the real ones byte for byte.
 */
class NestedCaptureTest {
    static final Path DIR = VmmFixtureTest.DIR.resolve("nested");

    /**
     * The --via argv of a capture: via.cmd (the tool adds {@code -display none -nodefaults -no-reboot
     * -L ...} in front) without the program name and the tool's serial ports, kernel and initrd,
     * with its -append (the last option, its value holding spaces).
     */
    static List<String> viaArgs(Path d) throws Exception {
        String cmd = Files.readString(d.resolve("via.cmd")).trim();
        int append = cmd.indexOf(" -append ");
        List<String> words = List.of(cmd.substring(0, append).split(" "));
        List<String> a = new ArrayList<>();
        for (int i = 1; i < words.size(); i++) {
            String w = words.get(i);
            if (w.equals("-serial") || w.equals("-kernel") || w.equals("-initrd")) {
                i++;
                continue;
            }
            a.add(w);
        }
        a.add("-append");
        a.add(cmd.substring(append + " -append ".length()));
        return a;
    }

    record Run(int rc, String out, String err, List<String> hostDmesg, Path viaErr, Path viaDmesg) {
    }

    static Run replay(Path d, String setup, Path tmp) throws Exception {
        Kernel k = VmmFixtureTest.fixtureHost();
        int from = k.log().messages().size();
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8);
        Path viaErr = tmp.resolve("via.err");
        Path viaDmesg = tmp.resolve("via.dmesg");
        String script = Files.exists(d.resolve("vmm.qtest")) ? Files.readString(d.resolve("vmm.qtest")) : "";
        int rc = QtestHost.runNested(k, null, null, List.of(new QtestHost.Via(viaArgs(d), DIR.resolve(setup), viaErr,
                viaDmesg)), VmmFixtureTest.captureArgv(d), new BufferedReader(new StringReader(script)), out, err, false,
                io.viommu.vmm.Vmm.Privileges.ROOT);
        List<String> dmesg = k.log().messages().subList(from, k.log().messages().size()).stream()
                .map(KernelMessage::text).toList();
        // QEMU's stderr: viommu's own notes (the tool's -display/-no-reboot/-L of the --via have no effect) aside
        String qemuErr = e.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.startsWith("viommu: note: --via L1: "))
                .map(l -> l + "\n").collect(java.util.stream.Collectors.joining());
        return new Run(rc, o.toString(StandardCharsets.UTF_8), qemuErr, dmesg, viaErr, viaDmesg);
    }

    /**
     * The innermost VMM as the capture {@code d} saw it: its replies (none when the capture has no
     * vmm.out), stderr and exit status byte for byte; with {@code fullRun} also the host kernel's
     * lines while it ran and the intermediate QEMU's stderr.
     */
    static void assertSameAsCapture(Run r, Path d, boolean fullRun) throws Exception {
        Path out = d.resolve("vmm.out");
        assertThat(r.out()).isEqualTo(Files.exists(out) ? Files.readString(out) : "");
        assertThat(r.err()).isEqualTo(Files.readString(d.resolve("vmm.err")));
        assertThat(r.rc()).isEqualTo(Integer.parseInt(Files.readString(d.resolve("vmm.rc")).trim()));
        if (fullRun) {
            assertThat(r.hostDmesg()).isEqualTo(VmmFixtureTest.realDmesg(d));
            assertThat(Files.readAllLines(r.viaErr())).isEqualTo(Files.readAllLines(d.resolve("via.err")));
        }
    }

    /**
     * {@code via-dma}: the innermost VM has its own {@code intel-iommu,caching-mode=on}; the script
     * ({@code viommu/vtd-dma.qtest}) writes its tables, enables translation and has the edu copy
     * IOVA 0x1000 -> 0x2000, then write the unmapped 0x5000 and the read-only 0x3000. The replies
     * are those of the one-level capture ({@code viommu/vtd-dma}) byte for byte: two levels of VFIO
     * and vIOMMU change nothing the VMM sees. The two stray writes are stopped by the HOST's unit and
     * logged by the host kernel (L1's vIOMMU never sees the physical device's DMA).
     */
    @Test
    void aDmaTwoLevelsDownLandsAndItsStrayWritesFaultInTheHostUnit(@TempDir Path tmp) throws Exception {
        Path d = DIR.resolve("via-dma");
        Run r = replay(d, "via-setup.sh", tmp);
        assertSameAsCapture(r, d, true);
        assertThat(r.out()).isEqualTo(Files.readString(VmmFixtureTest.DIR.resolve("viommu/vtd-dma/vmm.out")));
        assertThat(r.hostDmesg()).filteredOn(l -> l.startsWith("DMAR: [DMA Write")).hasSize(2);
        // the intermediate VM's kernel logged no DMA fault, in the capture and in the model
        assertThat(Files.readAllLines(d.resolve("via.dmesg"))).noneMatch(l -> l.contains("DMAR"));
        assertThat(Files.readAllLines(r.viaDmesg())).noneMatch(l -> l.contains("DMAR: [DMA"));
        // the intermediate QEMU's stderr: the reset warning twice at its system reset (the vfio
        // reset handler's bus-reset pass, then the device's own reset), in the capture and in the model
        String warning = "qemu-system-x86_64: vfio: Cannot reset device 0000:00:04.0, no available reset mechanism.";
        assertThat(Files.readAllLines(d.resolve("via.err"))).containsExactly(warning, warning);
    }

    /**
     * {@code via-unbound}: L1's root loads vfio-pci but leaves its 00:04.0 unbound; the innermost
     * VMM's {@code -device vfio-pci,host=0000:00:04.0} is refused with QEMU 7.2's text for a group
     * that has no VFIO node in L1, exactly as on a host (refusals/unbound), and exits 1.
     */
    @Test
    void aDeviceNotBoundToVfioPciInTheMiddleLevelIsRefusedThere(@TempDir Path tmp) throws Exception {
        Path d = DIR.resolve("via-unbound");
        Run r = replay(d, "via-setup-unbound.sh", tmp);
        assertSameAsCapture(r, d, false);
        assertThat(r.out()).isEmpty();
    }

    /**
     * {@code via-config}: the fixtures' {@code a-config} (config space, BARs, the edu's registers,
     * 260 commands) two levels down: the replies, stderr and status are those of the capture and
     * of the one-level fixture byte for byte, and the host kernel logs what it logged.
     */
    @Test
    void configSpaceTwoLevelsDownIsTheOneLevelFixturesByteForByte(@TempDir Path tmp) throws Exception {
        Path d = DIR.resolve("via-config");
        Run r = replay(d, "via-setup.sh", tmp);
        assertSameAsCapture(r, d, true); // the intermediate QEMU's two reset warnings included
        assertThat(r.out()).isEqualTo(Files.readString(VmmFixtureTest.DIR.resolve("a-config.out")));
        // L1's kernel while the innermost VMM ran: the device's INTx link enabled (its other lines are
        // the loaded machine's clocksource and hrtimer complaints, not compared)
        String gsie = "ACPI: \\_SB_.GSIE: Enabled at IRQ 20";
        assertThat(Files.readAllLines(d.resolve("via.dmesg"))).anyMatch(l -> l.endsWith("] " + gsie));
        assertThat(Files.readAllLines(r.viaDmesg())).anyMatch(l -> l.endsWith("] " + gsie))
                .noneMatch(l -> l.contains("DMAR: [DMA"));
    }

    /**
     * {@code via-noiommu}: L1 has no vIOMMU (still booted with intel_iommu=on: no DMAR table, so no
     * IOMMU groups). Its root's {@code drivers_probe} of the edu with vfio-pci's override succeeds
     * as a write but the probe fails (Linux's line in L1's log), and the innermost VMM is refused
     * with QEMU 7.2's text for a device without an IOMMU group, status 1.
     */
    @Test
    void anL1WithoutAVirtualIommuCannotHandTheDeviceOn(@TempDir Path tmp) throws Exception {
        Path d = DIR.resolve("via-noiommu");
        Run r = replay(d, "via-setup.sh", tmp);
        assertSameAsCapture(r, d, true);
        assertThat(r.out()).isEmpty();
        String probe = "vfio-pci: probe of 0000:00:04.0 failed with error -22";
        assertThat(Files.readAllLines(d.resolve("via-setup.dmesg"))).anyMatch(l -> l.endsWith("] " + probe));
        assertThat(Files.readAllLines(r.viaDmesg())).anyMatch(l -> l.endsWith("] " + probe));
        // L1 has no IOMMU: intel_iommu=on says "DMAR: IOMMU enabled", and with no DMAR table nothing follows
        assertThat(Files.readAllLines(d.resolve("via-boot.dmesg"))).noneMatch(l -> l.contains("DMAR: Host address width"));
        assertThat(Files.readAllLines(r.viaDmesg())).noneMatch(l -> l.contains("DMAR: Host address width"))
                .noneMatch(l -> l.contains("Adding to iommu group"));
        // L1's boot lines about its IOMMU, line by line as the capture's (the lab keeps the DMAR, IOMMU and
        // command-line lines; the AMD IOMMUv2 module's line aside, a module the model's kernel has not)
        List<String> real = Files.readAllLines(d.resolve("via-boot.dmesg")).stream()
                .map(l -> l.replaceFirst("^\\[[ \\d.]+\\] ", "")).filter(l -> !l.startsWith("AMD-Vi: ")).toList();
        List<String> model = Files.readAllLines(r.viaDmesg()).stream().map(l -> l.replaceFirst("^\\[[ \\d.]+\\] ", ""))
                .filter(l -> l.contains("ommand line") || l.contains("DMAR") || l.startsWith("iommu: ")).toList();
        assertThat(model).isEqualTo(real);
    }
}
