package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The modern registers of virtio-net-pci and virtio-blk-pci held against QEMU 7.2
 * (src/test/resources/vmm/virtio-regs, captured with the lab's {@code capture}): the same qtest
 * script through {@code viommu qtest} with the same arguments gives the same ids, queue counts,
 * queue sizes, notify offsets, MAC, link status and disk capacity. The feature words differ
 * (a README deviation: the model offers VERSION_1, ACCESS_PLATFORM and virtio-net's MAC); each
 * of the model's is a subset of QEMU's.
 */
class VmmVirtioCaptureTest {
    private static final Path DIR = Path.of("src/test/resources/vmm/virtio-regs");

    @Test
    void virtioNetAndBlkRegistersAreQemusExceptTheFeaturesTheModelDoesNotOffer() throws Exception {
        List<String> args = List.of(Files.readString(DIR.resolve("vmm.args")).trim().split(" "));
        String script = Files.readString(DIR.resolve("virtio-regs.qtest"));
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream e = new java.io.ByteArrayOutputStream();
        int rc = QtestServer.serve(args, new java.io.BufferedReader(new java.io.StringReader(script)),
                new java.io.PrintStream(o, true, java.nio.charset.StandardCharsets.UTF_8),
                new java.io.PrintStream(e, true, java.nio.charset.StandardCharsets.UTF_8));
        assertThat(rc).as(e.toString()).isZero();
        List<String> cmds = script.lines().filter(l -> !l.startsWith("#")).toList();
        List<String> real = Files.readAllLines(DIR.resolve("vmm.out"));
        List<String> ours = o.toString(java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        assertThat(ours).hasSameSizeAs(real);
        int features = 0;
        for (int i = 0; i < cmds.size(); i++) {
            boolean featureWord = cmds.get(i).matches("readl 0xe0[01]00004");
            if (featureWord) {
                long q = Long.decode(real.get(i).substring(3));
                long m = Long.decode(ours.get(i).substring(3));
                assertThat(m & ~q).as(cmds.get(i) + ": the model offers only what QEMU offers").isZero();
                features++;
            } else {
                assertThat(ours.get(i)).as(cmds.get(i)).isEqualTo(real.get(i));
            }
        }
        assertThat(features).isEqualTo(4);
        assertThat(real).contains("OK 0x0000000000000003", "OK 0x0000000000000040", "OK 0x0000000000200000");
    }
}
