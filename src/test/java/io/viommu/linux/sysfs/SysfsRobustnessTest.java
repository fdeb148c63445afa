package io.viommu.linux.sysfs;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Garbage into every writable file never throws and never ends as EIO (the model's "a store
 * threw" answer): each write is accepted or fails with a Linux errno, and the tree stays
 * readable. Also the file-system level errnos.
 */
class SysfsRobustnessTest {
    static List<byte[]> payloads(long seed) {
        List<byte[]> out = new ArrayList<>();
        for (String s : new String[] {"", "\n", "\0", "0", "1", "-1", "7", "65535", "99999999999999999999999",
                "0x", "+", "nonsense", "vfio-pci", "0000:00:00.0", "0000:01:00.0\n", "8086 10d3", "ffffffff ffffffff",
                "8086 10d3 ffffffff ffffffff 0 0 0", "on", "identity", "DMA", "flr bus", "default", "add",
                "add 12345678-1234-1234-1234-123456789abc", " ", "\t\n"}) {
            out.add(s.getBytes(StandardCharsets.ISO_8859_1));
        }
        Random r = new Random(seed);
        for (int i = 0; i < 6; i++) {
            byte[] b = new byte[r.nextInt(64) + 1];
            r.nextBytes(b);
            out.add(b);
        }
        out.add(new byte[5000]);
        out.add("9".repeat(5000).getBytes(StandardCharsets.ISO_8859_1));
        return out;
    }

    @Test
    void garbageWritesToEveryWritableFileReturnACountOrALinuxErrno() throws Exception {
        SysfsTree sys = Machines.igb();
        for (String m : List.of("igb", "igbvf", "vfio-pci", "pci-stub", "uio_pci_generic", "e1000e", "nvme")) {
            sys.drivers().loadModule(m);
        }
        sys.write("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", "2");
        List<byte[]> payloads = payloads(42);
        int writes = 0;
        for (String path : sys.walk()) {
            if (sys.kind(path) != SysfsTree.Kind.FILE || path.endsWith("/config")) {
                continue;
            }
            for (byte[] p : payloads) {
                if (!sys.exists(path)) {
                    break; // a write removed it (VFs disabled, driver unbound...)
                }
                SysfsWrite w = sys.write(path, p);
                writes++;
                assertThat(w.ok() || w.error() != null).isTrue();
                assertThat(w.error()).as(path + " <- " + new String(p, StandardCharsets.ISO_8859_1)).isNotEqualTo(Errno.EIO);
                if (w.ok()) {
                    assertThat(w.count()).isBetween(0L, (long) Math.min(p.length, 4096));
                }
            }
        }
        assertThat(writes).isGreaterThan(1000);
        for (String path : sys.walk()) {
            if (sys.kind(path) == SysfsTree.Kind.FILE) {
                SysfsRead r = sys.read(path);
                assertThat(r.ok() || r.error() == Errno.EACCES).as(path).isTrue();
            }
        }
    }

    @Test
    void garbageIntoConfigSpaceNeverThrows() throws Exception {
        SysfsTree sys = Machines.nvme();
        Random r = new Random(7);
        for (int i = 0; i < 300; i++) {
            byte[] b = new byte[r.nextInt(16)];
            r.nextBytes(b);
            SysfsWrite w = sys.write("/sys/bus/pci/devices/0000:01:00.0/config", r.nextInt(4200), b);
            assertThat(w.ok() || w.error() == Errno.EFBIG).isTrue();
        }
        assertThat(sys.read("/sys/bus/pci/devices/0000:01:00.0/vendor").text()).isEqualTo("0x1b36\n");
    }

    @Test
    void fileSystemErrnosAreThoseOfTheSystemCallsAsRoot() throws Exception {
        SysfsTree sys = Machines.nvme();
        String pf = "/sys/bus/pci/devices/0000:01:00.0/";
        assertThat(sys.read("/sys/bus/pci/devices/0000:09:00.0/vendor").error()).isEqualTo(Errno.ENOENT);
        assertThat(sys.read(pf + "vendor/x").error()).isEqualTo(Errno.ENOTDIR);
        assertThat(sys.read(pf).error()).isEqualTo(Errno.EISDIR);
        assertThat(sys.write(pf, "1").error()).isEqualTo(Errno.EISDIR);
        assertThat(sys.write(pf + "vendor", "0x1234").error()).isEqualTo(Errno.EACCES); // read-only
        assertThat(sys.read(pf + "reset").error()).isEqualTo(Errno.EACCES);            // write-only
        assertThat(sys.read("/sys/bus/pci/drivers/pcieport/bind").error()).isEqualTo(Errno.EACCES);
        assertThat(sys.read("relative/path").error()).isEqualTo(Errno.ENOENT);
        assertThat(sys.listError(pf + "vendor")).isEqualTo(Errno.ENOTDIR);
        assertThat(sys.write(pf + "driver_override", new byte[0]).count()).isZero(); // empty: store not called
        assertThat(sys.read(pf + "../0000:01:00.0/vendor").text()).isEqualTo("0x1b36\n"); // .. after the link, physically
        assertThat(sys.read(pf + "vendor", 2, 100).text()).isEqualTo("1b36\n");
        assertThat(sys.read(pf + "vendor", 100, 1).data()).isEmpty();
    }
}
