package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code viommu host plan|apply|undo|tree} end to end on a model host, as a person runs them. */
class HostPlanCommandTest {
    static final String HOST = "-machine q35,kernel-irqchip=split -m 1G -device intel-iommu,intremap=on,caching-mode=on"
            + " -device pcie-root-port,id=rp1,chassis=1,slot=1 -device igb-82576,bus=rp1"
            + " -device edu,addr=05.0,multifunction=on -device e1000,addr=05.1 -device e1000,addr=07.0";

    static Path setup(Path dir, String... lines) throws IOException {
        Path f = dir.resolve("setup-" + lines.length + ".sh");
        Files.write(f, List.of(lines));
        return f;
    }

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void planJsonIsAPlanApplyReadsAndDryRunWritesNothing(@TempDir Path dir) throws IOException {
        Path s = setup(dir, "modprobe e1000");
        CliRun plan = run("host", "plan", "00:05.0", "--json", "--model", HOST, "--host-setup", s.toString());
        assertThat(plan.code()).as(plan.err()).isZero();
        assertThat(plan.out()).contains("\"schema\" : \"viommu.host-plan/1\"").contains("\"pci\" : \"sha256:");
        Path json = dir.resolve("PLAN.json");
        Files.writeString(json, plan.out());
        CliRun dry = run("host", "apply", json.toString(), "--model", HOST, "--host-setup", s.toString());
        assertThat(dry.code()).as(dry.err()).isZero();
        assertThat(dry.out()).contains("the writes `--yes` would make, in order:")
                .contains("  2  echo 0000:00:05.1 > /sys/bus/pci/devices/0000:00:05.1/driver/unbind")
                .contains("  6  echo 0000:00:05.0 > /sys/bus/pci/drivers_probe");
        // the same plan on the host without e1000 loaded: changed since the plan, refused, exit 1
        CliRun changed = run("host", "apply", json.toString(), "--model", HOST, "--yes", "--journal", dir.resolve("j").toString());
        assertThat(changed.code()).isEqualTo(1);
        assertThat(changed.err()).isEqualTo("viommu host apply: refused, nothing written: the host changed since the plan"
                + " was made:\n  - 0000:00:05.1 driver: \"e1000\" when planned, \"none\" now\n");
        assertThat(dir.resolve("j")).doesNotExist();
        // on another host
        CliRun other = run("host", "apply", json.toString(), "--model", HOST + " -device edu,addr=06.0");
        assertThat(other.code()).isEqualTo(1);
        assertThat(other.err()).contains("the plan was made on another host: PCI inventory");
    }

    @Test
    void applyWithAFaultIsUndoneAndApplyThenUndoWorksWhenTheHostIsAsApplyLeftIt(@TempDir Path dir) throws IOException {
        Path s = setup(dir, "modprobe e1000");
        Path j1 = dir.resolve("fault.jsonl");
        CliRun fault = run("host", "apply", "00:05.0", "--model", HOST, "--host-setup", s.toString(), "--yes",
                "--journal", j1.toString(), "--inject-fault", "4");
        assertThat(fault.code()).isEqualTo(1);
        assertThat(fault.out()).contains("step 4 failed: echo 0000:00:05.1 > /sys/bus/pci/drivers_probe: injected fault"
                + " at step 4 (--inject-fault)").contains("undoing steps 3 to 1 in reverse")
                .contains("failed and undone, the host is as it was");
        Path j2 = dir.resolve("ok.jsonl");
        CliRun ok = run("host", "apply", "00:05.0", "--model", HOST, "--host-setup", s.toString(), "--yes",
                "--journal", j2.toString());
        assertThat(ok.code()).as(ok.out() + ok.err()).isZero();
        assertThat(ok.out()).contains("applied: 6 steps, 6 writes");
        // a model host lives as long as the command: a fresh one is not as apply left it
        CliRun fresh = run("host", "undo", j2.toString(), "--yes", "--model", HOST, "--host-setup", s.toString());
        assertThat(fresh.code()).isEqualTo(1);
        assertThat(fresh.err()).contains("the host changed since the journal was written")
                .contains("0000:00:05.0 driver: \"vfio-pci\" after apply, \"none\" now");
        // a host set up with the plan's own commands is
        List<String> lines = new ArrayList<>(List.of("modprobe e1000"));
        CliRun plan = run("host", "plan", "00:05.0", "--model", HOST, "--host-setup", s.toString());
        plan.out().lines().filter(l -> l.matches("\\s+\\d+  .*")).forEach(l -> lines.add(l.trim().replaceFirst("^\\d+\\s+", "")));
        Path applied = setup(dir, lines.toArray(String[]::new));
        CliRun undo = run("host", "undo", j2.toString(), "--yes", "--model", HOST, "--host-setup", applied.toString());
        assertThat(undo.code()).as(undo.out() + undo.err()).isZero();
        assertThat(undo.out()).contains("undo 2: echo 0000:00:05.1 > /sys/bus/pci/drivers/e1000/bind")
                .contains("undone: 6 steps");
    }

