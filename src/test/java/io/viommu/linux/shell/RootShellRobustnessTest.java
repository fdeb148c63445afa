package io.viommu.linux.shell;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Garbage setup lines end as a shell's text and status, never as an exception out of the model. */
class RootShellRobustnessTest {
    static final List<String> WORDS = List.of("echo", "-n", "-e", "cat", "ls", "-l", "modprobe", "rmmod", "ip", "link",
            "set", "dev", "addr", "add", "route", "up", "down", "mount", "eth0", "eth1", "lo", "10.0.0.1/24", "1.2.3",
            "/24", "e1000", "vfio-pci", "vfio", "igb", "nvme", "x=1", "ids=8086:100e", "allow_unsafe_interrupts=1",
            ">", ">>", ";", "#", "'", "\"", "\\", "", "0000:00:04.0", "0000:00:05.1", "0000:00:09.0", "8086 100e",
            "/sys/bus/pci/drivers/vfio-pci/bind", "/sys/bus/pci/drivers/e1000/unbind", "/sys/bus/pci/drivers_probe",
            "/sys/bus/pci/devices/0000:00:04.0/driver_override", "/sys/bus/pci/drivers/vfio-pci/new_id",
            "/sys/bus/pci/drivers/vfio-pci/remove_id", "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit",
            "/sys/bus/pci/devices/0000:00:05.0/remove", "/sys/bus/pci/rescan", "/sys", "/dev/vfio", "/dev/nvme0n1",
            "/mnt", "/proc/cmdline", "\u00ff", "\u0000", "\t", "4294967296", "-1", "0x10");

    @Test
    void randomLinesNeverThrow() throws Exception {
        Kernel k = RootShellCaptureTest.fixtureHost();
        RootShell sh = new RootShell(k);
        Random rnd = new Random(11);
        for (int i = 0; i < 3000; i++) {
            StringBuilder line = new StringBuilder();
            for (int n = rnd.nextInt(7); n > 0; n--) {
                line.append(WORDS.get(rnd.nextInt(WORDS.size()))).append(rnd.nextInt(4) == 0 ? "" : " ");
            }
            RootShell.Result r = sh.run(line.toString());
            assertThat(r.status()).as(line.toString()).isIn(0, 1, 2, 127, 255);
            assertThat(r.status() == 0 || !r.output().isEmpty() || line.toString().contains("false"))
                    .as("a failing line says why: " + line).isTrue();
        }
    }
}
