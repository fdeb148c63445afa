package io.viommu.conformance;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Runs batches on peers and judges the result: QEMU against the generator's expectations (oracle
 * self-test) and viommu against QEMU (the differential comparison). Failures name the family,
 * seed, command line, case, and the last commands with both replies, and leave the whole script
 * under {@code target/diff-failures/} to replay by hand.
 */
final class Differential {
    private static final int CONTEXT_LINES = 12;

    private Differential() {}

    /**
     * The command line (after the binary) both peers are started with: q35 with 256 MiB, no
     * display, monitor or serial, the HALT firmware, qtest on stdio, then {@code extra}. A
     * {@code -machine}/{@code -M} or {@code -m} in {@code extra} replaces the default one.
     */
    static List<String> commandLine(List<String> extra) {
        List<String> a = new ArrayList<>();
        if (extra.stream().noneMatch(x -> x.equals("-machine") || x.equals("-M"))) {
            a.addAll(List.of("-machine", "q35"));
        }
        if (!extra.contains("-m")) {
            a.addAll(List.of("-m", "256M"));
        }
        a.addAll(List.of("-display", "none", "-nodefaults", "-monitor", "none", "-serial", "none",
                "-bios", HaltBios.path().toString(), "-qtest", "stdio"));
        a.addAll(extra);
        return a;
    }

    /** QEMU 7.2 started with {@link #commandLine} of {@code extra}; skipped without QEMU (failure under CI). */
    static QemuPeer qemu(String... extra) {
        requireQemu();
        return QemuPeer.start(commandLine(Arrays.asList(extra)));
    }

    /** viommu's qtest server started with the same command line as {@link #qemu}. */
    static ViommuPeer viommu(String... extra) {
        return ViommuPeer.start(requireViommu(), commandLine(Arrays.asList(extra)));
    }

    /** Skips unless /dev/kvm is usable (a machine without KVM is no failure, even under CI), then {@link #requireQemu}. */
    static void requireKvm() {
        assumeTrue(Files.isWritable(Path.of("/dev/kvm")), "KVM not usable");
        requireQemu();
    }

    /** Skips (assumption) without QEMU, except under CI, where the differential suite must run. */
    static void requireQemu() {
        if (QemuPeer.installed()) {
            return;
        }
        String msg = QemuPeer.BINARY + " (QEMU 7.2, Debian package qemu-system-x86) is not installed:"
                + " the differential tests against QEMU cannot run.";
        if (System.getenv("CI") != null) {
            fail(msg + " CI is set, so this is a failure (.ci/run installs QEMU).");
        }
        assumeTrue(false, msg + " Skipped; install it to run them.");
    }

    /** The in-process viommu qtest server; skipped when absent, failure under CI. */
    static ViommuQtestServer.Entry requireViommu() {
        Optional<ViommuQtestServer.Entry> e = ViommuQtestServer.locate();
        if (e.isPresent()) {
            return e.get();
        }
        String msg = "io.viommu.cli.QtestServer.serve(List, BufferedReader, PrintStream, PrintStream)"
                + " is not on the class path: nothing to compare QEMU with.";
        if (System.getenv("CI") != null) {
            fail(msg + " CI is set, so this is a failure (fix ViommuQtestServer).");
        }
        assumeTrue(false, msg + " Skipped.");
        return null;
    }

    static Transcript runOnQemu(Batch batch) {
        try (QemuPeer peer = QemuPeer.start(batch.qemuArgs())) {
            return Transcript.record(batch, peer);
        }
    }

    static Transcript runOnViommu(ViommuQtestServer.Entry entry, Batch batch) {
        try (ViommuPeer peer = ViommuPeer.start(entry, batch.qemuArgs())) {
            return Transcript.record(batch, peer);
        }
    }

