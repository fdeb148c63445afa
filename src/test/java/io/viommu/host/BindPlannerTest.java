package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.host.BindPlan.Finding;
import io.viommu.host.BindPlan.Severity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code host plan} on model hosts: the group and its members, the blockers with their fixes, and
 * the refusals of bad input (unknown device, a bridge, the root file system's disk, the console,
 * a saved tree), each naming what and why, with nothing written.
 */
public class BindPlannerTest {
    static final String HOST = BindApplyModelTest.HOST;

    static BindPlan plan(HostSysfs h, String... devices) {
        return BindPlanner.plan(h, new BindPlanner.Request(List.of(devices), "qemu", false, null));
    }

    static List<Finding> blockers(BindPlan p) {
        return java.util.stream.Stream.concat(p.hostFindings().stream(), p.targets().stream().flatMap(t -> t.findings().stream()))
                .filter(f -> f.severity() == Severity.BLOCKER).toList();
    }

    @Test
    void aMultifunctionGroupTakesItsSiblingAndSaysWhatItIsBoundToAndUsedFor() {
        RecordingHost h = RecordingHost.boot(HOST, BindApplyModelTest.SETUP);
        BindPlan p = plan(h, "00:05.0");
        assertThat(p.ready()).isTrue();
        BindPlan.Target t = p.targets().get(0);
        assertThat(t.group()).isEqualTo(4);
        assertThat(t.members()).extracting(m -> m.address() + " " + m.driver() + " " + m.action() + " " + m.uses())
                .containsExactly("0000:00:05.0 null bind vfio-pci []",
                        "0000:00:05.1 e1000 bind vfio-pci [interface eth0 (up)]");
        // why the group is shared (no ACS), and why pcie_acs_override is no fix
        assertThat(t.findings()).anyMatch(f -> f.what().equals("it is a function of a multifunction device without ACS,"
                + " so its sibling functions share its group"));
        assertThat(t.findings()).anyMatch(f -> f.what().contains("pcie_acs_override") && f.what().contains("not the risk"));
        // no reset method: said, with what (not) to do about it
        assertThat(t.findings()).anyMatch(f -> f.severity() == Severity.WARNING && f.what().startsWith("no reset method")
                && f.fix().startsWith("none in software: QEMU assigns it anyway with a warning"));
        assertThat(t.findings()).anyMatch(f -> f.severity() == Severity.WARNING && f.what().startsWith("interface eth0 (up)"));
        assertThat(p.commands()).first().isEqualTo("modprobe vfio-pci");
        assertThat(p.persistence()).anyMatch(l -> l.startsWith("kernel command line: vfio-pci.ids=1234:11e8,8086:100e")
                && l.contains("also takes 0000:00:07.0"));
        assertThat(p.persistence()).anyMatch(l -> l.startsWith("driverctl set-override 0000:00:05.1 vfio-pci"));
        assertThat(p.persistence()).anyMatch(l -> l.contains("softdep e1000 pre: vfio-pci"));
        assertThat(p.host().pci()).startsWith("sha256:");
        assertThat(h.writes()).isZero();
    }

    @Test
    void forLibvirtThePlanSaysWhatManagedHostdevsDoAndGivesTheVirshCommands() {
        RecordingHost h = RecordingHost.boot(HOST, BindApplyModelTest.SETUP);
        BindPlan p = BindPlanner.plan(h, new BindPlanner.Request(List.of("00:05.0"), "libvirt", false, null));
        assertThat(p.ready()).isTrue();
        assertThat(p.hostFindings()).anyMatch(f -> f.what().startsWith("libvirt with <hostdev managed='yes'> detaches the"
                + " devices itself when the domain starts"));
        assertThat(BindPlanText.format(p)).contains("viommu host plan: ", " (for libvirt)",
                "the same with libvirt (per function): virsh nodedev-detach pci_0000_00_05_0 --driver vfio;"
                        + " virsh nodedev-detach pci_0000_00_05_1 --driver vfio;");
        assertThat(h.writes()).isZero();
    }

