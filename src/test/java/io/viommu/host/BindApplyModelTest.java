package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.host.BindPlan.Step;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code host apply} as a transaction on model hosts: for several plans, a failure injected at
 * every step in turn must leave the model host's whole sysfs byte-identical to before (every file
 * read, every link, every directory), through inverse writes the seam counts, never a snapshot
 * restore; an apply that succeeds and the undo of its journal must do the same.
 */
class BindApplyModelTest {
    /** A multifunction group (edu + e1000 at 05.0/05.1), a routed NIC alone (07.0), an SR-IOV PF (igb 82576 behind a root port). */
    static final String HOST = "-machine q35,kernel-irqchip=split -m 1G -device intel-iommu,intremap=on,caching-mode=on"
            + " -device pcie-root-port,id=rp1,chassis=1,slot=1 -device igb-82576,bus=rp1"
            + " -device edu,addr=05.0,multifunction=on -device e1000,addr=05.1 -device e1000,addr=07.0";
    static final String[] SETUP = {"modprobe e1000", "modprobe igb", "ip link set dev eth1 up",
        "ip addr add 10.0.0.2/24 dev eth1", "ip addr add 10.9.0.1/16 dev eth1", "ip link set dev eth0 up"};

    record Case(String name, List<String> devices, boolean force, Integer vfs) {
        @Override
        public String toString() {
            return name;
        }

