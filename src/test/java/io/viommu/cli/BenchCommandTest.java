package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code viommu bench} runs the benchmarks of the src/jmh source set, which are not in the main
 * jar: these tests fail if the build stops producing them or the CLI stops finding them.
 */
class BenchCommandTest {
    /** Smoke runs, not measurements: they need not wait for another JMH run on this machine. */
    @BeforeAll
    static void ignoreJmhLock() {
        System.setProperty("jmh.ignoreLock", "true");
    }

    @AfterAll
    static void restoreJmhLock() {
        System.clearProperty("jmh.ignoreLock");
    }

    @Test
    void benchRunsOneShortBenchmarkAndPrintsItsResultLine() {
        // The cheapest benchmark (no machine to build), in the child JVM itself, one 1 s iteration.
        CliRun r = CliRun.of("bench", "IovaBench.allocFreeCached", "--forks", "0", "--warmup", "0",
                "--iterations", "1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().lines()).singleElement().asString()
                .matches("bench\\.IovaBench\\.allocFreeCached +[0-9.]+ ns/op  ± .*");
    }

    @Test
    void benchSaysSoWhenNothingMatches() {
        CliRun r = CliRun.of("bench", "NoSuchBenchmark", "--forks", "0");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("viommu bench: no benchmark matches 'NoSuchBenchmark'");
    }

    @Test
    void everyBenchmarkClassTheReadmeQuotesIsBuilt() throws Exception {
        Path list = BenchCommand.benchClassPath().getFirst().resolve("META-INF/BenchmarkList");
        assertThat(list).exists();
        String benchmarks = Files.readString(list);
        for (String b : new String[] {"TranslateBench.ramRead8", "TranslateBench.iotlbHit",
                "TranslateBench.iotlbMiss4LevelWalk", "NestedTranslateBench.nestedIotlbHit",
                "NestedTranslateBench.nestedIotlbMiss", "DmaApiBench", "VfioMapBench", "IovaBench",
                "InterruptRemapBench", "ScaleBench.mapUnmapInFullContainer", "ScaleBench.translateAcrossFunctions"}) {
            // a BenchmarkList line: JMH S <len> <class> S <len> <generated class> S <len> <method> ...
            String[] cm = b.split("\\.");
            assertThat(benchmarks).as(b).containsPattern("JMH S \\d+ io\\.viommu\\.bench\\." + cm[0] + " "
                    + (cm.length > 1 ? "S \\d+ \\S+ S \\d+ " + cm[1] + " " : ""));
        }
    }
}