    @Test
    void aRoutedNicIsRefusedAsDpdkDevbindRefusesUnlessForced() {
        RecordingHost h = RecordingHost.boot(HOST, BindApplyModelTest.SETUP);
        BindPlan p = plan(h, "eth1");
        assertThat(p.ready()).isFalse();
        assertThat(p.steps()).isEmpty();
        assertThat(blockers(p)).singleElement().satisfies(f -> {
            assertThat(f.what()).startsWith("routing table indicates that interface eth1 is active (0000:00:07.0)")
                    .contains("10.0.0.0/24").contains("10.9.0.0/16")
                    .contains("\"Warning: routing table indicates that interface eth1 is active. Not modifying\"");
            assertThat(f.fix()).contains("--force");
        });
        BindPlan forced = BindPlanner.plan(h, new BindPlanner.Request(List.of("eth1"), "dpdk", true, null));
        assertThat(forced.ready()).isTrue();
        assertThat(BindPlanText.format(forced)).contains("dpdk-devbind.py --force -b vfio-pci 0000:00:07.0");
        assertThat(h.writes()).isZero();
    }

    @Test
    void unknownDevicesAndBridgesAreRefusedNamingWhatAndWhy() {
        RecordingHost h = RecordingHost.boot(HOST);
        BindPlan p = plan(h, "0000:00:09.0", "eth7", "00:03.0", "00:1f.0");
        assertThat(p.ready()).isFalse();
        assertThat(blockers(p)).extracting(Finding::what).containsExactly(
                "no PCI device or network interface 0000:00:09.0 on this host (" + h.describe() + ")",
                "no PCI device or network interface eth7 on this host (" + h.describe() + ")",
                "0000:00:03.0 is a root port (QEMU PCIe root port, PCI bridge): vfio-pci binds endpoints only, and the"
                        + " host needs its bridges to reach what is below them",
                "0000:00:1f.0 is a platform bridge function (ISA bridge), part of the chipset");
        assertThat(blockers(p).get(2).fix()).isEqualTo("name the device(s) below it instead: 0000:01:00.0");
        assertThat(BindApply.refusal(p, h)).startsWith("the plan has blockers:").contains("0000:00:09.0");
        assertThat(h.writes()).isZero();
    }

    @Test
    void theRootFileSystemsDiskIsRefusedEvenWithForceAndAMountedDiskUnlessForced() {
        String args = "-machine q35 -m 1G -device intel-iommu,caching-mode=on -device nvme,serial=a,addr=04.0"
                + " -blockdev null-co,node-name=nb -device virtio-blk-pci,addr=05.0,drive=nb";
        RecordingHost h = RecordingHost.boot(args, "modprobe nvme", "modprobe virtio_pci", "mount /dev/vda /",
                "mount /dev/nvme0n1 /srv");
        BindPlan root = BindPlanner.plan(h, new BindPlanner.Request(List.of("00:05.0"), "qemu", true, null));
        assertThat(blockers(root)).singleElement().satisfies(f -> {
            assertThat(f.what()).isEqualTo("0000:00:05.0 holds the host's root filesystem (/dev/vda): unbinding it takes"
                    + " the host's own disk away");
            assertThat(f.fix()).contains("--force does not override this");
        });
        BindPlan disk = plan(h, "00:04.0");
        assertThat(blockers(disk)).singleElement().satisfies(f -> assertThat(f.what())
                .isEqualTo("disk nvme0n1 of 0000:00:04.0 is mounted on /srv: unbinding its controller pulls the device"
                        + " from under mounted file systems"));
        assertThat(BindPlanner.plan(h, new BindPlanner.Request(List.of("00:04.0"), "qemu", true, null)).ready()).isTrue();
        assertThat(h.writes()).isZero();
    }

    @Test
    void theConsoleIsRefusedAndASavedTreePlansButCannotBeApplied(@TempDir Path dir) throws IOException {
        ModelHost m = RecordingHost.boot(HOST).host;
        m.kernel().exportTo(dir);
        Files.writeString(dir.resolve("sys/devices/pci0000:00/0000:00:01.0/boot_vga"), "1\n");
        SavedTree tree = new SavedTree(dir);
        BindPlan vga = plan(tree, "00:01.0");
        assertThat(blockers(vga)).singleElement().satisfies(f -> assertThat(f.what())
                .isEqualTo("0000:00:01.0 carries the host's console (boot VGA: the framebuffer console): unbinding it"
                        + " leaves the host without one"));
        BindPlan edu = plan(tree, "00:05.0");
        assertThat(edu.ready()).isTrue();
        assertThat(BindApply.refusal(edu, tree)).contains("is a saved record of a host, read-only");
        assertThat(tree.write(Path.of("/sys/bus/pci/drivers_probe"), "0000:00:05.0").ok()).isFalse();
        assertThat(tree.writes()).isZero();
    }

