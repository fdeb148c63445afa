package io.viommu.cli;

import java.util.Collection;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code viommu bench [regex]}: runs the JMH benchmarks with short settings, one line each. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run viommu's JMH benchmarks (short settings by default) and print one line"
                + " per benchmark: name, ns/op, error.",
                "For numbers worth quoting use more iterations, e.g. --warmup 5 --iterations 10."})
final class BenchCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "REGEX", description = "Benchmarks to run (default: all).")
    String regex = ".*";

    @Option(names = "--forks", description = "JVM forks (default: ${DEFAULT-VALUE}).")
    int forks = 1;

    @Option(names = "--warmup", description = "Warm-up iterations of 1 s (default: ${DEFAULT-VALUE}).")
    int warmup = 2;

    @Option(names = "--iterations", description = "Measured iterations of 1 s (default: ${DEFAULT-VALUE}).")
    int iterations = 3;

    @Option(names = "--prof", description = "A JMH profiler, e.g. gc (allocation per op).")
    String profiler;

    @Option(names = "--jmh-output", description = "Show JMH's own progress output.")
    boolean verbose;

    @Override
    public Integer call() throws RunnerException {
        ChainedOptionsBuilder opt = new OptionsBuilder()
                .include("io\\.viommu\\..*(" + regex + ").*")
                .forks(forks)
                .warmupIterations(warmup)
                .warmupTime(TimeValue.seconds(1))
                .measurementIterations(iterations)
                .measurementTime(TimeValue.seconds(1))
                .verbosity(verbose ? VerboseMode.NORMAL : VerboseMode.SILENT)
                .jvmArgsAppend("-XX:+UseParallelGC", "--sun-misc-unsafe-memory-access=allow");
        if (profiler != null) {
            opt.addProfiler(profiler);
        }
        Collection<RunResult> results = new Runner(opt.build()).run();
        if (results.isEmpty()) {
            System.err.println("viommu bench: no benchmark matches '" + regex + "'");
            return 1;
        }
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark().replaceFirst("^io\\.viommu\\.", "");
            StringBuilder params = new StringBuilder();
            for (String key : r.getParams().getParamsKeys()) {
                params.append(params.isEmpty() ? " [" : ",").append(key).append('=').append(r.getParams().getParam(key));
            }
            if (!params.isEmpty()) {
                name += params.append(']');
            }
            var primary = r.getPrimaryResult();
            System.out.printf("%-60s %12.3f %s  ± %.3f%n", name, primary.getScore(),
                    primary.getScoreUnit(), primary.getScoreError());
            r.getSecondaryResults().forEach((k, v) -> {
                if (k.contains("alloc.rate.norm")) {
                    System.out.printf("%-60s %12.3f %s%n", "  " + k, v.getScore(), v.getScoreUnit());
                }
            });
        }
        return 0;
    }
}