        BindPlanner.Request request() {
            return new BindPlanner.Request(devices, "qemu", force, vfs);
        }
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("multifunction group, e1000 up", List.of("0000:00:05.0"), false, null),
                new Case("NIC with routes, --force", List.of("eth1"), true, null),
                new Case("SR-IOV PF, 3 VFs", List.of("01:00.0"), false, 3),
                new Case("two devices by vendor:device", List.of("8086:100e"), true, null));
    }

    static RecordingHost host() {
        return RecordingHost.boot(HOST, SETUP);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aFailureAtEveryStepLeavesTheSysfsTreeByteIdentical(Case c, @TempDir Path dir) {
        BindPlan plan = BindPlanner.plan(host(), c.request());
        assertThat(plan.ready()).as(BindPlanText.format(plan)).isTrue();
        assertThat(plan.steps()).hasSizeGreaterThan(3);
        for (Step failing : plan.steps()) {
            RecordingHost h = host();
            Map<String, String> before = h.host.sysfsContents();
            List<String> routesBefore = h.host.kernel().network().routes().stream().map(Object::toString).toList();
            HostJournal j = journal(dir, "fault" + failing.n());
            assertThat(BindApply.refusal(plan, h)).isNull();
            BindApply.Result r = BindApply.apply(plan, h, j, failing.n(), l -> { });
            assertThat(r.ok()).isFalse();
            assertThat(r.failedStep()).isEqualTo(failing.n());
            assertThat(r.restored()).as(r.error()).isTrue();
            assertThat(r.error()).contains("injected fault at step " + failing.n());
            // the steps before the failing one were done, in order, and nothing for it
            List<String> forward = h.effects.subList(0, failing.n() - 1);
            for (int i = 0; i < forward.size(); i++) {
                assertThat(forward.get(i)).isEqualTo(effect(plan.steps().get(i)));
            }
            // then only inverses: as many effects at least as steps done, each on a path the done steps touched
            List<String> inverses = h.effects.subList(failing.n() - 1, h.effects.size());
            assertThat(inverses.size()).isGreaterThanOrEqualTo(failing.n() - 1);
            assertThat(h.writes()).isEqualTo(h.effects.size());
            assertSameTree(before, h.host.sysfsContents(), "after a fault at step " + failing.n());
            assertThat(h.host.kernel().network().routes().stream().map(Object::toString).toList()).isEqualTo(routesBefore);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void applyThenUndoOfItsJournalRestoresTheTree(Case c, @TempDir Path dir) throws IOException {
        RecordingHost h = host();
        Map<String, String> before = h.host.sysfsContents();
        BindPlan plan = BindPlanner.plan(h, c.request());
        HostJournal j = journal(dir, "ok");
        BindApply.Result r = BindApply.apply(plan, h, j, 0, l -> { });
        assertThat(r.ok()).as(r.error()).isTrue();
        assertThat(h.writes()).isEqualTo(plan.steps().size());
        for (BindPlan.Target t : plan.targets()) {
            for (BindPlan.Member m : t.members()) {
                if (!m.action().startsWith("stays")) {
                    assertThat(h.host.kernel().sysfs().readlink("/sys/bus/pci/devices/" + m.address() + "/driver"))
                            .as(m.address()).hasValueSatisfying(l -> assertThat(l).endsWith("/vfio-pci"));
                }
            }
        }
        assertThat(h.host.sysfsContents()).isNotEqualTo(before);
        // every record was written before its step was done: a "step" line precedes each "done" line
        List<String> kinds = Files.readAllLines(j.file()).stream().map(l -> l.replaceAll(".*\"kind\":\"(\\w+)\".*", "$1")).toList();
        assertThat(kinds.get(0)).isEqualTo("begin");
        assertThat(kinds.get(kinds.size() - 1)).isEqualTo("end");
        assertThat(kinds.stream().filter(k -> k.equals("step")).count()).isEqualTo(plan.steps().size());
        long writesBefore = h.writes();
        BindApply.UndoCheck check = BindApply.check(j.file(), h);
        assertThat(check.refusal()).isNull();
        assertThat(h.writes()).isEqualTo(writesBefore); // checking writes nothing
        List<String> failures = BindApply.undo(check, h, HostJournal.open(j.file()), l -> { });
        assertThat(failures).isEmpty();
        assertThat(h.writes()).isGreaterThanOrEqualTo(2L * plan.steps().size());
        assertSameTree(before, h.host.sysfsContents(), "after undo");
        // a second undo has nothing left to do and writes nothing
        long w = h.writes();
        assertThat(BindApply.check(j.file(), h).refusal()).contains("nothing to undo");
        assertThat(h.writes()).isEqualTo(w);
    }

    /** A host on which the multifunction group 00:05.0/00:05.1 was applied, its plan and journal. */
    record Applied(RecordingHost host, BindPlan plan, HostJournal journal) {
    }

    static Applied appliedGroup(Path dir) {
        RecordingHost h = host();
        BindPlan plan = BindPlanner.plan(h, new BindPlanner.Request(List.of("0000:00:05.0"), "qemu", false, null));
        HostJournal j = journal(dir, "applied");
        assertThat(BindApply.apply(plan, h, j, 0, l -> { }).ok()).isTrue();
        return new Applied(h, plan, j);
    }

    @Test
    void undoRefusesWithTheDifferenceWhenTheHostChangedSince(@TempDir Path dir) {
        Applied a = appliedGroup(dir);
        RecordingHost h = a.host();
        HostJournal j = a.journal();
        // someone gives 05.1 back to e1000 by hand
        h.host.write(Path.of("/sys/bus/pci/drivers/vfio-pci/unbind"), "0000:00:05.1\n");
        long w = h.writes();
        BindApply.UndoCheck c = BindApply.check(j.file(), h);
        assertThat(c.refusal()).contains("the host changed since the journal was written")
                .contains("0000:00:05.1 driver: \"vfio-pci\" after apply, \"none\" now");
        assertThat(h.writes()).isEqualTo(w);
    }

    @Test
    void aJournalOrPlanFromAnotherHostIsRefusedAndNothingIsWritten(@TempDir Path dir) {
        Applied a = appliedGroup(dir);
        BindPlan plan = a.plan();
        HostJournal j = a.journal();
        RecordingHost other = RecordingHost.boot(HOST + " -device edu,addr=06.0", SETUP);
        assertThat(BindApply.refusal(plan, other)).startsWith("the plan was made on another host: PCI inventory");
        assertThat(BindApply.check(j.file(), other).refusal()).startsWith("the journal was written on another host");
        assertThat(other.writes()).isZero();
    }

    @Test
    void aHostChangedSinceThePlanIsRefusedNamingWhat() {
        BindPlan plan = BindPlanner.plan(host(), new BindPlanner.Request(List.of("0000:00:05.0"), "qemu", false, null));
        RecordingHost h = RecordingHost.boot(HOST, "modprobe igb"); // e1000 not loaded: 05.1 has no driver now
        assertThat(BindApply.refusal(plan, h)).startsWith("the host changed since the plan was made")
                .contains("0000:00:05.1 driver: \"e1000\" when planned, \"none\" now");
        assertThat(h.writes()).isZero();
    }

    @Test
    void aRealErrnoMidwayIsUndoneToo(@TempDir Path dir) {
        // VFs asked of a PF whose VF count is then changed behind the plan's back: sriov_numvfs gives EBUSY
        RecordingHost h = host();
        BindPlan plan = BindPlanner.plan(h, new BindPlanner.Request(List.of("01:00.0"), "qemu", false, 2));
        Map<String, String> before = h.host.sysfsContents();
        List<Step> steps = new ArrayList<>(plan.steps());
        Step numvfs = steps.stream().filter(s -> s.path() != null && s.path().endsWith("sriov_numvfs")).findFirst().orElseThrow();
        steps.set(numvfs.n() - 1, new Step(numvfs.n(), "write", numvfs.device(), numvfs.path(), "9", "0", "9",
                "echo 9 > " + numvfs.path()));
        BindPlan bad = new BindPlan(plan.schema(), plan.host(), plan.source(), plan.use(), false, 9, plan.requested(),
                plan.targets(), plan.hostFindings(), steps, plan.commands(), plan.persistence(), true);
        BindApply.Result r = BindApply.apply(bad, h, journal(dir, "e"), 0, l -> { });
        assertThat(r.ok()).isFalse();
        assertThat(r.error()).contains("sriov_numvfs").contains("Numerical result out of range");
        assertThat(r.restored()).isTrue();
        assertSameTree(before, h.host.sysfsContents(), "after an ERANGE from sriov_numvfs");
    }

    @Test
    void aStepThatSucceedsButReadsBackWrongIsUndone(@TempDir Path dir) {
        // drivers_probe succeeds even when no driver takes the device (Linux: bus_rescan_devices_helper
        // returns 0), so only the read-back sees it: here the override names a driver that is not loaded
        RecordingHost h = host();
        Map<String, String> before = h.host.sysfsContents();
        BindPlan plan = BindPlanner.plan(h, new BindPlanner.Request(List.of("00:07.0"), "qemu", true, null));
        List<Step> steps = new ArrayList<>(plan.steps());
        Step override = steps.stream().filter(s -> s.path() != null && s.path().endsWith("/driver_override")).findFirst()
                .orElseThrow();
        steps.set(override.n() - 1, new Step(override.n(), "write", override.device(), override.path(), "pci-stub",
                override.before(), "pci-stub", "echo pci-stub > " + override.path()));
        BindPlan edited = new BindPlan(plan.schema(), plan.host(), plan.source(), plan.use(), true, null, plan.requested(),
                plan.targets(), plan.hostFindings(), steps, plan.commands(), plan.persistence(), true);
        assertThat(BindApply.refusal(edited, h)).isNull();
        BindApply.Result r = BindApply.apply(edited, h, journal(dir, "readback"), 0, l -> { });
        assertThat(r.ok()).isFalse();
        Step probe = steps.get(steps.size() - 1);
        assertThat(r.failedStep()).isEqualTo(probe.n());
        assertThat(r.error()).isEqualTo("step " + probe.n() + " read back wrong: 0000:00:07.0 driver is \"none\","
                + " expected \"vfio-pci\"");
        assertThat(r.restored()).isTrue();
        assertSameTree(before, h.host.sysfsContents(), "after a wrong read-back");
    }

    @Test
    void theRollbackIsTheInverseWritesInReverseCountedByTheSeam(@TempDir Path dir) {
        RecordingHost h = host();
        BindPlan plan = BindPlanner.plan(h, new BindPlanner.Request(List.of("0000:00:05.0"), "qemu", false, null));
        BindApply.Result r = BindApply.apply(plan, h, journal(dir, "f"), plan.steps().size(), l -> { });
        assertThat(r.restored()).isTrue();
        String d = "/sys/bus/pci/devices/";
        assertThat(h.effects).containsExactly(
                "modprobe vfio-pci",
                "write " + d + "0000:00:05.1/driver/unbind 0000:00:05.1",
                "write " + d + "0000:00:05.1/driver_override vfio-pci",
                "write /sys/bus/pci/drivers_probe 0000:00:05.1",
                "write " + d + "0000:00:05.0/driver_override vfio-pci",
                // step 6 (drivers_probe of 05.0) fails; the five before it are undone in reverse
                "write " + d + "0000:00:05.0/driver_override",
                "write /sys/bus/pci/drivers/vfio-pci/unbind 0000:00:05.1",
                "write " + d + "0000:00:05.1/driver_override",
                "write /sys/bus/pci/drivers/e1000/bind 0000:00:05.1",
                "link eth0 up",
                // the modules modprobe loaded, users first: rmmod of vfio while others use it fails (EBUSY,
                // nothing changed) and is tried again once they are gone
                "rmmod vfio", "rmmod vfio_iommu_type1", "rmmod vfio_pci", "rmmod vfio_pci_core", "rmmod vfio");
        assertThat(h.writes()).isEqualTo(h.effects.size());
    }

    @Test
    void aPlanEditedToReachAnotherDeviceIsRefusedBeforeAnyWrite() {
        RecordingHost h = host();
        BindPlan plan = BindPlanner.plan(h, new BindPlanner.Request(List.of("0000:00:05.0"), "qemu", false, null));
        List<Step> steps = new ArrayList<>(plan.steps());
        Step last = steps.get(steps.size() - 1);
        // 00:07.0 carries the routed eth1: not in this plan, so no step may name it
        steps.set(steps.size() - 1, new Step(last.n(), "probe", "0000:00:07.0", last.path(), "0000:00:07.0", "none",
                "vfio-pci", "echo 0000:00:07.0 > /sys/bus/pci/drivers_probe"));
        BindPlan edited = new BindPlan(plan.schema(), plan.host(), plan.source(), plan.use(), false, null, plan.requested(),
                plan.targets(), plan.hostFindings(), steps, plan.commands(), plan.persistence(), true);
        assertThat(BindApply.refusal(edited, h)).isEqualTo("step " + last.n()
                + " (echo 0000:00:07.0 > /sys/bus/pci/drivers_probe) reaches outside the plan's devices: refused");
        assertThat(h.writes()).isZero();
    }

    @Test
    void eachStepIsInTheJournalOnDiskBeforeItReachesTheHost(@TempDir Path dir) throws IOException {
        RecordingHost h = host();
        BindPlan plan = BindPlanner.plan(h, new BindPlanner.Request(List.of("01:00.0"), "qemu", false, 2));
        HostJournal j = journal(dir, "durable");
        List<String> lastLines = new ArrayList<>();
        h.beforeEffect = e -> {
            try {
                List<String> lines = Files.readAllLines(j.file());
                lastLines.add(lines.get(lines.size() - 1));
            } catch (IOException x) {
                throw new java.io.UncheckedIOException(x);
            }
        };
        assertThat(BindApply.apply(plan, h, j, 0, l -> { }).ok()).isTrue();
        assertThat(lastLines).hasSize(plan.steps().size());
        for (int i = 0; i < lastLines.size(); i++) {
            Step s = plan.steps().get(i);
            assertThat(lastLines.get(i)).contains("\"kind\":\"step\"").contains("\"n\":" + s.n() + ",")
                    .contains("\"command\":\"" + s.command() + "\"");
        }
        // the numvfs step's state before is what the host had then (0 VFs), the VF's override "(null)" once it exists
        assertThat(lastLines).anyMatch(l -> l.contains("sriov_numvfs\",\"value\":\"2\",\"before\":\"0\""));
        assertThat(lastLines).anyMatch(l -> l.contains("0000:01:10.2/driver_override\",\"value\":\"vfio-pci\",\"before\":\"(null)\""));
    }

    @Test
    void theTreeShowsTheVfsAnApplyCreatedOnVfioPciWithTheirOverride(@TempDir Path dir) {
        RecordingHost h = host();
        BindPlan plan = BindPlanner.plan(h, new BindPlanner.Request(List.of("01:00.0"), "qemu", false, 2));
        assertThat(BindApply.apply(plan, h, journal(dir, "vfs"), 0, l -> { }).ok()).isTrue();
        String tree = HostTree.format(h);
        assertThat(tree).contains("  |   +- pci_0000_01_00_0  8086:10c9 Intel 82576 (igb PF), Ethernet controller | group 7"
                + " | driver igb | SR-IOV 2/7 VFs");
        assertThat(tree).containsPattern("\\+- pci_0000_01_10_0  8086:10ca [^|]*\\| group \\d+ \\| driver vfio-pci"
                + " \\| driver_override vfio-pci \\| VF of 0000:01:00.0 \\| assignable");
        assertThat(tree).contains("+- pci_0000_01_10_2  ");
    }

    static String effect(Step s) {
        return s.op().equals("modprobe") ? "modprobe " + s.value() : "write " + s.path() + " " + s.value();
    }

    static HostJournal journal(Path dir, String name) {
        try {
            return HostJournal.create(dir.resolve(name + ".jsonl"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Equal trees, or a failure that lists the paths that differ. One file is let through, and
     * checked: a network interface's {@code ifindex}, which Linux gives each new net_device from a
     * counter (dev_new_index) and nothing in sysfs can set, so an interface whose driver was
     * unbound and bound again comes back with a higher one, on the real kernel as on the model.
     */
    static void assertSameTree(Map<String, String> before, Map<String, String> after, String when) {
        List<String> diff = new ArrayList<>();
        for (String p : before.keySet()) {
            if (!after.containsKey(p)) {
                diff.add("gone: " + p);
            } else if (p.matches("/sys/devices/.*/net/[^/]+/ifindex") && after.get(p).matches("\\d+\n")) {
                assertThat(Integer.parseInt(after.get(p).strip())).as(p).isGreaterThanOrEqualTo(Integer.parseInt(before.get(p).strip()));
            } else if (!after.get(p).equals(before.get(p))) {
                diff.add("changed: " + p + ": " + before.get(p).strip() + " -> " + after.get(p).strip());
            }
        }
        after.keySet().stream().filter(p -> !before.containsKey(p)).forEach(p -> diff.add("new: " + p));
        assertThat(diff).as("sysfs differences " + when).isEmpty();
    }
}