    @Test
    void anIommuThatIsOffGivesTheCommandLineChangeAndTheReboot() {
        RecordingHost h = RecordingHost.boot("-machine q35 -m 1G -append intel_iommu=off -device intel-iommu"
                + " -device edu,addr=05.0");
        BindPlan p = plan(h, "00:05.0");
        assertThat(p.ready()).isFalse();
        Finding off = p.hostFindings().get(0);
        assertThat(off.severity()).isEqualTo(Severity.BLOCKER);
        assertThat(off.what()).startsWith("the IOMMU is off: intel_iommu=off is on the kernel command line");
        // the model's CPU is QEMU's default (AuthenticAMD): no amd_iommu=on, which is not a kernel option
        assertThat(off.fix()).doesNotContain("intel_iommu=on", "add amd_iommu")
                .contains("; on AMD the IOMMU needs no switch of its own: amd_iommu=on is not a kernel option");
        assertThat(off.fix()).contains("remove intel_iommu=off").contains("add iommu=pt")
                .contains("In /etc/default/grub (not readable here): remove intel_iommu=off from GRUB_CMDLINE_LINUX and add iommu=pt").contains("update-grub (Debian, Ubuntu) or grub2-mkconfig -o /boot/grub2/grub.cfg")
                .contains("and reboot");
        assertThat(h.writes()).isZero();
    }

