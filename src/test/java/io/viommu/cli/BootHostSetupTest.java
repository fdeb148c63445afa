package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code viommu boot --host-setup FILE --host-dmesg FILE}: the report after the setup, the log on the way out. */
class BootHostSetupTest {
    static final Path VMM = Path.of("..", "shared", "fixtures", "vmm");

    static List<String> hostArgs() throws Exception {
        List<String> a = new ArrayList<>(List.of(Files.readString(VMM.resolve("host.args")).trim().split("\\s+")));
        a.add("-nodefaults"); // the capture tool adds it
        return a;
    }

    @Test
    void theReportShowsTheDriversAndGroupsAfterTheFixtureSetup(@TempDir Path tmp) throws Exception {
        Path dmesg = tmp.resolve("host.dmesg");
        List<String> args = new ArrayList<>(List.of("boot", "--host-setup", VMM.resolve("host-setup.sh").toString(),
                "--host-dmesg", dmesg.toString()));
        args.addAll(hostArgs());
        CliRun r = CliRun.of(args);
        assertThat(r.code()).as(r.err()).isZero();
        List<String> recorded = Files.readAllLines(VMM.resolve("host-setup.txt")).stream()
                .filter(l -> l.startsWith("DEV ")).toList();
        List<String> reported = r.out().lines().filter(l -> l.startsWith("DEV "))
                .map(l -> l.replaceFirst(" 0x[0-9a-f]{6} group=", " group=")).toList(); // host-setup.txt has no class
        assertThat(reported).isEqualTo(recorded);
        assertThat(r.out()).contains("GROUP 2 type=DMA 0000:00:05.0 0000:00:05.1 ");
        List<String> log = Files.readAllLines(dmesg);
        assertThat(log).first().asString().startsWith("[    0.000000] Command line: ");
        assertThat(log).contains("[    0.000000] VFIO - User Level meta-driver version: 0.3",
                "[    0.000000] e1000 0000:00:07.0 eth1: Intel(R) PRO/1000 Network Connection");
        assertThat(log).filteredOn(l -> l.contains("Adding to iommu group")).hasSize(9);
    }

    @Test
    void aFailingLinePrintsTheShellsTextExitsOneAndStillWritesTheLog(@TempDir Path tmp) throws Exception {
        Path setup = tmp.resolve("setup.sh");
        Files.writeString(setup, """
                # bind the edu at 04.0 to vfio-pci, then once more
                modprobe vfio-pci
                echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override
                echo 0000:00:04.0 > /sys/bus/pci/drivers/vfio-pci/bind
                echo 0000:00:04.0 > /sys/bus/pci/drivers/vfio-pci/bind
                modprobe e1000
                """);
        Path dmesg = tmp.resolve("host.dmesg");
        List<String> args = new ArrayList<>(List.of("boot", "--host-setup", setup.toString(),
                "--host-dmesg", dmesg.toString()));
        args.addAll(hostArgs());
        CliRun r = CliRun.of(args);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("sh: write error: Device or resource busy\n");
        assertThat(r.out()).isEmpty();
        List<String> log = Files.readAllLines(dmesg);
        assertThat(log).contains("[    0.000000] VFIO - User Level meta-driver version: 0.3");
        assertThat(log).noneMatch(l -> l.contains("e1000"));
    }

    @Test
    void unknownCommandAndModuleTexts(@TempDir Path tmp) throws Exception {
        for (String[] c : new String[][] {
            {"modprobe foo", "modprobe: FATAL: Module foo not found in directory /lib/modules/6.1.0-56-amd64\n"},
            {"frobnicate", "sh: frobnicate: not found\n"},
            {"echo 1 > /sys/bus/pci/devices/0000:00:04.0/nosuchfile",
                "sh: can't create /sys/bus/pci/devices/0000:00:04.0/nosuchfile: Permission denied\n"},
        }) {
            Path setup = tmp.resolve("s.sh");
            Files.writeString(setup, c[0] + "\n");
            List<String> args = new ArrayList<>(List.of("boot", "--host-setup", setup.toString()));
            args.addAll(hostArgs());
            CliRun r = CliRun.of(args);
            assertThat(r.code()).as(c[0]).isEqualTo(1);
            assertThat(r.err()).as(c[0]).isEqualTo(c[1]);
        }
    }

    @Test
    void whatTheSetupLeftInUseIsWhatHostScanSeesInTheExportedTree(@TempDir Path tmp) throws Exception {
        Path setup = tmp.resolve("setup.sh");
        Files.writeString(setup, "modprobe e1000\nip link set dev eth0 up\nip addr add 10.0.0.1/24 dev eth0\n");
        Path tree = tmp.resolve("tree");
        List<String> args = new ArrayList<>(List.of("boot", "--host-setup", setup.toString(),
                "--sysfs-export", tree.toString()));
        args.addAll(hostArgs());
        assertThat(CliRun.of(args).code()).isZero();
        CliRun scan = CliRun.of("host", "scan", "--sysfs", tree.toString());
        assertThat(scan.out()).contains("host uses: network interface eth0 (up)", "host uses: network interface eth1 (down)");
    }
}
