package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code viommu tour}: exit codes, the step chosen, step 9 refused with its reason, and the README's first command. */
class TourCommandTest {
    @Test
    void oneStepPrintsItsCommandsAndChecks(@TempDir Path dir) throws Exception {
        Path page = dir.resolve("t.html");
        CliRun r = CliRun.of("tour", "2", "--html", page.toString());
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("== Step 2: a device's IOMMU group and its companions")
                .contains("host# ls /sys/bus/pci/devices/0000:00:1f.0/iommu_group/devices/\n    0000:00:1f.0\n    0000:00:1f.2\n"
                        + "    0000:00:1f.3\n")
                .contains("  ok      00:1f.0 shares its group with 00:1f.2 and 00:1f.3")
                .contains("Tour: 1 step(s), 1 as expected\nwrote " + page);
        assertThat(r.out()).doesNotContain("== Step 1", "== Step 3");
        assertThat(Files.readString(page)).contains("<section class=\"step\" id=\"step-2\" data-step=\"2\" data-ok=\"true\">");
    }

    @Test
    void stepNineSaysNestingIsNotInThisBuild() {
        CliRun r = CliRun.of("tour", "9");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("viommu tour: step 9 (nested assignment: an L1 VM with a vIOMMU hands the device on to"
                + " its L2 VM) is not in this build yet: it needs nested VMs (`viommu run --nest`), which are being built;"
                + " this tour has steps 1-8 and 10\n");
    }

    @Test
    void badStepsAreUsageErrors() {
        CliRun r = CliRun.of("tour", "x");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).isEqualTo("viommu tour: x: not a step number\n");
        r = CliRun.of("tour", "12");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).isEqualTo("viommu tour: there is no step 12: the tour has steps 1-8, 10 (step 9 is not in this build yet)\n");
    }

    @Test
    void anUnwritablePageIsReportedAfterTheRun(@TempDir Path dir) {
        CliRun r = CliRun.of("tour", "1", "--html", dir.resolve("no/such/dir/t.html").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).startsWith("viommu tour: cannot write " + dir.resolve("no/such/dir/t.html"));
    }

    /**
     * The README starts with exactly two commands: the first runs viommu's main job (here: the tour's
     * most telling steps), the second the whole test suite. The first, run as written, succeeds.
     */
    @Test
    void theReadmesFirstCommandRunsAndSucceeds() throws Exception {
        List<String> lines = Files.readAllLines(Path.of("README.md"));
        assertThat(lines.get(0)).startsWith("# viommu");
        int open = lines.indexOf("```");
        assertThat(open).isBetween(1, 3);
        List<String> block = lines.subList(open + 1, lines.subList(open + 1, lines.size()).indexOf("```") + open + 1);
        assertThat(block).hasSize(2);
        assertThat(block.get(1)).isEqualTo("./run-tests");
        String first = block.get(0);
        assertThat(first).startsWith("./viommu tour");
        List<String> args = List.of(first.substring("./viommu ".length()).trim().split("\\s+"));
        CliRun r = CliRun.of(args);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("as expected\n").doesNotContain("FAILED");
    }
}
