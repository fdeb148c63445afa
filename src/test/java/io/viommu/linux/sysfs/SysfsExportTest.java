package io.viommu.linux.sysfs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** exportTo writes a directory that ordinary file APIs read like a real /sys. */
class SysfsExportTest {
    @Test
    void exportedTreeHasLinuxLayoutWithRealFilesAndRelativeSymlinks(@TempDir Path dir) throws Exception {
        SysfsTree sys = LinuxFixture.load("t5-sriov.txt").boot();
        sys.drivers().loadModule("nvme");
        sys.write("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", "2");
        sys.exportTo(dir);
        Path sysDir = dir.resolve("sys");
        Path link = sysDir.resolve("bus/pci/devices/0000:01:00.0");
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(Files.readSymbolicLink(link).toString()).isEqualTo("../../../devices/pci0000:00/0000:00:03.0/0000:01:00.0");
        assertThat(link.toRealPath()).isEqualTo(sysDir.resolve("devices/pci0000:00/0000:00:03.0/0000:01:00.0").toRealPath());
        assertThat(Files.readString(link.resolve("vendor"))).isEqualTo("0x1b36\n");
        assertThat(Files.readString(link.resolve("sriov_numvfs"))).isEqualTo("2\n");
        assertThat(Files.readSymbolicLink(link.resolve("virtfn1")).toString()).isEqualTo("../0000:01:00.2");
        assertThat(link.resolve("iommu_group").toRealPath().getFileName().toString()).isEqualTo("5");
        assertThat(link.resolve("driver").toRealPath()).isEqualTo(sysDir.resolve("bus/pci/drivers/nvme").toRealPath());
        assertThat(Files.readString(link.resolve("iommu_group/reserved_regions")))
                .isEqualTo("0x00000000fee00000 0x00000000feefffff msi\n");
        assertThat(Files.size(link.resolve("config"))).isEqualTo(4096);
        assertThat(Files.readAllBytes(link.resolve("config"))).isEqualTo(sys.read("/sys/bus/pci/devices/0000:01:00.0/config").data());
        assertThat(Files.isDirectory(sysDir.resolve("kernel/iommu_groups/7/devices/0000:01:00.2"))).isTrue();
        assertThat(Files.getPosixFilePermissions(sysDir.resolve("bus/pci/drivers/nvme/bind")))
                .isEqualTo(PosixFilePermissions.fromString("-w-------"));
        assertThat(Files.getPosixFilePermissions(link.resolve("vendor"))).isEqualTo(PosixFilePermissions.fromString("r--r--r--"));
        assertThat(Files.exists(link.resolve("physfn"))).isFalse();
        assertThat(Files.exists(sysDir.resolve("bus/pci/devices/0000:01:00.1/physfn/sriov_totalvfs"))).isTrue();
    }

    @Test
    void exportedDirectoriesListWhatTheTreeLists(@TempDir Path dir) throws Exception {
        SysfsTree sys = LinuxFixture.load("t6-vfio.txt").boot();
        sys.drivers().loadModule("e1000e");
        sys.exportTo(dir);
        for (String d : List.of("/sys/bus/pci/devices", "/sys/bus/pci/drivers/e1000e", "/sys/kernel/iommu_groups",
                "/sys/devices/pci0000:00/0000:00:03.0/0000:01:00.0")) {
            try (Stream<Path> s = Files.list(dir.resolve(d.substring(1)))) {
                assertThat(s.map(p -> p.getFileName().toString()).sorted().toList())
                        .as(d).isEqualTo(sys.list(d).orElseThrow());
            }
        }
        sys.exportTo(dir); // exporting again over an existing tree works
        assertThat(Files.readString(dir.resolve("sys/bus/pci/devices/0000:00:02.0/uevent"))).startsWith("DRIVER=e1000e\n");
    }
}
