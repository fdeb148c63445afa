package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.host.HostSnapshotWriter;
import io.viommu.host.RecordedHost;
import io.viommu.host.SavedTree;
import io.viommu.linux.Kernel;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.iommu.IommuGroup;
import io.viommu.pci.AcsCapability;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --host-sysfs DIR}: a model host built from a saved tree. The hand-made Intel host of
 * src/test/host-trees (ports with ACS, an 82599 PF with two VFs, one on vfio-pci, GPU+audio, a
 * PCIe-to-PCI bridge) and a round trip: the fixtures' model host saved the way {@code viommu boot
 * --sysfs-export} + {@code viommu host snapshot} save one, rebuilt from the tree, gives the same
 * groups, the same drivers and the real capture's replies for the same assignment.
 */
class HostSysfsTest {
    static final Path INTEL_VTD = Path.of("src/test/host-trees/intel-vtd");

    /** group id -> members, as sysfs shows them. */
    static Map<Integer, List<String>> groups(Kernel k) {
        Map<Integer, List<String>> out = new TreeMap<>();
        for (IommuGroup g : k.groups().groups()) {
            out.put(g.id(), g.devices().stream().map(r -> "0000:" + r).sorted().toList());
        }
        return out;
    }

    static Map<String, String> drivers(Kernel k) {
        Map<String, String> out = new TreeMap<>();
        for (PciDevice d : k.drivers().devices()) {
            out.put(d.name(), d.driver() == null ? "-" : d.driver().name());
        }
        return out;
    }

    @Test
    void theSavedIntelHostKeepsItsTopologyGroupsSriovAcsAndBindings() throws Exception {
        RecordedHost.Booted b = RecordedHost.boot(INTEL_VTD);
        Kernel k = b.kernel();
        // the recorded firmware's bus numbers and the recorded groups (the tree's own numbering)
        Map<Integer, List<String>> recorded = new TreeMap<>();
        for (var g : io.viommu.host.HostReader.read(new SavedTree(INTEL_VTD)).groups()) {
            recorded.put(g.id(), g.devices().stream().map(Object::toString)
                    .filter(a -> !a.startsWith("0000:04:")).sorted().toList());
        }
        assertThat(groups(k)).isEqualTo(recorded);
        Map<String, String> drv = drivers(k);
        assertThat(drv).containsEntry("0000:02:10.2", "vfio-pci").containsEntry("0000:05:00.0", "nvme")
                .containsEntry("0000:00:01.0", "pcieport").containsEntry("0000:00:1c.0", "pcieport")
                .containsEntry("0000:01:00.0", "-").containsEntry("0000:02:00.0", "-").containsEntry("0000:02:10.0", "-");
        // ids and class from the saved configuration space; the VFs from the PF's SR-IOV capability
        PciFunction vf = k.machine().rootBus().route(2, 0x82);
        assertThat(vf).isNotNull();
        assertThat(vf.isVirtualFunction()).isTrue();
        assertThat(k.topology().function(RequesterId.parse("02:10.2")).orElseThrow().deviceId()).isEqualTo(0x10ed);
        assertThat(k.topology().function(RequesterId.parse("01:00.0")).orElseThrow().vendorId()).isEqualTo(0x10de);
        // the kernel enabled the recorded ports' ACS (pci_acs_init: SV|RR|CR|UF)
        PciFunction port = k.machine().rootBus().route(0, 0x08);
        int acs = port.findExtendedCapability(PciRegs.EXT_CAP_ID_ACS);
        assertThat(port.configRead(acs + AcsCapability.CTRL, 2) & 0x1f)
                .isEqualTo(AcsCapability.SV | AcsCapability.RR | AcsCapability.CR | AcsCapability.UF);
        // the unit at the recorded DRHD base, answering there
        assertThat(k.dmesg()).contains("DMAR: DRHD base: 0x000000fbffc000 flags: 0x1");
        // what the model could not reproduce, said by name
        assertThat(b.notes()).contains(
                "0000:01:00.0: driver nouveau (bound on the recorded host) is not modelled: left without a driver",
                "0000:02:00.0: 2 VFs enabled as recorded (what its driver ixgbe did on the host)",
                "0000:02:10.0: driver ixgbevf (bound on the recorded host) is not modelled: left without a driver");
        assertThat(b.notes()).anyMatch(n -> n.startsWith("0000:04:00.0: not reachable by configuration cycles: bus 04"
                + " is outside the bus range recorded by the bridges above it (0000:03:00.0: 04-04, 0000:00:1c.0: 03-03)"));
        assertThat(b.notes()).anyMatch(n -> n.startsWith("dmar0: the model's VT-d unit composes its registers as QEMU 7.2"
                + " does") && n.contains("the recorded host has cap 8d2078c106f0466 ecap f020df")
                && n.endsWith("(model/recorded: CAP.PLMR 0/1 CAP.PHMR 0/1 CAP.SAGAW 0x6/0x4 CAP.ZLR 0/1 CAP.FRO 0x22/0x10"
                        + " CAP.PI 0/1, ECAP.C 0/1 ECAP.IRO 0xf/0x20)"));
    }

