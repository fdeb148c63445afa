package io.viommu.bench;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * The benchmark side of {@code viommu bench}: runs the JMH benchmarks matching a regex and
 * prints one line per benchmark (name, score, error, and with {@code prof=gc} the allocation
 * per operation). The CLI ({@code io.viommu.cli.BenchCommand}) starts this class in a child
 * JVM whose class path holds target/viommu-jmh.jar and JMH, so that neither is part of the
 * main jar. Arguments are {@code key=value}: regex, forks, warmup, iterations, prof, verbose.
 * Exit code 0, or 1 when no benchmark matches.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        Map<String, String> a = new LinkedHashMap<>(Map.of("regex", ".*", "forks", "1", "warmup", "2",
                "iterations", "3", "prof", "", "verbose", "false"));
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq < 0 || !a.containsKey(arg.substring(0, eq))) {
                throw new IllegalArgumentException("bench: unknown argument '" + arg + "'");
            }
            a.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        String regex = a.get("regex");
        ChainedOptionsBuilder opt = new OptionsBuilder()
                .include("io\\.viommu\\..*(" + regex + ").*")
                .forks(Integer.parseInt(a.get("forks")))
                .warmupIterations(Integer.parseInt(a.get("warmup")))
                .warmupTime(TimeValue.seconds(1))
                .measurementIterations(Integer.parseInt(a.get("iterations")))
                .measurementTime(TimeValue.seconds(1))
                .verbosity(Boolean.parseBoolean(a.get("verbose")) ? VerboseMode.NORMAL : VerboseMode.SILENT)
                .jvmArgsAppend("-XX:+UseParallelGC", "--sun-misc-unsafe-memory-access=allow");
        if (!a.get("prof").isEmpty()) {
            opt.addProfiler(a.get("prof"));
        }
        Collection<RunResult> results;
        try {
            results = new Runner(opt.build()).run();
        } catch (RunnerException e) {
            // JMH refuses an include pattern that matches nothing (with no message when silent).
            System.err.println("viommu bench: " + (e.getMessage() == null || e.getMessage().contains("No matching")
                    ? "no benchmark matches '" + regex + "'" : e.getMessage()));
            System.exit(1);
            return;
        }
        if (results.isEmpty()) {
            System.err.println("viommu bench: no benchmark matches '" + regex + "'");
            System.exit(1);
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
        System.out.flush();
        System.exit(0);
    }
}
