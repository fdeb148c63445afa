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
        for (String[] a : new String[][] {{"host", "--help"}, {"host", "scan", "--help"}, {"host", "snapshot", "--help"},
                {"host", "report", "--help"}}) {
            CliRun r = CliRun.of(a);
            assertThat(r.code()).isZero();
            assertThat(r.out()).contains("Usage:");
        }
    }

    @Test
    void reportWritesTheHtmlPage(@TempDir Path tmp) throws Exception {
        Path page = tmp.resolve("host.html");
        CliRun r = CliRun.of("host", "report", "--html", page.toString(), "--sysfs", "src/test/host-trees/intel-vtd");
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("wrote " + page + ": 12 IOMMU groups, 18 PCI functions; ");
        assertThat(java.nio.file.Files.readString(page)).startsWith("<!DOCTYPE html>")
                .contains("data-group=\"7\"").contains("data-bdf=\"0000:01:00.1\"").endsWith("</html>\n");
        CliRun toStdout = CliRun.of("host", "report", "--html", "-", "--sysfs", "src/test/host-trees/intel-vtd");
        assertThat(toStdout.code()).isZero();
        assertThat(toStdout.out()).isEqualTo(java.nio.file.Files.readString(page));
    }

    @Test
    void reportRefusesMissingFileUnwritableFileAndBadTree(@TempDir Path tmp) {
        CliRun noFile = CliRun.of("host", "report", "--sysfs", "src/test/host-trees/intel-vtd");
        assertThat(noFile.code()).isEqualTo(2);
        assertThat(noFile.err()).contains("Missing required option: '--html=FILE'");
        Path missingDir = tmp.resolve("no/such/dir/host.html");
        CliRun unwritable = CliRun.of("host", "report", "--html", missingDir.toString(), "--sysfs", "src/test/host-trees/intel-vtd");
        assertThat(unwritable.code()).isEqualTo(1);
        assertThat(unwritable.err()).isEqualTo("viommu host report: cannot write " + missingDir + ": no such directory "
                + missingDir.getParent() + "\n");
        CliRun badTree = CliRun.of("host", "report", "--html", tmp.resolve("x.html").toString(), "--sysfs", tmp.toString());
        assertThat(badTree.code()).isEqualTo(2);
        assertThat(badTree.err()).contains("no sys/ directory");
        assertThat(tmp.resolve("x.html")).doesNotExist();
    }

    @Test
    void reportDrawsAPlanOfTheSameHostAndRefusesOneOfAnother(@TempDir Path tmp) throws Exception {
        String host = java.nio.file.Files.readString(Path.of("docs/examples/plan-host.args")).strip();
        Path plan = tmp.resolve("plan.json");
        CliRun planned = CliRun.of("host", "plan", "--model", host, "--json", "0000:00:05.0");
        assertThat(planned.code()).isZero();
        java.nio.file.Files.writeString(plan, planned.out());
        Path page = tmp.resolve("host.html");
        CliRun r = CliRun.of("host", "report", "--model", host, "--plan", plan.toString(), "--html", page.toString());
        assertThat(r.code()).as(r.err()).isZero();
        String html = java.nio.file.Files.readString(page);
        assertThat(html).contains("<section id=\"plan\"").contains("data-plan-member=\"0000:00:05.0\"")
                .contains("data-plan-member=\"0000:00:05.1\"")
                .contains("data-bdf=\"0000:00:05.0\" data-group=").contains("data-planned=\"true\"");
        assertThat(html.split("data-planned=", -1)).hasSize(3); // the edu and the e1000 of its group, nothing else

        Path other = tmp.resolve("other.html");
        CliRun refused = CliRun.of("host", "report", "--sysfs", "src/test/host-trees/intel-vtd", "--plan", plan.toString(),
                "--html", other.toString());
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).startsWith("viommu host report: --plan " + plan + ": the plan was made on another host: PCI inventory");
        assertThat(other).doesNotExist();

        Path junk = tmp.resolve("junk.json");
        java.nio.file.Files.writeString(junk, "{\"schema\": \"viommu.host-scan/1\"}");
        CliRun notAPlan = CliRun.of("host", "report", "--model", host, "--plan", junk.toString(), "--html", other.toString());
        assertThat(notAPlan.code()).isEqualTo(2);
        assertThat(notAPlan.err()).contains("expected viommu.host-plan/1");
        assertThat(other).doesNotExist();
    }
}
