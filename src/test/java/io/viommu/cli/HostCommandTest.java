package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostCommandTest {
    @Test
    void scanOfASavedTreePrintsTheReasonAndExitsZero() {
        CliRun r = CliRun.of("host", "scan", "--sysfs", "src/test/host-trees/firecracker-vm");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("IOMMU: NONE").contains("Verdict: no IOMMU");
    }

    @Test
    void scanJsonIsJson() {
        CliRun r = CliRun.of("host", "scan", "--json", "--sysfs", "src/test/host-trees/intel-vtd");
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("{").contains("\"schema\" : \"viommu.host-scan/1\"");
    }

    @Test
    void aDirectoryThatIsNotATreeIsAUsageError(@TempDir Path tmp) {
        CliRun r = CliRun.of("host", "scan", "--sysfs", tmp.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("no sys/ directory");
        assertThat(CliRun.of("host", "scan", "--bogus").code()).isEqualTo(2);
    }

    @Test
    void snapshotWritesATreeScanCanRead(@TempDir Path tmp) {
        Path out = tmp.resolve("saved");
        CliRun r = CliRun.of("host", "snapshot", "--sysfs", "src/test/host-trees/intel-vtd", out.toString());
        assertThat(r.code()).isZero();
        assertThat(CliRun.of("host", "scan", "--sysfs", out.toString()).out()).contains("IOMMU: enabled (intel)");
        assertThat(CliRun.of("host", "snapshot", "--sysfs", "src/test/host-trees/intel-vtd", out.toString()).code()).isEqualTo(2);
    }

    @Test
    void everyHostCommandHasHelp() {
        for (String[] a : new String[][] {{"host", "--help"}, {"host", "scan", "--help"}, {"host", "snapshot", "--help"}}) {
            CliRun r = CliRun.of(a);
            assertThat(r.code()).isZero();
            assertThat(r.out()).contains("Usage:");
        }
    }
}