    @Test
    void treeDrawsTheHierarchyAsVirshDoesWithGroupsDriversAndVerdicts() {
        CliRun r = run("host", "tree", "--model", HOST);
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("computer\n  |\n  +- pci_0000_00_00_0  8086:29c0 Intel q35 host bridge")
                .contains("  +- pci_0000_00_03_0  1b36:000c QEMU PCIe root port, PCI bridge | group 3 | driver pcieport"
                        + " | ACS on | bridge (stays with the host)\n  |   |\n  |   +- pci_0000_01_00_0  8086:10c9 Intel 82576"
                        + " (igb PF), Ethernet controller | group 7 | no driver | SR-IOV 0/8 VFs | assignable\n  |     \n")
                .contains("pci_0000_00_05_1  8086:100e Intel 82540EM (e1000), Ethernet controller | group 4 | no driver"
                        + " | assignable with 0000:00:05.0")
                .contains("blocked: the group holds 0000:00:1f.0 (ISA bridge)");
    }

    @Test
    void aSavedTreeIsPlannedAndDryRunButNeverWritten() {
        String tree = "src/test/host-trees/intel-vtd";
        CliRun plan = run("host", "plan", "02:00.0", "--sysfs", tree);
        assertThat(plan.code()).as(plan.out()).isZero();
        assertThat(plan.out()).contains("0000:02:00.0 (02:00.0)", "driver ixgbe", "Verdict: ready");
        CliRun dry = run("host", "apply", "02:00.0", "--sysfs", tree);
        assertThat(dry.code()).isZero();
        assertThat(dry.out()).contains("the writes `--yes` would make, in order:",
                "echo 0000:02:00.0 > /sys/bus/pci/devices/0000:02:00.0/driver/unbind",
                "note: --yes would be refused here: saved tree ");
        CliRun yes = run("host", "apply", "02:00.0", "--sysfs", tree, "--yes", "--journal", "/nonexistent/j.jsonl");
        assertThat(yes.code()).isEqualTo(1);
        assertThat(yes.err()).startsWith("viommu host apply: refused, nothing written: saved tree ")
                .contains("is a saved record of a host, read-only");
    }

    @Test
    void usageErrorsAreClear(@TempDir Path dir) {
        assertThat(run("host", "plan", "00:05.0", "--for", "xen", "--model", HOST).err())
                .isEqualTo("viommu host plan: --for xen: expected qemu, libvirt or dpdk\n");
        CliRun both = run("host", "plan", "00:05.0", "--sysfs", dir.toString(), "--model", HOST);
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--sysfs and --model name two different hosts");
        CliRun bad = run("host", "plan", "00:05.0", "--model", "-device nosuch");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("--model: qemu-system-x86_64: -device nosuch");
        CliRun unknown = run("host", "apply", "0000:00:09.0", "--model", HOST, "--yes");
        assertThat(unknown.code()).isEqualTo(1);
        assertThat(unknown.err()).contains("refused, nothing written: the plan has blockers:\n  - no PCI device or network"
                + " interface 0000:00:09.0 on this host");
        CliRun live = run("host", "apply", "00:05.0", "--inject-fault", "2", "--sysfs", "src/test/host-trees/intel-vtd");
        assertThat(live.code()).isEqualTo(2);
        assertThat(live.err()).contains("--inject-fault is for model hosts (--model) only");
        assertThat(run("host", "undo", dir.resolve("none.jsonl").toString()).err()).contains("no such journal file");
    }
}
