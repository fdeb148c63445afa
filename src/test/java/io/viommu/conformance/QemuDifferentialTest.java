package io.viommu.conformance;

import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The acceptance gate of issue 2 section 5: every generated batch runs on QEMU 7.2 and on
 * viommu's qtest server, and every reply must be equal (asynchronous IRQ lines aside, and the
 * documented {@link KnownDeviations}). A failure names the batch's family and seed, the case,
 * both transcripts before the divergence, and saves the script under target/diff-failures.
 * Re-run one seed with {@code -Dviommu.diff.seed=N}.
 */
class QemuDifferentialTest {
    /** Reports, as a skip with its reason (or a failure under CI), a missing peer. */
    @Test
    void bothPeersAreAvailable() {
        Differential.requireQemu();
        Differential.requireViommu();
    }

    @TestFactory
    Stream<DynamicTest> viommuRepliesLikeQemuToEveryGeneratedScript() {
        // Checked here rather than in @BeforeAll so that a skip is reported with its reason.
        Differential.requireQemu();
        ViommuQtestServer.Entry viommu = Differential.requireViommu();
        long seed = DifferentialSuite.baseSeed();
        System.out.println("differential suite base seed " + seed + " (-Dviommu.diff.seed=" + seed + ")");
        return DifferentialSuite.batches(seed).stream()
                .map(b -> DynamicTest.dynamicTest(b.family() + " seed=" + b.seed(),
                        () -> Differential.assertSameReplies(viommu, b)));
    }
}
