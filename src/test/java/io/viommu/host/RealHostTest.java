package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The live host's side of the seam, on ordinary files: one write per call, counted, errnos from the C library's text. */
class RealHostTest {
    @Test
    void aWriteIsOneWriteOfTheBytesAndIsCounted(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("driver_override");
        Files.writeString(f, "(null)\n");
        RealHost h = new RealHost();
        assertThat(h.write(f, "vfio-pci\n").ok()).isTrue();
        assertThat(Files.readString(f)).isEqualTo("vfio-pci\n");
        assertThat(h.write(dir.resolve("nosuch/unbind"), "x").errno()).isEqualTo(Errno.ENOENT);
        assertThat(h.write(dir, "x").errno()).isEqualTo(Errno.EISDIR);
        assertThat(h.writes()).isEqualTo(3);
    }

    @Test
    void theKernelsErrnoIsKnownByItsText() {
        assertThat(RealHost.errno("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs: Device or resource busy")).isEqualTo(Errno.EBUSY);
        assertThat(RealHost.errno("No such device")).isEqualTo(Errno.ENODEV);
        assertThat(RealHost.errno("something else")).isEqualTo(Errno.EIO);
    }

    @Test
    void theLiveHostIsChangedByRootOnlyByItsEffectiveUid() {
        assertThat(RealHost.rootRefusal("Name:\tjava\nUid:\t1000\t1000\t1000\t1000\n"))
                .contains("the live host's sysfs can be changed by root only (effective uid 1000)");
        // sudo-like: real uid 1000, effective 0
        assertThat(RealHost.rootRefusal("Uid:\t1000\t0\t0\t0\n")).isEmpty();
        assertThat(RealHost.rootRefusal("")).contains("cannot tell whether this process runs as root (/proc/self/status"
                + " unreadable)");
    }

    @Test
    void aSavedTreeRefusesEveryEffectAndCountsNone(@TempDir Path dir) {
        SavedTree t = new SavedTree(dir);
        assertThat(t.write(Path.of("/sys/bus/pci/drivers_probe"), "0000:00:05.0").ok()).isFalse();
        assertThat(t.modprobe("vfio-pci").message()).contains("read-only");
        assertThat(t.writes()).isZero();
        assertThat(t.writeRefusal()).isPresent();
    }
}
