package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SavedTreeTest {
    @TempDir
    Path dir;

    private void file(String p, String content) throws IOException {
        Path f = dir.resolve(p);
        Files.createDirectories(f.getParent());
        Files.writeString(f, content);
    }

    private void link(String p, String target) throws IOException {
        Path f = dir.resolve(p);
        Files.createDirectories(f.getParent());
        Files.createSymbolicLink(f, Path.of(target));
    }

    @Test
    void relativeSysfsLinksResolveInsideTheTree() throws IOException {
        file("sys/devices/pci0000:00/0000:00:01.0/vendor", "0x1af4\n");
        link("sys/bus/pci/devices/0000:00:01.0", "../../../devices/pci0000:00/0000:00:01.0");
        SavedTree t = new SavedTree(dir);
        assertThat(t.read(Path.of("/sys/bus/pci/devices/0000:00:01.0/vendor"))).contains("0x1af4");
        assertThat(t.list(Path.of("/sys/bus/pci/devices"))).containsExactly("0000:00:01.0");
        assertThat(t.realPath(Path.of("/sys/bus/pci/devices/0000:00:01.0")))
                .contains(Path.of("/sys/devices/pci0000:00/0000:00:01.0"));
    }

    @Test
    void absoluteLinksAreRerootedAtTheTreeNotTheReadingMachine() throws IOException {
        file("sys/devices/x/vendor", "0x8086\n");
        link("sys/bus/pci/devices/0000:00:02.0", "/sys/devices/x");
        file("proc/cmdline", "from the tree\n");
        link("sys/escape", "/proc/cmdline");
        SavedTree t = new SavedTree(dir);
        assertThat(t.read(Path.of("/sys/bus/pci/devices/0000:00:02.0/vendor"))).contains("0x8086");
        assertThat(t.read(Path.of("/sys/escape"))).contains("from the tree");
    }

    @Test
    void dotDotAboveTheRootStopsAtTheRoot() throws IOException {
        file("etc/x", "inside\n");
        link("sys/up", "../../../../../../etc/x");
        assertThat(new SavedTree(dir).read(Path.of("/sys/up"))).contains("inside");
    }

    @Test
    void linkLoopsAndDanglingLinksReadAsAbsent() throws IOException {
        link("sys/a", "b");
        link("sys/b", "a");
        link("sys/dangling", "../nowhere");
        SavedTree t = new SavedTree(dir);
        assertThat(t.exists(Path.of("/sys/a"))).isFalse();
        assertThat(t.read(Path.of("/sys/a/x"))).isEmpty();
        assertThat(t.exists(Path.of("/sys/dangling"))).isFalse();
        assertThat(t.readlink(Path.of("/sys/dangling"))).contains(Path.of("../nowhere"));
        assertThat(t.linkName(Path.of("/sys/dangling"))).contains("nowhere");
    }

    @Test
    void readlinkGivesTheStoredTargetAndResolveLinkTheHostPath() throws IOException {
        file("sys/bus/pci/drivers/vfio-pci/bind", "");
        link("sys/devices/pci0000:00/0000:00:03.0/driver", "../../../bus/pci/drivers/vfio-pci");
        SavedTree t = new SavedTree(dir);
        Path drv = Path.of("/sys/devices/pci0000:00/0000:00:03.0/driver");
        assertThat(t.readlink(drv)).contains(Path.of("../../../bus/pci/drivers/vfio-pci"));
        assertThat(t.resolveLink(drv)).contains(Path.of("/sys/bus/pci/drivers/vfio-pci"));
        assertThat(t.linkName(drv)).contains("vfio-pci");
    }
}