    /** Every expectation the generator attached that QEMU's replies do not meet. */
    static List<String> unmetExpectations(Batch batch, Transcript qemu) {
        List<String> problems = new ArrayList<>();
        int commands = (int) batch.script().steps().stream().filter(s -> s instanceof QtestScript.Command).count();
        if (qemu.exchanges().size() < commands) {
            problems.add("QEMU stopped after " + qemu.exchanges().size() + " of " + commands + " commands");
        }
        for (int i = 0; i < qemu.exchanges().size(); i++) {
            Transcript.Exchange e = qemu.exchanges().get(i);
            QtestScript.Expectation x = e.command().expect();
            if (x != null && !x.matches(e.reply())) {
                problems.add(String.format("[%s] %s%n    got      %s%n    expected %s%n%s", e.caseName(),
                        e.command().text(), e.reply(), x, qemu.context(i, CONTEXT_LINES)));
            }
        }
        return problems;
    }

    static void assertQemuMeetsExpectations(Batch batch) {
        Transcript t = runOnQemu(batch);
        List<String> problems = unmetExpectations(batch, t);
        if (!problems.isEmpty()) {
            Path saved = save(batch);
            fail(String.format("QEMU did not do what the %s generator intends (%d problems).%n%s%n"
                    + "Script: %s%nQEMU stderr tail:%n%s%nFirst problems:%n%s", batch.family(), problems.size(),
                    batch.title(), saved, t.diagnostics(),
                    String.join("\n", problems.subList(0, Math.min(Integer.getInteger("viommu.diff.maxProblems", 5), problems.size())))));
        }
    }

    /** The first reply where viommu differs from QEMU (beyond the known deviations), or null. */
    static String firstDivergence(Batch batch, Transcript qemu, Transcript viommu) {
        int n = Math.max(qemu.exchanges().size(), viommu.exchanges().size());
        for (int i = 0; i < n; i++) {
            String q = i < qemu.exchanges().size() ? qemu.exchanges().get(i).reply() : "<no reply: QEMU stopped>";
            String v = i < viommu.exchanges().size() ? viommu.exchanges().get(i).reply() : "<no reply: viommu stopped>";
            Transcript.Exchange e = i < qemu.exchanges().size() ? qemu.exchanges().get(i) : viommu.exchanges().get(i);
            if (q.equals(v) || KnownDeviations.find(e.command().text(), q, v) != null) {
                continue;
            }
            return String.format("viommu differs from QEMU 7.2 at command %d of %s%n"
                    + "  case:    %s%n  command: %s%n  QEMU:    %s%n  viommu:  %s%n"
                    + "QEMU transcript before it:%n%sviommu transcript before it:%n%s"
                    + "viommu stderr tail:%n%s%nReproduce: -Dviommu.diff.seed=%d (family %s)%n",
                    i, batch.title(), e.caseName(), e.command().text(), q, v, qemu.context(i, CONTEXT_LINES),
                    viommu.context(i, CONTEXT_LINES), viommu.diagnostics(), batch.seed(), batch.family());
        }
        return null;
    }

    static void assertSameReplies(ViommuQtestServer.Entry viommu, Batch batch) {
        Transcript q = runOnQemu(batch);
        List<String> unmet = unmetExpectations(batch, q);
        Transcript v = runOnViommu(viommu, batch);
        String d = firstDivergence(batch, q, v);
        if (d != null) {
            Path saved = save(batch);
            fail(d + "Script: " + saved
                    + (unmet.isEmpty() ? "" : "\n(note: QEMU also missed " + unmet.size() + " generator expectations)"));
        }
    }

    /** Writes the batch's script and command line under target/diff-failures for replay. */
    static Path save(Batch batch) {
        try {
            Path dir = Path.of("target", "diff-failures");
            Files.createDirectories(dir);
            Path p = dir.resolve(batch.family() + "-" + batch.seed() + ".qtest");
            Files.writeString(p, "# " + QemuPeer.BINARY + " " + String.join(" ", batch.qemuArgs()) + "\n"
                    + batch.script().render());
            return p.toAbsolutePath();
        } catch (IOException e) {
            return Path.of("(could not save: " + e.getMessage() + ")");
        }
    }
}
