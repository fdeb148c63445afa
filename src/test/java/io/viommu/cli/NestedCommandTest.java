package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code viommu run --nest} and {@code viommu qtest --via} from the command line. */
class NestedCommandTest {
    static final String HOST = "-M q35 -m 2G -device intel-iommu,intremap=off,caching-mode=on -device edu,addr=04.0";
    static final String L2 = "-M q35 -m 128M -nodefaults -append intel_iommu=on -device intel-iommu,caching-mode=on"
            + " -device vfio-pci,host=0000:00:04.0";
    static final List<String> L1 = List.of("-M", "q35,kernel-irqchip=split", "-m", "256M", "-nodefaults", "-append",
            "intel_iommu=on", "-device", "intel-iommu,intremap=on,caching-mode=on",
            "-device", "vfio-pci,host=0000:00:04.0,addr=04.0");

    static Path setup(Path dir, boolean bind) throws Exception {
        Path f = dir.resolve("host-setup.sh");
        Files.writeString(f, "modprobe vfio-pci\necho 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts\n"
                + (bind ? "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override\n"
                + "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe\n" : ""));
        return f;
    }

    static CliRun run(Path dir, boolean json, boolean managed, String... nest) throws Exception {
        List<String> a = new ArrayList<>(List.of("run", "--host", HOST, "--host-setup", setup(dir, !managed).toString()));
        if (managed) {
            a.add("--managed");
        }
        if (json) {
            a.add("--json");
        }
        for (String n : nest) {
            a.add("--nest");
            a.add(n);
        }
        a.addAll(L1);
        return CliRun.of(a);
    }

    @Test
    void theTextReportShowsEveryLevelTheDmaPathAndWhereTheStrayDmaStopped(@TempDir Path dir) throws Exception {
        CliRun r = run(dir, false, true, L2);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("\nL0  host  " + HOST + "\n", "\nL1  VM  " + String.join(" ", L1) + "\n",
                "\nL2  VM  " + L2 + "\n", "  run by a VMM process of L1\n",
                "  device 0000:00:01.0  1234:11e8  IOMMU group 1 [0000:00:01.0]  driver none\n",
                "  device 0000:00:04.0  1234:11e8  IOMMU group 1 [0000:00:04.0]  driver vfio-pci\n",
                "  vIOMMU: intel-iommu caching-mode=on intremap=on",
                "  its VMM (in L1's VFIO) listens on the vIOMMU's notifier (guest mappings mirrored)\n",
                "  the chain breaks at: L2\n", "  stopped at L0: the host's VT-d unit",
                "bytes identical", "\nRESULT  ok\n");
        assertThat(r.out()).containsPattern("  L0  0000:00:04.0  0x[0-9a-f]+ -> 0x[0-9a-f]+  \\(must be 0x[0-9a-f]+\\)  ok\n");
        assertThat(r.out()).contains("  host log: DMAR: [DMA Write NO_PASID] Request device [00:04.0] fault addr 0xff00000"
                + " [fault reason 0x05] PTE Write access is not set\n");
    }

