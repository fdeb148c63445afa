package io.viommu.linux.shell;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.sysfs.SysfsTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The host of ../shared/fixtures/vmm: its setup file (host-setup.sh) run on the model host gives
 * the devices, drivers, groups, reserved regions and /dev/vfio that the real run recorded
 * (host-setup.txt).
 */
class HostSetupFixtureTest {
    static final Path DIR = Path.of("..", "shared", "fixtures", "vmm");

    @Test
    void fixtureSetupGivesTheRecordedDevicesGroupsAndDevVfio() throws IOException {
        Kernel k = RootShellCaptureTest.fixtureHost();
        RootShell.Run run = new RootShell(k).runScript(Files.readAllLines(DIR.resolve("host-setup.sh")));
        assertThat(run.ok()).isTrue();
        assertThat(run.failedLine()).isNull();

        List<String> recorded = Files.readAllLines(DIR.resolve("host-setup.txt"));
        assertThat(deviceAndGroupLines(k)).isEqualTo(recorded.stream()
                .filter(l -> l.startsWith("DEV ") || l.startsWith("GROUP ")).toList());

        // ls -l /dev/vfio, without the dates
        RootShell.Result ls = new RootShell(k).run("ls -l /dev/vfio");
        List<String> real = new ArrayList<>();
        boolean in = false;
        for (String l : recorded) {
            in |= l.equals("total 0");
            if (in && (l.equals("total 0") || l.startsWith("c"))) {
                real.add(l);
            }
        }
        assertThat(RootShellCaptureTest.normalise(ls.stdout()).lines().toList())
                .isEqualTo(real.stream().map(RootShellCaptureTest::normalise).toList());

        // "set allow_unsafe_interrupts=1 rc=0 now=Y"
        assertThat(k.sysfs().read("/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts").text())
                .isEqualTo("Y\n");
        assertThat(k.drivers().moduleFlag("vfio_iommu_type1", "allow_unsafe_interrupts")).isTrue();
    }

    /** host-setup.txt's format: DEV bdf vendor device group=N driver=D; GROUP N members  resv=... */
    static List<String> deviceAndGroupLines(Kernel k) {
        SysfsTree sys = k.sysfs();
        List<String> out = new ArrayList<>();
        for (String d : sys.list("/sys/bus/pci/devices").orElseThrow()) {
            String p = "/sys/bus/pci/devices/" + d;
            String g = sys.readlink(p + "/iommu_group").map(t -> t.substring(t.lastIndexOf('/') + 1)).orElse("-");
            String drv = sys.readlink(p + "/driver").map(t -> t.substring(t.lastIndexOf('/') + 1)).orElse("-");
            out.add("DEV " + d + " " + sys.read(p + "/vendor").text().trim() + " " + sys.read(p + "/device").text().trim()
                    + " group=" + g + " driver=" + drv);
        }
        for (String g : sys.list("/sys/kernel/iommu_groups").orElseThrow()) {
            String p = "/sys/kernel/iommu_groups/" + g;
            out.add("GROUP " + g + " " + String.join(" ", sys.list(p + "/devices").orElseThrow()) + "  resv="
                    + sys.read(p + "/reserved_regions").text().replace('\n', ';'));
        }
        return out;
    }
}
