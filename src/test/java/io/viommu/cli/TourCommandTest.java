package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code viommu tour}: exit codes, the step chosen, step 9 (nested), and the README's first command. */
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
    void stepNineRunsTheNestedWalkthrough() {
        CliRun r = CliRun.of("tour", "9");
        assertThat(r.code()).as(r.out()).isZero();
        assertThat(r.err()).isEmpty();
        assertThat(r.out()).startsWith("== Step 9: nested: L1 (vIOMMU, caching mode) hands the host's device on to L2")
                .contains("L1# qemu-system-x86_64 -M q35,accel=kvm -m 128M -nodefaults -append intel_iommu=on"
                        + " -device intel-iommu,caching-mode=on -device vfio-pci,host=00:01.0\n")
                .contains("  ok      the stray DMA reaches no memory: the chain breaks at L2, the host's unit (L0) stops it\n")
                .doesNotContain("FAILED")
                .endsWith("Step 9: as the walkthrough says\n\nTour: 1 step(s), 1 as expected\n");
    }

    @Test
    void badStepsAreUsageErrors() {
        CliRun r = CliRun.of("tour", "x");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).isEqualTo("viommu tour: x: not a step number\n");
        r = CliRun.of("tour", "12");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).isEqualTo("viommu tour: there is no step 12: the tour has steps 1-10\n");
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