    @Test
    void jsonHasOneEntryPerLevelAndThreeLevelsWork(@TempDir Path dir) throws Exception {
        String l3 = "-M q35 -m 32M -nodefaults -device vfio-pci,host=0000:00:01.0";
        CliRun r = run(dir, true, true, L2, l3);
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("ok").asBoolean()).isTrue();
        assertThat(j.get("levels")).hasSize(4);
        assertThat(j.get("levels").get(3).get("viommu").isNull()).isTrue(); // L3 without a vIOMMU: all its RAM mapped
        assertThat(j.get("levels").get(3).get("vmm").get("listensOn").asText()).startsWith("system memory");
        assertThat(j.get("dma").get("hops")).hasSize(4);
        assertThat(j.get("stray").get("firstUnmapped").asText()).isEqualTo("L3");
        assertThat(j.get("stray").get("landed").asBoolean()).isFalse();
    }

    @Test
    void withoutManagedTheUnboundDeviceInL1IsRefusedWithQemusText(@TempDir Path dir) throws Exception {
        CliRun r = run(dir, false, false, L2);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=0000:00:04.0: vfio 0000:00:04.0:"
                + " failed to open /dev/vfio/1: No such file or directory\n");
        assertThat(r.out()).contains("\nRESULT  FAILED at L2: qemu-system-x86_64:");
    }

    /**
     * {@code --workload static} with {@code --nest}: the DPDK-style ring runs in the innermost
     * guest through its own VFIO; per packet no level traps or calls VFIO more than its one
     * set-up mapping spread over the packets, and the text says so level by level.
     */
    @Test
    void theStaticWorkloadRunsInTheInnermostGuest(@TempDir Path dir) throws Exception {
        List<String> a = new ArrayList<>(List.of("run", "--host", HOST, "--host-setup", setup(dir, false).toString(),
                "--managed", "--workload", "static", "--packets", "128", "--ring", "16", "--nest", L2));
        a.addAll(L1);
        CliRun r = CliRun.of(a);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("WORKLOAD  static in L2's guest: 128 packets into a ring of 16, delivered intact 128,"
                + " DMA faults 0\n", "host IOMMU (IOTLB) invalidations per packet: ",
                "(the host unit has caching mode: Linux invalidates on every map and unmap)", "\nRESULT  ok\n");
        assertThat(r.out()).containsPattern("    L1  traps 0\\.0\\d, VFIO MAP/UNMAP calls 0\\.0\\d \\(0\\.0\\d \\+ 0\\.0\\d\\)\n")
                .containsPattern("    L2  traps 0\\.0\\d, VFIO MAP/UNMAP calls 0\\.0\\d \\(0\\.0\\d \\+ 0\\.0\\d\\)\n");
    }

    /** {@code --nest-setup FILE}: L1's root binds the device itself (no --managed), its lines shown under L1. */
    @Test
    void l1sRootBindsTheDeviceFromANestSetupFile(@TempDir Path dir) throws Exception {
        Path l1Setup = dir.resolve("l1-setup.sh");
        Files.writeString(l1Setup, "modprobe vfio-pci\necho vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override\n"
                + "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe\n");
        List<String> a = new ArrayList<>(List.of("run", "--host", HOST, "--host-setup", setup(dir, true).toString(),
                "--nest-setup", l1Setup.toString(), "--nest", L2));
        a.addAll(L1);
        CliRun r = CliRun.of(a);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("  L1's root, before the next level's VMM (--nest-setup):\n    # modprobe vfio-pci\n",
                "    # echo 0000:00:04.0 > /sys/bus/pci/drivers_probe\n", "\nRESULT  ok\n")
                .doesNotContain("--managed: bound");
        List<String> three = new ArrayList<>(List.of("run", "--host", HOST, "--nest-setup", l1Setup.toString(),
                "--nest-setup", l1Setup.toString(), "--nest-setup", l1Setup.toString(), "--nest", L2));
        three.addAll(L1);
        CliRun tooMany = CliRun.of(three);
        assertThat(tooMany.code()).isEqualTo(2);
        assertThat(tooMany.err()).startsWith("viommu run: 3 --nest-setup for 1 --nest:");
    }

    /**
     * An L1 without a vIOMMU whose root turns on VFIO's no-IOMMU mode (a --nest-setup for the
     * innermost level: it runs before the workload): the static ring runs in L1's user space, the
     * text shows the fake group's node, the taint and the unsafe DMA into L1's kernel; with a
     * --nest over it, L1's QEMU fails as QEMU 7.2 does, opening /dev/vfio/0.
     */
    @Test
    void anL1InNoIommuModeRunsTheRingInItsUserSpaceButCannotHandTheDeviceOn(@TempDir Path dir) throws Exception {
        Path noiommu = dir.resolve("l1-noiommu.sh");
        Files.writeString(noiommu, "modprobe vfio enable_unsafe_noiommu_mode=1\nmodprobe vfio-pci\n"
                + "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override\n"
                + "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe\n");
        List<String> plain = List.of("-M", "q35", "-m", "256M", "-nodefaults", "-device", "vfio-pci,host=0000:00:04.0,addr=04.0");
        List<String> a = new ArrayList<>(List.of("run", "--host", HOST, "--host-setup", setup(dir, true).toString(),
                "--nest-setup", noiommu.toString(), "--workload", "static", "--packets", "64", "--ring", "16"));
        a.addAll(plain);
        CliRun r = CliRun.of(a);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("  vIOMMU: none\n",
                "  device 0000:00:04.0  1234:11e8  IOMMU group 0 [0000:00:04.0]  driver vfio-pci  (/dev/vfio/noiommu-0:"
                        + " VFIO's no-IOMMU mode)\n",
                "  UNSAFE: VFIO no-IOMMU mode (/dev/vfio/noiommu-0): L1's kernel is tainted (/proc/sys/kernel/tainted 64)",
                "    vfio-pci 0000:00:04.0: Adding kernel taint for vfio-noiommu group on device\n",
                "  L1's root, before its DMA sample and workload (--nest-setup):\n"
                        + "    # modprobe vfio enable_unsafe_noiommu_mode=1\n",
                "\nUNSAFE DMA  L1's user space has the device through VFIO's no-IOMMU mode (/dev/vfio/noiommu-0,",
                "landed (nothing in L1 checks the address)",
                "WORKLOAD  static in L1's guest: 64 packets into a ring of 16, delivered intact 64, DMA faults 0\n",
                "    L1  traps 0.00, VFIO MAP/UNMAP calls 0.00 (0.00 + 0.00)\n", "\nRESULT  ok\n");

        List<String> nested = new ArrayList<>(List.of("run", "--host", HOST, "--host-setup", setup(dir, true).toString(),
                "--nest-setup", noiommu.toString(), "--nest", L2));
        nested.addAll(plain);
        CliRun l2 = CliRun.of(nested);
        assertThat(l2.code()).isEqualTo(1);
        assertThat(l2.err()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=0000:00:04.0: vfio 0000:00:04.0:"
                + " failed to open /dev/vfio/0: No such file or directory\n");
        assertThat(l2.out()).contains("  L1's root, before the next level's VMM (--nest-setup):\n",
                "  UNSAFE: VFIO no-IOMMU mode (/dev/vfio/noiommu-0)", "\nRESULT  FAILED at L2: qemu-system-x86_64:");
    }

    @Test
    void usageErrors(@TempDir Path dir) throws Exception {
        CliRun blank = run(dir, false, true, " ");
        assertThat(blank.code()).isEqualTo(2);
        assertThat(blank.err()).startsWith("viommu run: --nest needs the nested VM's QEMU arguments in one word");
        CliRun unbalanced = run(dir, false, true, "-M q35 -append 'intel_iommu=on");
        assertThat(unbalanced.code()).isEqualTo(2);
        assertThat(unbalanced.err()).contains("does not split into arguments");
        CliRun workload = CliRun.of("run", "--host", HOST, "--workload", "dpdk", "--nest", L2, "-M", "q35");
        assertThat(workload.code()).isEqualTo(2);
        CliRun via = CliRun.of("qtest", "--via", "-M q35", "-M", "q35");
        assertThat(via.code()).isEqualTo(2);
        assertThat(via.err()).isEqualTo("viommu qtest: --via needs --host (the physical host under the first VM level)\n");
    }

    /** An intermediate VMM's refusal is its QEMU text on stderr and status 1; nothing above it runs, nothing is served. */
    @Test
    void qtestViaWhoseVmmRefusesStopsThere(@TempDir Path dir) throws Exception {
        CliRun r = CliRun.of("qtest", "--host", HOST, "--host-setup", setup(dir, true).toString(), "--via",
                "-M q35 -m 256M -device intel-iommu,caching-mode=on -device vfio-pci,host=0000:00:09.0",
                "--via-err", dir.resolve("via.err").toString(), "-M", "q35", "-m", "128M");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=0000:00:09.0: vfio"
                + " /sys/bus/pci/devices/0000:00:09.0: no such host device: No such file or directory\n");
        CliRun kernel = CliRun.of("qtest", "--host", HOST, "--host-setup", setup(dir, true).toString(), "--via",
                "-M q35 -m 256M -kernel /nonexistent/bzImage -initrd /nonexistent/initrd.img"
                        + " -append 'intel_iommu=on iommu=pt' -device intel-iommu,caching-mode=on"
                        + " -device vfio-pci,host=0000:00:04.0,addr=04.0",
                "--via-dmesg", dir.resolve("via.dmesg").toString(), "-M", "q35", "-m", "128M");
        assertThat(kernel.code()).as(kernel.err()).isZero();
        assertThat(kernel.err()).contains("viommu: note: --via L1: -kernel /nonexistent/bzImage: not read",
                "viommu: note: --via L1: -initrd /nonexistent/initrd.img: not read");
        assertThat(Files.readAllLines(dir.resolve("via.dmesg"))).anyMatch(l -> l.endsWith(
                "Kernel command line: intel_iommu=on iommu=pt"));
    }
}
