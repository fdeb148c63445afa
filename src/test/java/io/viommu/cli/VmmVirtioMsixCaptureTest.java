package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-rng-pci's MSI-X held against QEMU 7.2 (src/test/resources/vmm/virtio-msix, captured
 * with the lab's {@code capture}; its README has the command): the same qtest bytes through
 * {@code viommu qtest} with the same arguments give QEMU's replies byte for byte: the whole
 * configuration space (MSI-X capability at 0x98 with 2 vectors, table and PBA in BAR1), the BAR
 * sizes, the table's reset values, msix_config and queue_msix_vector reading back 0xffff for a
 * vector past the table, and after each notification of the queue the used ring, the message at
 * the RAM address programmed into the table (or the PBA bit while masked, or nothing with
 * VRING_AVAIL_F_NO_INTERRUPT, NO_VECTOR or MSI-X off) and the ISR.
 */
class VmmVirtioMsixCaptureTest {
    private static final Path DIR = Path.of("src/test/resources/vmm/virtio-msix");

    @Test
    void virtioRngMsixIsQemusByteForByte(@TempDir Path tmp) throws Exception {
        Path hlt = tmp.resolve("hlt.bin");
        byte[] image = new byte[64 << 10];
        Arrays.fill(image, (byte) 0xf4); // what host-setup.sh wrote to /tmp/hlt.bin
        Files.write(hlt, image);
        List<String> args = Arrays.stream(Files.readString(DIR.resolve("vmm.args")).trim().split(" "))
                .map(a -> a.equals("/tmp/hlt.bin") ? hlt.toString() : a).toList();
        String sent = Files.readString(DIR.resolve("vmm.qtest"));
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = QtestServer.serve(args, new BufferedReader(new StringReader(sent)),
                new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        assertThat(rc).as(e.toString(StandardCharsets.UTF_8)).isZero();
        List<String> cmds = sent.lines().toList();
        List<String> real = Files.readAllLines(DIR.resolve("vmm.out"));
        List<String> ours = o.toString(StandardCharsets.UTF_8).lines().toList();
        for (int i = 0; i < Math.min(real.size(), ours.size()); i++) {
            assertThat(ours.get(i)).as("line %d: %s", i + 1, cmds.get(i)).isEqualTo(real.get(i));
        }
        assertThat(ours).hasSameSizeAs(real);
        assertThat(o.toString(StandardCharsets.UTF_8)).isEqualTo(Files.readString(DIR.resolve("vmm.out")));
        assertThat(real).contains("OK 0x0000000000001234");
    }
}
