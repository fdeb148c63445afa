package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code viommu qtest --explain}: stdout byte for byte the protocol, stderr the story, told
 * from what the model did - so editing one page-table entry of the script changes the story.
 */
class QtestExplainTest {
    static final List<String> ARGS = List.of("-machine", "q35", "-nodefaults", "-m", "256M",
            "-device", "intel-iommu", "-device", "edu");

    record Run(String out, String err) {
    }

    static Run run(String script, boolean explain) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = QtestServer.serve(ARGS, new BufferedReader(new StringReader(script)),
                new PrintStream(out, false, StandardCharsets.UTF_8), new PrintStream(err, false, StandardCharsets.UTF_8),
                explain);
        assertThat(rc).isZero();
        return new Run(out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static String script() throws Exception {
        return Files.readString(Path.of("examples/edu-dma.qtest"));
    }

    /** The script with the one line that writes {@code pte} replaced. */
    static String withPte(String script, String address, String value) {
        String old = script.lines().filter(l -> l.startsWith("writeq " + address + " ")).findFirst().orElseThrow();
        return script.replace(old + "\n", "writeq " + address + " " + value + "\n");
    }

    @Test
    void stdoutIsExactlyTheProtocolWithOrWithoutExplain() throws Exception {
        Run plain = run(script(), false);
        Run explained = run(script(), true);
        assertThat(explained.out()).isEqualTo(plain.out());
        // only QEMU 7.2's own error_report_once lines for the stray write (as the real
        // capture irq/vdma shows them for the same fault)
        assertThat(plain.err()).isEqualTo("qemu-system-x86_64: vtd_iova_to_slpte: detected slpte permission error (iova=0x3000, level=0x1,"
                + " slpte=0x201001, write=1, pasid=0xffffffff)\n"
                + "qemu-system-x86_64: Interrupt Mask set, irq is not generated\n"
                + "qemu-system-x86_64: vtd_iommu_translate: detected translation failure (dev=00:01:00, iova=0x3000)\n");
        assertThat(explained.out()).doesNotContain("#");
    }

    @Test
    void ignoredOptionsThatWouldChangeTheMachineAreNamedOnStderrOnly() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = QtestServer.serve(List.of("-machine", "q35", "-object", "iothread,id=io0", "-display", "none"),
                new BufferedReader(new StringReader("readl 0\n")), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("OK 0x0000000000000000\n");
        assertThat(err.toString(StandardCharsets.UTF_8))
                .isEqualTo("viommu: warning: -object iothread,id=io0 is ignored: viommu does not model it\n");
    }

    @Test
    void theExampleIsToldStepByStepFromTheModelsEvents() throws Exception {
        String err = run(script(), true).err();
        assertThat(err).startsWith(QtestExplainer.PREAMBLE + "\n");
        assertThat(err).contains(
                "# 11: writel 0xfed90018 0x40000000\n"
                        + "#    VT-d: root table pointer latched (GSTS.RTPS): root table at 0x100000, legacy mode\n",
                "#    VT-d: DMA remapping on (GSTS.TES)",
                "#    edu 00:01.0: memory decoding on, bus mastering (DMA) on, BAR0 decodes at 0xfea00000 (1 MiB)",
                "# 22: writeq 0xfea00098 1\n"
                        + "#    edu 00:01.0 DMA 16 B RAM→device via IOVA 0x1000 → GPA 0x200000 (4 KiB page, read-only): copied\n",
                "#    edu 00:01.0 DMA 16 B device→RAM via IOVA 0x2000 → GPA 0x300000 (4 KiB page, read-write): written\n",
                "# 31: writeq 0xfea00098 3\n"
                        + "#    edu 00:01.0 DMA 16 B device→RAM via IOVA 0x3000: DMA write not permitted (page not writable):"
                        + " fault recorded, reason 0x5, FRCD 0: nothing written\n",
                "#    VT-d FSTS read: 0x2 = PPF (a fault record is pending, first at FRCD 0)",
                "#    VT-d FRCD0_HI read: 0x80ffff0500000008 = F set: fault reason 0x5 (write not permitted),"
                        + " write request from 00:01.0",
                "#    VT-d: FRCD 0 cleared (its F bit written with 1): the record is free again");
        // RAM writes (the tables themselves) say nothing: the story is the model's, not the script's.
        assertThat(err).doesNotContain(": writeq 0x104018 ");
    }

    @Test
    void makingTheReadOnlyPageWritableRemovesTheFault() throws Exception {
        // Leaf PTE for IOVA 0x3000: 0x201001 (read) -> 0x201003 (read and write).
        String err = run(withPte(script(), "0x104018", "0x201003"), true).err();
        assertThat(err).contains(
                "# 31: writeq 0xfea00098 3\n"
                        + "#    edu 00:01.0 DMA 16 B device→RAM via IOVA 0x3000 → GPA 0x201000 (4 KiB page, read-write):"
                        + " written\n")
                .doesNotContain("fault recorded", "FRCD 0 cleared");
    }

    @Test
    void pointingAPteElsewhereChangesWhereTheDmaGoes() throws Exception {
        // Leaf PTE for IOVA 0x1000: GPA 0x200000 -> 0x250000.
        String err = run(withPte(script(), "0x104008", "0x250001"), true).err();
        assertThat(err).contains("edu 00:01.0 DMA 16 B RAM→device via IOVA 0x1000 → GPA 0x250000 (4 KiB page, read-only): copied")
                .doesNotContain("GPA 0x200000");
    }

    @Test
    void aMissingPteIsAFaultOfItsOwnReason() throws Exception {
        // No leaf for IOVA 0x1000: the read DMA faults with reason 0x6 (VT-d: a leaf with R = W = 0
        // is not present, reported as the access it denies).
        String err = run(withPte(script(), "0x104008", "0x0"), true).err();
        assertThat(err).contains("edu 00:01.0 DMA 16 B RAM→device via IOVA 0x1000: DMA read not permitted (page not present"
                + " or not readable): fault recorded, reason 0x6, FRCD 0: nothing read (the device got zeros)");
    }
}
