package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostCommandTest {
    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Main.commandLine().execute(args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void scanOfASavedTreePrintsTheReasonAndExitsZero() {
        Run r = run("host", "scan", "--sysfs", "src/test/host-trees/firecracker-vm");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("IOMMU: NONE").contains("Verdict: no IOMMU");
    }

    @Test
    void scanJsonIsJson() {
        Run r = run("host", "scan", "--json", "--sysfs", "src/test/host-trees/intel-vtd");
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("{").contains("\"schema\" : \"viommu.host-scan/1\"");
    }

    @Test
    void aDirectoryThatIsNotATreeIsAUsageError(@TempDir Path tmp) {
        Run r = run("host", "scan", "--sysfs", tmp.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("no sys/ directory");
        assertThat(run("host", "scan", "--bogus").code()).isEqualTo(2);
    }

    @Test
    void snapshotWritesATreeScanCanRead(@TempDir Path tmp) {
        Path out = tmp.resolve("saved");
        Run r = run("host", "snapshot", "--sysfs", "src/test/host-trees/intel-vtd", out.toString());
        assertThat(r.code()).isZero();
        assertThat(run("host", "scan", "--sysfs", out.toString()).out()).contains("IOMMU: enabled (intel)");
        assertThat(run("host", "snapshot", "--sysfs", "src/test/host-trees/intel-vtd", out.toString()).code()).isEqualTo(2);
    }

    @Test
    void everyHostCommandHasHelp() {
        for (String[] a : new String[][] {{"host", "--help"}, {"host", "scan", "--help"}, {"host", "snapshot", "--help"}}) {
            Run r = run(a);
            assertThat(r.code()).isZero();
            assertThat(r.out()).contains("Usage:");
        }
    }
}
