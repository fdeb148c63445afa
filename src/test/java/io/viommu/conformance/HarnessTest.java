package io.viommu.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The harness's own behaviour, mostly without QEMU: reply alignment, divergence reports. */
class HarnessTest {

    /** A fake server: answers "OK 0x<n>" to reads (n from the function), "OK" otherwise. */
    static ViommuQtestServer.Entry fake(java.util.function.Function<String, String> reply) {
        return (args, in, out, err) -> {
            String line;
            while ((line = in.readLine()) != null) {
                out.println(reply.apply(line));
            }
            return 0;
        };
    }

    static Batch tiny() {
        QtestScript s = new QtestScript().note("case A").writel(Vtd.reg(Vtd.FECTL), 0).readl(Vtd.reg(Vtd.FECTL))
                .note("case B").readl(Vtd.reg(Vtd.GSTS)).readl(Vtd.reg(Vtd.FSTS));
        return new Batch("tiny", 42, List.of("intel-iommu"), s);
    }

    @Test
    void identicalRepliesHaveNoDivergence() {
        var e = fake(l -> l.startsWith("read") ? "OK 0x0000000000000000" : "OK");
        Transcript a = Differential.runOnViommu(e, tiny());
        Transcript b = Differential.runOnViommu(e, tiny());
        assertThat(a.exchanges()).hasSize(4);
        assertThat(Differential.firstDivergence(tiny(), a, b)).isNull();
    }

    @Test
    void firstDifferentReplyIsReportedWithCaseCommandAndSeed() {
        Transcript q = Differential.runOnViommu(fake(l -> l.startsWith("read") ? "OK 0x0000000000000000" : "OK"), tiny());
        Transcript v = Differential.runOnViommu(fake(l -> l.equals("readl 0xfed9001c") ? "OK 0x0000000080000000"
                : l.startsWith("read") ? "OK 0x0000000000000000" : "OK"), tiny());
        String d = Differential.firstDivergence(tiny(), q, v);
        assertThat(d).contains("case:    case B").contains("command: readl 0xfed9001c")
                .contains("QEMU:    OK 0x0000000000000000").contains("viommu:  OK 0x0000000080000000")
                .contains("-Dviommu.diff.seed=42");
    }

    @Test
    void asynchronousLinesAreKeptOutOfReplies() {
        ViommuQtestServer.Entry e = (args, in, out, err) -> {
            String line;
            while ((line = in.readLine()) != null) {
                out.println("IRQ raise 0");
                out.println("OK");
            }
            return 0;
        };
        try (ViommuPeer p = ViommuPeer.start(e, List.of())) {
            assertThat(p.send("writel 0x0 0x0")).containsExactly("OK");
            assertThat(p.send("writel 0x0 0x0")).containsExactly("OK");
            assertThat(p.asyncLines()).containsExactly("IRQ raise 0", "IRQ raise 0");
        }
    }

    @Test
    void aPeerThatDiesYieldsASyntheticReplyAndTheTranscriptStops() {
        ViommuQtestServer.Entry e = (args, in, out, err) -> {
            in.readLine();
            err.println("boom");
            throw new IllegalStateException("crashed");
        };
        Transcript t = Differential.runOnViommu(e, tiny());
        assertThat(t.exchanges()).hasSize(1);
        assertThat(t.exchanges().getFirst().reply()).startsWith("<peer exited: threw java.lang.IllegalStateException");
        assertThat(t.diagnostics()).contains("boom");
    }

    @Test
    void aKnownDeviationToleratesOnlyWhatItNames() {
        var d = new KnownDeviations.ReplyPattern(Pattern.compile("readq 0xfed90228"), Pattern.compile("OK 0x80ffff.*"),
                Pattern.compile("OK 0x8000000.*"), "PV filled by QEMU on non-PASID faults");
        assertThat(d.tolerates("readq 0xfed90228", "OK 0x80ffff0500000008", "OK 0x8000000500000008")).isTrue();
        assertThat(d.tolerates("readq 0xfed90220", "OK 0x80ffff0500000008", "OK 0x8000000500000008")).isFalse();
        assertThat(d.tolerates("readq 0xfed90228", "OK 0x80ffff0500000008", "OK 0x80ffff0600000008")).isFalse();
    }

    @Test
    void generatorsAreDeterministicPerSeed() {
        assertThat(DmaScenarios.translationBatch(7, "", 6).script().render())
                .isEqualTo(DmaScenarios.translationBatch(7, "", 6).script().render());
        assertThat(FaultScenarios.faultBatch(7, "").script().render())
                .isNotEqualTo(FaultScenarios.faultBatch(8, "").script().render());
    }

    /** QEMU behind the in-process peer's plumbing: the same script gives the same replies. */
    @Test
    void qemuThroughBothPeerKindsGivesTheSameRegisterReplies() {
        Differential.requireQemu();
        ViommuQtestServer.Entry qemuAsServer = (args, in, out, err) -> {
            List<String> cmd = new ArrayList<>(List.of(QemuPeer.BINARY));
            cmd.addAll(args);
            cmd.addAll(List.of("-qtest-log", "/dev/null"));
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            Thread pump = Thread.ofPlatform().daemon().start(() -> copy(p.getInputStream(), out));
            try (var w = new PrintStream(p.getOutputStream(), true)) {
                String line;
                while ((line = in.readLine()) != null) {
                    w.println(line);
                }
            } finally {
                p.destroyForcibly();
                pump.join(2000);
            }
            return 0;
        };
        for (Batch b : List.of(RegisterScenarios.gcmdBatch(1, ""), RegisterScenarios.randomWriteBatch(2, "", 200))) {
            Transcript q = Differential.runOnQemu(b);
            Transcript v = Differential.runOnViommu(qemuAsServer, b);
            assertThat(Differential.firstDivergence(b, q, v)).isNull();
            assertThat(v.exchanges()).hasSameSizeAs(q.exchanges());
        }
    }

    private static void copy(InputStream in, OutputStream out) {
        try {
            in.transferTo(out);
            out.flush();
        } catch (IOException ignored) {
            // process ended
        }
    }

}
