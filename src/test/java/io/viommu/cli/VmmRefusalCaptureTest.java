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

    /**
     * refusals/memlock: the VMM run the way a user runs it, not root (no CAP_IPC_LOCK) with
     * {@code ulimit -l 64} (its host-setup.sh: the fixture's lines, then the group node opened to
     * the user and qemu-system-x86_64 replaced by a wrapper doing {@code ulimit -l 64; su user -c ...};
     * busybox's setpriv has no --reuid). The container's RAM mapping fails in
     * vfio_pin_pages_remote (Linux 6.1 drivers/vfio/vfio_iommu_type1.c: {@code pr_warn("%s:
     * RLIMIT_MEMLOCK (%ld) exceeded\n", __func__, limit << PAGE_SHIFT)}, -ENOMEM), QEMU 7.2 says
     * VFIO_MAP_DMA failed (vfio_dma_map) and refuses the device (vfio_connect_container, listener
     * initialisation), both under the -device option's location. The model: {@code --vmm-memlock 64}.
     */
    @org.junit.jupiter.api.Test
    void anUnprivilegedVmmOverItsMemlockLimitIsRefusedAsLinuxAndQemuRefuseIt() throws Exception {
        Path d = DIR.resolve("memlock");
        Kernel k = VmmFixtureTest.fixtureHost(); // the fixture's setup lines, which the capture's setup starts with
        assertThat(Files.readString(d.resolve("host-setup.sh"))).startsWith(VmmFixtureTest.read("host-setup.sh"));
        List<String> argv = new ArrayList<>(List.of(Files.readString(d.resolve("vmm.cmd")).trim().split(" ")));
        argv.remove(0);
        int from = k.log().messages().size();
        java.io.ByteArrayOutputStream e = new java.io.ByteArrayOutputStream();
        java.io.PrintStream err = new java.io.PrintStream(e, true, StandardCharsets.UTF_8);
        int rc = QtestHost.runVm(k, argv, new java.io.BufferedReader(new java.io.StringReader("")),
                new java.io.PrintStream(new java.io.ByteArrayOutputStream()), err, false,
                io.viommu.vmm.Vmm.Privileges.user(64 * 1024));
        // %p of the container and of the RAM mapping are addresses of the process: not compared
        String pointers = "vfio_dma_map\\(0x[0-9a-f]+, (0x[0-9a-f]+), (0x[0-9a-f]+), 0x[0-9a-f]+\\)";
        assertThat(e.toString(StandardCharsets.UTF_8).replaceAll(pointers, "vfio_dma_map(P, $1, $2, V)"))
                .isEqualTo(Files.readString(d.resolve("vmm.err")).replaceAll(pointers, "vfio_dma_map(P, $1, $2, V)"));
        assertThat(rc).isEqualTo(Integer.parseInt(Files.readString(d.resolve("vmm.rc")).trim()));
        List<String> real = Files.readAllLines(d.resolve("host.dmesg")).stream()
                .map(l -> l.replaceFirst("^\\[[ \\d.]+\\] ", "")).toList();
        assertThat(k.log().messages().subList(from, k.log().messages().size()).stream()
                .map(io.viommu.linux.driver.KernelMessage::text).toList()).isEqualTo(real);
        // as root (CAP_IPC_LOCK) the same VM starts: the limit does not bind
        VmmFixtureTest.Run ok = VmmFixtureTest.run(k, VmmFixtureTest.vmArgs("a-config"), VmmFixtureTest.read("a-config.qtest"));
        assertThat(ok.out()).isEqualTo(VmmFixtureTest.read("a-config.out"));
    }
}