    @Test
    void assignmentOnTheSavedHostFollowsLinux() throws Exception {
        Kernel k = RecordedHost.boot(INTEL_VTD).kernel();
        List<String> vm = List.of("-M", "q35", "-accel", "tcg", "-S", "-display", "none", "-nodefaults", "-m", "128M");
        // the PF is not on vfio-pci (its group has no /dev/vfio node): QEMU's text
        var refused = VmmFixtureTest.run(k, concat(vm, "-device", "vfio-pci,host=0000:02:00.0"), "");
        assertThat(refused.rc()).isEqualTo(1);
        assertThat(refused.err()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0: vfio 0000:02:00.0:"
                + " failed to open /dev/vfio/8: No such file or directory\n");
        // the VF recorded on vfio-pci: assigned; its ids read through VFIO (the VF's vendor and device from the PF)
        var ok = VmmFixtureTest.run(k, concat(vm, "-device", "vfio-pci,host=0000:02:10.2"),
                "outl 0xcf8 0x80000800\ninl 0xcfc\n");
        assertThat(ok.err()).isEmpty();
        assertThat(ok.out()).isEqualTo("OK\nOK 0x10ed8086\n");
    }

    @Test
    void aSnapshotOfAModelHostRebuildsTheSameHost(@TempDir Path tmp) throws Exception {
        Kernel original = VmmFixtureTest.fixtureHost();
        Path exported = tmp.resolve("export");
        original.exportTo(exported); // viommu boot --sysfs-export
        Path snap = tmp.resolve("snap");
        HostSnapshotWriter.write(new SavedTree(exported), snap); // viommu host snapshot --sysfs
        RecordedHost.Booted b = RecordedHost.boot(snap);
        Kernel copy = b.kernel();
        assertThat(groups(copy)).isEqualTo(groups(original));
        assertThat(drivers(copy)).isEqualTo(drivers(original));
        // the real capture's assignment, on the rebuilt host: the same replies, stderr, status
        VmmFixtureTest.Run r = VmmFixtureTest.run(copy, VmmFixtureTest.vmArgs("a-config"), VmmFixtureTest.read("a-config.qtest"));
        assertThat(r.out()).isEqualTo(VmmFixtureTest.read("a-config.out"));
        assertThat(r.err()).isEqualTo(VmmFixtureTest.read("a-config.err"));
        assertThat(r.rc()).isZero();
        assertThat(b.notes().stream().collect(Collectors.joining("\n"))).doesNotContain("BAR sizes are unknown");
    }

    private static List<String> concat(List<String> a, String... more) {
        List<String> out = new java.util.ArrayList<>(a);
        out.addAll(List.of(more));
        return out;
    }

    @Test
    void bootReportsTheSavedHostAndUsageErrorsAreSaid(@TempDir Path tmp) {
        CliRun boot = CliRun.of("boot", "--host-sysfs", INTEL_VTD.toString());
        assertThat(boot.code()).isZero();
        assertThat(boot.out()).contains("DMAR: DRHD base: 0x000000fbffc000 flags: 0x1",
                "DEV 0000:02:10.2 0x8086 0x10ed 0x020000 group=11 driver=vfio-pci");
        assertThat(boot.err()).contains("viommu: --host-sysfs " + INTEL_VTD + ": 0000:01:00.0: driver nouveau"
                + " (bound on the recorded host) is not modelled: left without a driver");
        assertThat(CliRun.of("boot", "--host-sysfs", INTEL_VTD.toString(), "-m", "1G").code()).isEqualTo(2);
        CliRun notTree = CliRun.of("boot", "--host-sysfs", tmp.toString());
        assertThat(notTree.code()).isEqualTo(1);
        assertThat(notTree.err()).contains("not a saved host tree");
        CliRun both = CliRun.of("qtest", "--host", "-m 2G", "--host-sysfs", INTEL_VTD.toString());
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--host and --host-sysfs are alternatives");
        CliRun badLimit = CliRun.of("qtest", "--host-sysfs", INTEL_VTD.toString(), "--vmm-memlock", "lots");
        assertThat(badLimit.code()).isEqualTo(2);
        assertThat(badLimit.err()).contains("--vmm-memlock: invalid number 'lots'");
    }
}