    @Test
    void onAnIntelHostTheFixIsItsGrubLineAndItsDistributionsCommand(@TempDir Path dir) throws IOException {
        SavedTree tree = iommuOff(dir, "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"quiet intel_iommu=off\"\n",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n");
        String dev = tree.list(Path.of("/sys/bus/pci/devices")).stream()
                .filter(d -> !tree.read(Path.of("/sys/bus/pci/devices", d, "class")).orElse("0x06").startsWith("0x06")).findFirst().orElseThrow();
        Finding off = plan(tree, dev).hostFindings().get(0);
        assertThat(off.what()).startsWith("the IOMMU is off: intel_iommu=off is on the kernel command line");
        assertThat(off.fix()).contains("remove intel_iommu=off and add intel_iommu=on iommu=pt")
                .contains("In /etc/default/grub: GRUB_CMDLINE_LINUX=\"quiet intel_iommu=on iommu=pt\" (now \"quiet intel_iommu=off\")")
                .contains(", then update-grub, and reboot");
    }

    @Test
    void onAFedoraHostTheBootLoaderCommandIsGrub2Mkconfig(@TempDir Path dir) throws IOException {
        SavedTree tree = iommuOff(dir, "GRUB_CMDLINE_LINUX=\"rhgb quiet intel_iommu=off\"\n",
                "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n");
        Finding off = plan(tree, "0000:00:1f.2").hostFindings().get(0);
        assertThat(off.fix()).contains("In /etc/default/grub: GRUB_CMDLINE_LINUX=\"rhgb quiet intel_iommu=on iommu=pt\"")
                .contains(", then grub2-mkconfig -o /boot/grub2/grub.cfg, and reboot").doesNotContain("update-grub");
        assertThat(tree.writes()).isZero();
    }

    @Test
    void withoutInterruptRemappingThePlanSaysWhatAllowUnsafeInterruptsWouldMean() {
        RecordingHost h = RecordingHost.boot("-machine q35 -m 512M -device intel-iommu,intremap=off -device e1000e");
        BindPlan p = plan(h, "00:02.0");
        assertThat(p.ready()).isTrue(); // binding works; it is VFIO's attach that would fail
        Finding ir = p.hostFindings().get(0);
        assertThat(ir.severity()).isEqualTo(Severity.ACTION);
        assertThat(ir.what()).startsWith("interrupt remapping is unsupported (ECAP.IR is clear on dmar0")
                .contains("VFIO's type1 backend refuses to attach the group (EPERM, \"No interrupt remapping support\")"
                        + " unless vfio_iommu_type1.allow_unsafe_interrupts=1");
        assertThat(ir.fix()).startsWith("that option lets a device it was given send any MSI it likes: a guest (or a DPDK"
                + " process) can then inject interrupts into the host.");
        // with it, nothing to say
        assertThat(plan(RecordingHost.boot(HOST), "00:07.0").hostFindings())
                .noneMatch(f -> f.what().startsWith("interrupt remapping"));
        assertThat(h.writes()).isZero();
    }

    @Test
    void bridgesInTheGroupStayWithTheHostAndTheDevicesBelowAConventionalBridgeGoTogether() {
        RecordingHost h = RecordingHost.boot("-machine q35 -m 512M -device intel-iommu -device pcie-pci-bridge,id=pb"
                + " -device e1000,bus=pb,addr=1 -device e1000,bus=pb,addr=2", "modprobe e1000");
        BindPlan p = plan(h, "01:01.0");
        assertThat(p.ready()).isTrue();
        BindPlan.Target t = p.targets().get(0);
        assertThat(t.bridges()).containsExactly("0000:00:03.0");
        assertThat(t.members()).extracting(BindPlan.Member::address).containsExactly("0000:01:01.0", "0000:01:02.0");
        assertThat(t.findings()).anyMatch(f -> f.what().startsWith("it sits behind pcie to pci bridge 0000:00:03.0"));
        assertThat(p.steps()).noneMatch(st -> "0000:00:03.0".equals(st.device()) || String.valueOf(st.path()).contains("00:03.0"));
        assertThat(BindPlanText.format(p)).contains("bridges in the group, which stay with the host: 0000:00:03.0");
        assertThat(h.writes()).isZero();
    }

    @Test
    void aGroupThatCannotBeMadeViableIsRefusedWithItsReason() {
        // the ICH9 functions share one group with the LPC (ISA) bridge, which the host cannot give away
        RecordingHost h = RecordingHost.boot(HOST);
        BindPlan p = plan(h, "00:1f.3");
        assertThat(p.ready()).isFalse();
        assertThat(p.steps()).isEmpty();
        assertThat(blockers(p)).singleElement().satisfies(f -> {
            assertThat(f.what()).isEqualTo("the group holds 0000:00:1f.0 (ISA bridge), a chipset function the host"
                    + " cannot give away");
            assertThat(f.fix()).startsWith("none on this host: a group is assigned whole and this one cannot be made viable");
        });
        assertThat(BindApply.refusal(p, h)).startsWith("the plan has blockers:");
        assertThat(h.writes()).isZero();
    }

    @Test
    void everyBlockerComesWithItsFix() {
        RecordingHost h = RecordingHost.boot(HOST, BindApplyModelTest.SETUP);
        List<BindPlan> plans = List.of(plan(h, "00:1f.3"), plan(h, "eth1"), plan(h, "0000:00:09.0", "00:03.0", "00:1f.0"),
                BindPlanner.plan(h, new BindPlanner.Request(List.of("01:00.0"), "qemu", false, 9)),
                BindPlanner.plan(h, new BindPlanner.Request(List.of("00:07.0"), "qemu", false, 2)),
                plan(RecordingHost.boot("-machine q35 -m 1G -append intel_iommu=off -device intel-iommu -device edu"), "00:02.0"));
        for (BindPlan p : plans) {
            assertThat(blockers(p)).as(String.join(" ", p.requested())).isNotEmpty()
                    .allSatisfy(f -> assertThat(f.fix()).as(f.what()).isNotBlank());
        }
    }

    /** The saved Intel host with intel_iommu=off, plus the two /etc files the fix is built from. */
    static SavedTree iommuOff(Path dir, String grub, String osRelease) throws IOException {
        copy(Path.of("src/test/host-trees/intel-vtd-off"), dir);
        Files.createDirectories(dir.resolve("etc/default"));
        Files.writeString(dir.resolve("etc/default/grub"), grub);
        Files.writeString(dir.resolve("etc/os-release"), osRelease);
        return new SavedTree(dir);
    }

    /** A saved tree copied with its symlinks as they are (FleetSnapshotsTest edits copies). */
    public static void copy(Path from, Path to) throws IOException {
        try (var s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isSymbolicLink(p)) {
                    Files.createSymbolicLink(t, Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }

    @Test
    void vfsArePlannedAtTheAddressesTheirOffsetAndStrideGive() {
        RecordingHost h = RecordingHost.boot(HOST, "modprobe igb");
        BindPlan p = BindPlanner.plan(h, new BindPlanner.Request(List.of("8086:10c9"), "qemu", false, 3));
        assertThat(p.ready()).isTrue();
        assertThat(p.targets().get(0).members()).extracting(BindPlan.Member::address)
                .containsExactly("0000:01:00.0", "0000:01:10.0", "0000:01:10.2", "0000:01:10.4");
        assertThat(p.commands()).contains("echo 3 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs");
        BindPlan tooMany = BindPlanner.plan(h, new BindPlanner.Request(List.of("01:00.0"), "qemu", false, 8));
        assertThat(blockers(tooMany)).extracting(Finding::what).anyMatch(w -> w.contains("supports at most 7 VFs"));
        BindPlan noDriver = BindPlanner.plan(RecordingHost.boot(HOST), new BindPlanner.Request(List.of("01:00.0"), "qemu", false, 2));
        assertThat(blockers(noDriver)).extracting(Finding::what).anyMatch(w -> w.contains("has no driver"));
    }
}
