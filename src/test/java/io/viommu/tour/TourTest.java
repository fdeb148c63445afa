package io.viommu.tour;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole tour on its model host: every step as the walkthroughs say, and what each printed
 * comes from the model (the lines below are the model's, checked here; change the model and they
 * change). The step list has 1-10.
 */
class TourTest {
    static Tour.Result tour;

    @BeforeAll
    static void runTheWholeTour() {
        tour = Tour.run(Tour.STEPS, TourInputs.DEFAULT, s -> { });
    }

    static Tour.StepResult step(int n) {
        return tour.steps().stream().filter(s -> s.number() == n).findFirst().orElseThrow();
    }

    /** Every command of step {@code n} with its output, as "COMMAND\nOUTPUT". */
    static Map<String, String> commands(int n) {
        return step(n).entries().stream().filter(e -> e instanceof StepLog.Command).map(e -> (StepLog.Command) e)
                .collect(Collectors.toMap(StepLog.Command::command, StepLog.Command::output, (a, b) -> a + b,
                        java.util.LinkedHashMap::new));
    }

    @Test
    void everyStepIsAsTheWalkthroughsSay() {
        assertThat(tour.steps()).extracting(Tour.StepResult::number).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        for (Tour.StepResult s : tour.steps()) {
            assertThat(s.error()).as("step %d", s.number()).isNull();
            List<String> failed = s.entries().stream().filter(e -> e instanceof StepLog.Expect x && !x.ok())
                    .map(e -> ((StepLog.Expect) e).what() + ": " + ((StepLog.Expect) e).seen()).toList();
            assertThat(failed).as("step %d", s.number()).isEmpty();
            assertThat(s.entries()).as("step %d checks something", s.number()).filteredOn(e -> e instanceof StepLog.Expect)
                    .hasSizeGreaterThanOrEqualTo(3);
        }
        assertThat(tour.ok()).isTrue();
        assertThat(TourText.summary(tour)).isEqualTo("Tour: 10 step(s), 10 as expected\n");
    }

    @Test
    void stepOneShowsTheKernelsOwnLines() {
        Map<String, String> c = commands(1);
        assertThat(c.get("cat /proc/cmdline")).contains("intel_iommu=off").contains("intel_iommu=on");
        assertThat(c.get("dmesg | grep -e DMAR -e IOMMU"))
                .contains("[    0.000000] DMAR: IOMMU disabled\n")
                .contains("[    0.000000] DMAR: IOMMU enabled\n")
                .contains("[    0.000000] DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap ")
                .contains("[    0.000000] DMAR: Intel(R) Virtualization Technology for Directed I/O\n");
    }

    @Test
    void stepsTwoAndThreeShowGroupsAndTheForgottenFunction() {
        assertThat(commands(2).get("ls /sys/bus/pci/devices/0000:00:1f.0/iommu_group/devices/"))
                .isEqualTo("0000:00:1f.0\n0000:00:1f.2\n0000:00:1f.3\n");
        Map<String, String> c = commands(3);
        assertThat(c.get("cat /sys/bus/pci/devices/0000:00:05.0/device")).isEqualTo("0x100e\n");
        assertThat(c.get(Walkthroughs.QEMU + " -machine q35 -m 512M -nodefaults -device vfio-pci,host=00:05.0"))
                .startsWith("qemu-system-x86_64: -device vfio-pci,host=00:05.0: vfio 0000:00:05.0: group 1 is not viable\n"
                        + "Please ensure all devices within the iommu_group are bound to their vfio bus driver.\n");
    }

    @Test
    void stepFourEnablesVfsWithGroupsOfTheirOwn() {
        Map<String, String> c = commands(4);
        assertThat(c.get("cat /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs")).isEqualTo("4\n");
        assertThat(c.get("find /sys/kernel/iommu_groups/ -type l")).contains("/devices/0000:01:10.0\n", "/devices/0000:01:10.6\n");
    }

    @Test
    void stepsFiveAndSixShowQemusRefusals() {
        assertThat(String.join("", commands(5).values()))
                .contains("DMAR-IR: Enabled IRQ remapping")
                .contains("qemu-system-x86_64: -device intel-iommu,intremap=on: Interrupt Remapping cannot work with"
                        + " kernel-irqchip=on, please use 'split|off'.\n");
        assertThat(String.join("", commands(6).values()))
                .contains("-> host-physical ")
                .contains("qemu-system-x86_64: We need to set caching-mode=on for intel-iommu to enable device assignment"
                        + " with IOMMU protection.\n");
    }

    @Test
    void stepSevenStopsOneBadDmaAndShowsTheOtherCorruptingGuestMemory() {
        String all = String.join("", commands(7).values());
        assertThat(all).contains("DMAR: [DMA Write NO_PASID] Request device [00:07.0] fault addr 0x0 [fault reason 0x05]");
        assertThat(all).contains("after:  ee ee ee ee");
        StepLog.Chart chart = step(7).entries().stream().filter(e -> e instanceof StepLog.Chart).map(e -> (StepLog.Chart) e)
                .findFirst().orElseThrow();
        assertThat(chart.values()[0][2]).isGreaterThanOrEqualTo(2.0); // dynamic: a host MAP and UNMAP per packet
        assertThat(chart.values()[1][2]).isLessThan(0.1);           // static: the setup's one MAP_DMA, spread
    }

