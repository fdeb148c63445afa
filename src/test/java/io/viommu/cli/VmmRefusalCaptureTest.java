package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Refusals of {@code -device vfio-pci} captured with ../shared/lab/capture on the fixture host
 * (src/test/resources/vmm/refusals/NAME: {@code capture.sh} the command that made it, the VMM's
 * argv, stderr, exit status and the host kernel lines logged while it ran): the VMM model says
 * the same, exits the same, the host kernel model logs the same, and the host is left usable
 * (the a-config capture still passes on it afterwards).
 */
class VmmRefusalCaptureTest {
    static final Path DIR = VmmFixtureTest.DIR.resolve("refusals");

    @ParameterizedTest
    @ValueSource(strings = {"nonviable", "unbound", "twice", "no-unsafe-interrupts", "no-such-device", "no-caching-mode"})
    void theModelRefusesAsTheRealVmmDid(String name) throws Exception {
        Path d = DIR.resolve(name);
        Kernel k = QtestHost.bootHost(VmmFixtureTest.read("host.args").trim() + " -nodefaults");
        java.io.ByteArrayOutputStream setupErr = new java.io.ByteArrayOutputStream();
        assertThat(QtestHost.runSetup(k, d.resolve("host-setup.sh"),
                new java.io.PrintStream(setupErr, true, StandardCharsets.UTF_8))).isZero();
        List<String> argv = new ArrayList<>(List.of(Files.readString(d.resolve("vmm.cmd")).trim().split(" ")));
        argv.remove(0);
        VmmFixtureTest.Run r = VmmFixtureTest.run(k, argv, "");
        assertThat(r.err()).isEqualTo(Files.readString(d.resolve("vmm.err")));
        assertThat(r.rc()).isEqualTo(Integer.parseInt(Files.readString(d.resolve("vmm.rc")).trim()));
        List<String> real = Files.readAllLines(d.resolve("host.dmesg")).stream()
                .map(l -> l.replaceFirst("^\\[[ \\d.]+\\] ", "")).toList();
        assertThat(r.dmesg()).isEqualTo(real);
        if (!name.equals("no-unsafe-interrupts")) {
            // nothing stayed open: the real a-config still runs on this host (its link line aside)
            VmmFixtureTest.Run again = VmmFixtureTest.run(k, VmmFixtureTest.vmArgs("a-config"),
                    VmmFixtureTest.read("a-config.qtest"));
            assertThat(again.out()).isEqualTo(VmmFixtureTest.read("a-config.out"));
            assertThat(again.err()).isEqualTo(VmmFixtureTest.read("a-config.err"));
        }
    }
}
