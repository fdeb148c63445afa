package io.viommu.linux.shell;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.KernelMessage;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Replays the lab captures of src/test/resources/host-setup (real busybox sh on Debian's Linux
 * 6.1, the host of fixtures/vmm/host.args) line by line on the kernel model: the same output
 * (stdout and stderr as {@code 2>&1} interleaves them) and exit status per line, the same devices,
 * drivers, groups and reserved regions afterwards, and the same driver lines in the kernel log.
 */
class RootShellCaptureTest {
    static final Path HOST_ARGS = Path.of("..", "shared", "fixtures", "vmm", "host.args");

    record Step(String line, String output, int rc) {
    }

    static Kernel fixtureHost() throws IOException {
        // the capture tool adds -display none -nodefaults (NAME.host.cmd is the hardware it ran)
        List<String> args = new ArrayList<>(List.of(Files.readString(HOST_ARGS).trim().split("\\s+")));
        args.add("-nodefaults");
        try {
            return Kernel.boot(MachineBuilder.fromCommandLine(args, MachineLog.SILENT));
        } catch (io.viommu.machine.config.MachineConfigException e) {
            throw new IllegalStateException(e);
        }
    }

    static String resource(String name) throws IOException {
        try (InputStream in = RootShellCaptureTest.class.getResourceAsStream("/host-setup/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static List<Step> steps(String log) {
        List<Step> out = new ArrayList<>();
        String line = null;
        StringBuilder text = new StringBuilder();
        for (String l : log.split("\n", -1)) {
            if (l.startsWith("$ ")) {
                line = l.substring(2);
                text.setLength(0);
            } else if (line != null && l.matches("rc=\\d+")) {
                out.add(new Step(line, text.toString(), Integer.parseInt(l.substring(3))));
                line = null;
            } else if (line != null) {
                text.append(l).append('\n');
            }
        }
        return out;
    }

    /**
     * What the model deliberately shows differently: busybox ls -l's date, and an interface the
     * capture listed right after {@code up}, before e1000's watchdog saw the link (the model
     * shows the settled link).
     */
    static String normalise(String s) {
        return s.replaceAll("[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d ", "DATE ")
                .replace("<NO-CARRIER,BROADCAST,MULTICAST,UP>", "<BROADCAST,MULTICAST,UP,LOWER_UP>");
    }

    @ParameterizedTest
    @ValueSource(strings = {"refusals", "net", "syntax"})
    void everyLineGivesTheRealShellsOutputAndStatus(String name) throws IOException {
        Kernel k = fixtureHost();
        RootShell sh = new RootShell(k);
        List<Step> steps = steps(resource(name + ".log"));
        assertThat(steps).hasSizeGreaterThan(10);
        int logFrom = k.log().messages().size();
        for (Step s : steps) {
            RootShell.Result r = sh.run(s.line());
            if (s.line().equals("cat /proc/cmdline")) {
                // the capture tool adds console=... to the hardware's -append; the model host has only -append
                assertThat(r.stdout()).isEqualTo("intel_iommu=on\n");
                continue;
            }
            assertThat(normalise(r.output())).as(s.line()).isEqualTo(normalise(s.output()));
            assertThat(r.status()).as("status of " + s.line()).isEqualTo(s.rc());
        }
        assertThat(deviceLines(k)).isEqualTo(resource(name + ".devices"));
        // the drivers' and VFIO's lines, ACPI's IRQ link lines included
        List<String> real = resource(name + ".dmesg").lines().map(l -> l.replaceFirst("^\\[[ \\d.]+\\] ", ""))
                .toList();
        List<String> model = k.log().messages().subList(logFrom, k.log().messages().size()).stream()
                .map(KernelMessage::text).toList();
        assertThat(model).isEqualTo(real);
    }

    /** The capture's {@code devs} function: DEV lines from sysfs, then GROUP lines with type and reserved regions. */
    static String deviceLines(Kernel k) {
        StringBuilder sb = new StringBuilder();
        var sys = k.sysfs();
        for (String d : sys.list("/sys/bus/pci/devices").orElseThrow()) {
            String p = "/sys/bus/pci/devices/" + d;
            String g = sys.readlink(p + "/iommu_group").map(t -> t.substring(t.lastIndexOf('/') + 1)).orElse("-");
            String drv = sys.readlink(p + "/driver").map(t -> t.substring(t.lastIndexOf('/') + 1)).orElse("-");
            sb.append("DEV ").append(d).append(' ').append(sys.read(p + "/vendor").text().trim()).append(' ')
                    .append(sys.read(p + "/device").text().trim()).append(' ').append(sys.read(p + "/class").text().trim())
                    .append(" group=").append(g).append(" driver=").append(drv).append('\n');
        }
        for (String g : sys.list("/sys/kernel/iommu_groups").orElseThrow()) {
            String p = "/sys/kernel/iommu_groups/" + g;
            sb.append("GROUP ").append(g).append(" type=").append(sys.read(p + "/type").text().trim()).append(' ');
            for (String d : sys.list(p + "/devices").orElseThrow()) {
                sb.append(d).append(' ');
            }
            sb.append("resv=").append(sys.read(p + "/reserved_regions").text().replace('\n', ';')).append('\n');
        }
        return sb.toString();
    }
}
