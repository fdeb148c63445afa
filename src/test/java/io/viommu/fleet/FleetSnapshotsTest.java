package io.viommu.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mis-edited snapshots are refused, naming the file and what is wrong, before anything reads them. */
class FleetSnapshotsTest {
    private static Path copy(Path from, Path to) throws IOException {
        io.viommu.host.BindPlannerTest.copy(from, to);
        return to;
    }

    private static Path dev(Path snap, String bdf) throws IOException {
        return snap.resolve("sys/bus/pci/devices").resolve(bdf).toRealPath();
    }

    @Test
    void theUneditedFleetIsAccepted() {
        assertThat(FleetSnapshots.load(FleetFixtures.all()).refusals()).isEmpty();
    }

    @Test
    void aTruncatedFileIsRefusedByName(@TempDir Path tmp) throws IOException {
        Path s = copy(FleetFixtures.fleet().resolve("node-pf"), tmp.resolve("node-pf"));
        Files.write(dev(s, "0000:01:00.0").resolve("config"), new byte[] {(byte) 0x86, (byte) 0x80, (byte) 0xc9});
        Files.writeString(dev(s, "0000:00:02.0").resolve("vendor"), "0x80");
        assertThat(FleetSnapshots.load(List.of(s)).refusals()).containsExactly(
                s.resolve("sys/bus/pci/devices/0000:00:02.0/vendor") + ": \"0x80\", where the kernel writes 0x and 4 hex"
                        + " digits: the file was cut short or edited",
                s.resolve("sys/bus/pci/devices/0000:01:00.0/config") + ": 3 bytes; every PCI function's config space has"
                        + " at least the 64-byte header: the file was cut short");
    }

    @Test
    void anotherHostsFileRenamedIntoPlaceIsRefused(@TempDir Path tmp) throws IOException {
        Path s = copy(FleetFixtures.fleet().resolve("node-pf"), tmp.resolve("node-pf"));
        // the NVMe host's config space of its 1b36:0010, copied over the 82576's
        Files.copy(dev(FleetFixtures.fleet().resolve("node-nvme"), "0000:01:00.0").resolve("config"),
                dev(s, "0000:01:00.0").resolve("config"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThat(FleetSnapshots.load(List.of(s)).refusals()).containsExactly(
                s.resolve("sys/bus/pci/devices/0000:01:00.0/config") + ": holds the config space of a 1b36:0010 but"
                        + " vendor and device say 8086:10c9: a config file of another device (or another host's) put in its place");
    }

    @Test
    void aDeviceThatVanishedIsRefused(@TempDir Path tmp) throws IOException {
        Path s = copy(FleetFixtures.fleet().resolve("node-vfs"), tmp.resolve("node-vfs"));
        Path vf = dev(s, "0000:01:10.2");
        try (Stream<Path> w = Files.walk(vf)) {
            for (Path p : w.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        List<String> r = FleetSnapshots.load(List.of(s)).refusals();
        assertThat(r).anySatisfy(x -> assertThat(x).startsWith(s.resolve("sys/bus/pci/devices/0000:01:10.2")
                + ": the link points to ").endsWith("which is not in the snapshot: the device vanished from it (a removed"
                + " directory, or a snapshot copied in part)"));
        assertThat(r).anySatisfy(x -> assertThat(x).matches(".*/sys/kernel/iommu_groups/\\d+/devices/0000:01:10.2: IOMMU"
                + " group \\d+ lists a device that is not in the snapshot \\(it vanished from it\\)"));
    }

    @Test
    void notASnapshotAndDuplicateNodeNamesAreRefused(@TempDir Path tmp) throws IOException {
        Files.createDirectories(tmp.resolve("empty"));
        Path other = copy(FleetFixtures.fleet().resolve("node-pf"), tmp.resolve("b").resolve("node-pf"));
        assertThat(FleetSnapshots.load(List.of(tmp.resolve("empty"), tmp.resolve("nope"), FleetFixtures.fleet().resolve("node-pf"), other))
                .refusals()).containsExactly(
                tmp.resolve("empty") + ": no sys/ directory in it: not a snapshot (make one on the host with `viommu host snapshot DIR`)",
                tmp.resolve("nope") + ": no such directory (a snapshot is the directory `viommu host snapshot DIR` writes)",
                other + ": node name node-pf is also the name of " + FleetFixtures.fleet().resolve("node-pf").toAbsolutePath().normalize()
                        + "; the node name is the snapshot directory's name, so each must be unique (rename the directory after its node)");
    }
}
