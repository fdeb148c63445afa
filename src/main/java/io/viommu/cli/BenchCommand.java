package io.viommu.cli;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code viommu bench [regex]}: runs the JMH benchmarks with short settings, one line each.
 *
 * <p>The benchmarks are not in the main jar: they are the src/jmh source set, built by the same
 * Maven module into target/viommu-jmh.jar (target/jmh-classes before packaging) with JMH's
 * libraries in target/jmh-lib. This command starts {@code io.viommu.bench.Main} in a child JVM
 * with those on the class path, next to this JVM's own class path, and relays its output.
 * {@code -Dviommu.bench.classpath=...} overrides where the benchmarks are looked for.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run viommu's JMH benchmarks (short settings by default) and print one line"
                + " per benchmark: name, ns/op, error.",
                "For numbers worth quoting use more iterations, e.g. --warmup 5 --iterations 10."})
final class BenchCommand implements Callable<Integer> {
    static final String BENCH_MAIN = "io.viommu.bench.Main";

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
    public Integer call() throws IOException, InterruptedException {
        List<Path> benchPath = benchClassPath();
        if (benchPath.isEmpty()) {
            System.err.println("viommu bench: the benchmarks are not built (no target/viommu-jmh.jar);"
                    + " run ./viommu bench, which builds them, or mvn package");
            return 1;
        }
        List<String> classPath = new ArrayList<>();
        benchPath.forEach(p -> classPath.add(p.toString()));
        classPath.add(System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseParallelGC", "--sun-misc-unsafe-memory-access=allow"));
        // JMH refuses to run while another JMH run holds /tmp/jmh.lock; -Djmh.ignoreLock=true
        // on this JVM (e.g. a smoke test) is passed on.
        String ignoreLock = System.getProperty("jmh.ignoreLock");
        if (ignoreLock != null) {
            cmd.add("-Djmh.ignoreLock=" + ignoreLock);
        }
        cmd.addAll(List.of("-cp", String.join(File.pathSeparator, classPath), BENCH_MAIN,
                "regex=" + regex, "forks=" + forks, "warmup=" + warmup, "iterations=" + iterations,
                "prof=" + (profiler == null ? "" : profiler), "verbose=" + verbose));
        Process child = new ProcessBuilder(cmd).start();
        child.getOutputStream().close();
        // Relayed through System.out/err (not inherited) so that in-process callers capture it.
        Thread err = Thread.ofPlatform().daemon().start(() -> relay(child.getErrorStream(), System.err));
        relay(child.getInputStream(), System.out);
        int code = child.waitFor();
        err.join();
        return code;
    }

    private static void relay(InputStream in, PrintStream out) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                out.println(line);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The benchmark classes and JMH's libraries: next to target/viommu.jar when running from it,
     * next to target/classes when running from the build directory (tests, IDEs). Empty when
     * the benchmarks are not there.
     */
    static List<Path> benchClassPath() throws IOException {
        String override = System.getProperty("viommu.bench.classpath");
        if (override != null) {
            return Stream.of(override.split(File.pathSeparator)).map(Path::of).toList();
        }
        Path self;
        try {
            self = Path.of(BenchCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | RuntimeException e) {
            return List.of();
        }
        Path dir = self.getParent();
        Path bench = Files.isDirectory(self) ? dir.resolve("jmh-classes") : dir.resolve("viommu-jmh.jar");
        if (!Files.exists(bench)) {
            return List.of();
        }
        List<Path> out = new ArrayList<>(List.of(bench));
        Path lib = dir.resolve("jmh-lib");
        if (Files.isDirectory(lib)) {
            try (Stream<Path> jars = Files.list(lib)) {
                jars.filter(p -> p.toString().endsWith(".jar")).sorted().forEach(out::add);
            }
        }
        return out;
    }
}