    @Test
    void stepsEightAndTenShowTheBypassAndLibvirtsLine() {
        assertThat(String.join("", commands(8).values()))
                .contains("Capabilities: [100 v1] Address Translation Service (ATS)")
                .contains("viommu: warning: virtio-net-pci at 01:00.0 has no iommu_platform=on: its DMA bypasses the vIOMMU");
        assertThat(commands(10).get("virsh domxml-to-native qemu-argv tour.xml"))
                .contains("-device '{\"driver\":\"vfio-pci\",\"host\":\"0000:00:07.0\"");
        assertThat(commands(10).get("virsh start tour")).contains("managed='yes': 0000:00:07.0 (no driver) -> vfio-pci");
    }

    /**
     * Step 9: L2's DMA followed down to the host frame, the stray DMA stopped by the host's unit
     * with the host's DMAR line, every level's device and VMM, and the nested cost next to L1's.
     */
    @Test
    void stepNineFollowsL2sDmaToTheHostAndTheHostUnitStopsTheStrayOne() {
        String all = String.join("", commands(9).values());
        assertThat(all).contains("L0    0000:00:07.0  ", "L1    0000:00:01.0  ", "L2    ")
                .contains("DMAR: [DMA Write NO_PASID] Request device [00:07.0] fault addr 0xff00000 [fault reason 0x05]"
                        + " PTE Write access is not set")
                .contains("read in L2's page: identical")
                .contains("ring in L2: the host unit's IOTLB invalidations 1.25 per packet");
        // L1's root binds the device by hand before starting L2, as a person types it
        assertThat(step(9).entries().stream().filter(e -> e instanceof StepLog.Command c && c.prompt().equals("L1#"))
                .map(e -> ((StepLog.Command) e).command()).toList()).startsWith("modprobe vfio-pci",
                "echo vfio-pci > /sys/bus/pci/devices/0000:00:01.0/driver_override",
                "echo 0000:00:01.0 > /sys/bus/pci/drivers_probe").last().asString().startsWith("qemu-system-x86_64 ");
        assertThat(step(9).entries().stream().filter(e -> e instanceof StepLog.Expect).map(e -> (StepLog.Expect) e)
                .filter(x -> x.what().startsWith("the host unit is invalidated once per host UNMAP_DMA")))
                .singleElement().matches(StepLog.Expect::ok);
        StepLog.Figure f = step(9).entries().stream().filter(e -> e instanceof StepLog.Figure).map(e -> (StepLog.Figure) e)
                .findFirst().orElseThrow();
        assertThat(f.dmaPath()).hasSize(5);
        assertThat(f.dmaPath().get(1)).startsWith("L2's vIOMMU");
        assertThat(f.dmaPath().get(2)).startsWith("L1's vIOMMU");
        assertThat(f.dmaPath().get(3)).startsWith("host VT-d unit (RID 00:07.0)");
        StepLog.Chart chart = step(9).entries().stream().filter(e -> e instanceof StepLog.Chart).map(e -> (StepLog.Chart) e)
                .findFirst().orElseThrow();
        assertThat(chart.values()[1][0]).isEqualTo(2 * chart.values()[0][0]); // two VMMs trap what one did
    }

    /** The host booted with intel_iommu=off: no group for the edu, so step 9 fails, and prints FAILED where. */
    @Test
    void withoutTheHostsIommuStepNineFails() {
        TourInputs in = TourInputs.DEFAULT.withIommuOnLine("BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 ro quiet intel_iommu=off");
        Tour.StepResult nine = Tour.run(List.of(Tour.step(9)), in, s -> { }).steps().get(0);
        assertThat(nine.ok()).isFalse();
        assertThat(TourText.step(nine)).contains("  FAILED  the unbound edu 07.0 is taken by vfio-pci at once (new_id probes it)\n")
                .contains("  FAILED  L1 and L2 run, L2's DMA lands and the stray DMA is stopped\n")
                .endsWith("Step 9: NOT as the walkthrough says (2 check(s) failed)\n\n");
    }

    @Test
    void aNumberThatIsNoStepIsRefusedNotSkipped() {
        assertThat(Tour.select(List.of(11)).error()).isEqualTo("there is no step 11: the tour has steps 1-10");
        assertThat(Tour.select(List.of(7, 2)).steps()).extracting(TourStep::number).containsExactly(2, 7);
    }

    /** One input changed: the host's kernel line without intel_iommu=on. Step 1 fails, and says where. */
    @Test
    void withoutIntelIommuOnStepOneFails() {
        TourInputs in = TourInputs.DEFAULT.withIommuOnLine("BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 ro quiet");
        Tour.Result r = Tour.run(List.of(Tour.step(1)), in, s -> { });
        Tour.StepResult one = r.steps().get(0);
        assertThat(r.ok()).isFalse();
        assertThat(one.ok()).isFalse();
        List<String> failed = one.entries().stream().filter(e -> e instanceof StepLog.Expect x && !x.ok())
                .map(e -> ((StepLog.Expect) e).what()).toList();
        assertThat(failed).containsExactly("/proc/cmdline has intel_iommu=on",
                "dmesg: \"DMAR: IOMMU enabled\" (the option was recognised)");
        assertThat(TourText.step(one)).contains("  FAILED  /proc/cmdline has intel_iommu=on\n")
                .contains("Step 1: NOT as the walkthrough says (2 check(s) failed)");
    }
}
