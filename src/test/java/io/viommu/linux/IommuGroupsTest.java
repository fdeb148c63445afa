package io.viommu.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.fixtures.LinuxCapture;
import io.viommu.linux.driver.AcsCheck;
import io.viommu.linux.driver.AcsOverride;
import io.viommu.linux.driver.DmaAliases;
import io.viommu.linux.iommu.IommuGroups;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.AcsCapability;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Group formation on topologies nobody captured, checked against what Linux 6.1's
 * pci_device_group does for them (reasoned from drivers/iommu/iommu.c, drivers/pci/search.c,
 * drivers/pci/pci.c and quirks.c; see reference/linux.md).
 */
class IommuGroupsTest {
    static final String IOMMU = "-device intel-iommu,intremap=off,caching-mode=on";

    static Kernel boot(String args) throws Exception {
        return Kernel.boot(machine(args));
    }

    static Machine machine(String args) throws Exception {
        List<String> a = new ArrayList<>(Arrays.asList("-machine q35 -m 1G -nodefaults".split(" ")));
        a.addAll(LinuxCapture.shellSplit(args));
        return MachineBuilder.fromCommandLine(a, MachineLog.SILENT);
    }

    static int group(Kernel k, String bdf) {
        return k.groups().groupOf(RequesterId.parse(bdf)).orElseThrow().id();
    }

    static List<String> members(Kernel k, String bdf) {
        return k.groups().groupOf(RequesterId.parse(bdf)).orElseThrow().memberBdfs();
    }

    @Test
    void devicesBehindPcieToPciBridgeShareTheBridgesGroupThroughItsAlias() throws Exception {
        Kernel k = boot(IOMMU + " -device pcie-pci-bridge,id=pb -device e1000,bus=pb,addr=1 -device e1000,bus=pb,addr=2");
        assertThat(members(k, "01:01.0")).containsExactly("0000:00:01.0", "0000:01:01.0", "0000:01:02.0");
        Topology.Function nic = k.topology().function(RequesterId.parse("01:02.0")).orElseThrow();
        assertThat(DmaAliases.walk(k.topology(), nic)).extracting(s -> s.device() + ">" + s.alias())
                .containsExactly("01:02.0>01:02.0", "00:01.0>01:00.0");
    }

    @Test
    void conventionalBridgeAliasesToItsOwnIdAndJoinsTheGroupAbove() throws Exception {
        Kernel k = boot(IOMMU + " -device pcie-pci-bridge,id=pb -device pci-bridge,id=b2,chassis_nr=3,bus=pb,addr=1"
                + " -device e1000,bus=b2,addr=4");
        Topology.Function nic = k.topology().function(RequesterId.parse("02:04.0")).orElseThrow();
        assertThat(DmaAliases.walk(k.topology(), nic)).extracting(s -> s.device() + ">" + s.alias())
                .containsExactly("02:04.0>02:04.0", "01:01.0>01:01.0", "00:01.0>01:00.0");
        assertThat(members(k, "02:04.0")).containsExactly("0000:00:01.0", "0000:01:01.0", "0000:02:04.0");
    }

    @Test
    void rootPortWithoutAcsPullsItsSubtreeIntoItsGroup() throws Exception {
        Kernel k = boot(IOMMU + " -device pcie-root-port,id=rp,chassis=1,slot=1,disable-acs=on"
                + " -device x3130-upstream,id=up,bus=rp -device xio3130-downstream,id=d1,bus=up,chassis=2,slot=1"
                + " -device e1000e,bus=d1");
        assertThat(members(k, "00:01.0"))
                .containsExactly("0000:00:01.0", "0000:01:00.0", "0000:02:00.0", "0000:03:00.0");
    }

    @Test
    void genericRootPortWithAcsIsolatesItsEndpointButIoh3420HasNoAcs() throws Exception {
        Kernel k = boot(IOMMU + " -device pcie-root-port,id=rp,chassis=1,slot=1 -device e1000e,bus=rp"
                + " -device ioh3420,id=rp2,chassis=2,slot=2 -device e1000e,bus=rp2");
        assertThat(members(k, "01:00.0")).containsExactly("0000:01:00.0");
        assertThat(group(k, "00:01.0")).isNotEqualTo(group(k, "01:00.0"));
        assertThat(k.topology().function(RequesterId.parse("00:02.0")).orElseThrow().acs()).isNull();
        assertThat(members(k, "02:00.0")).containsExactly("0000:00:02.0", "0000:02:00.0");
    }

    @Test
    void switchDownstreamPortsWithoutAcsEachKeepTheirSubtreeButAreNotMerged() throws Exception {
        Kernel k = boot(IOMMU + " -device pcie-root-port,id=rp,chassis=1,slot=1 -device x3130-upstream,id=up,bus=rp"
                + " -device xio3130-downstream,id=d1,bus=up,chassis=2,slot=1"
                + " -device xio3130-downstream,id=d2,bus=up,chassis=2,slot=2"
                + " -device e1000e,bus=d1 -device e1000e,bus=d2");
        // 01:00.0 upstream port, 02:00.0 and 02:01.0 downstream ports, 03:00.0 and 04:00.0 NICs
        assertThat(members(k, "01:00.0")).containsExactly("0000:01:00.0");
        assertThat(members(k, "02:00.0")).containsExactly("0000:02:00.0", "0000:03:00.0");
        assertThat(members(k, "02:01.0")).containsExactly("0000:02:01.0", "0000:04:00.0");
    }

    @Test
    void multifunctionConventionalFunctionsShareOneGroup() throws Exception {
        Kernel k = boot(IOMMU + " -device e1000,addr=5.0,multifunction=on -device e1000,addr=5.1");
        assertThat(members(k, "00:05.0")).containsExactly("0000:00:05.0", "0000:00:05.1");
    }

    @Test
    void multifunctionIntelRootComplexEndpointsAreIsolatedByTheRciepQuirk() throws Exception {
        Kernel k = boot(IOMMU + " -device e1000e,addr=5.0,multifunction=on -device e1000e,addr=5.1");
        Topology.Function f = k.topology().function(RequesterId.parse("00:05.0")).orElseThrow();
        assertThat(f.multiFunction()).isTrue();
        assertThat(f.acs()).isNull();
        assertThat(AcsCheck.linux().enabled(f, AcsCheck.REQ_ACS_FLAGS)).isTrue();
        assertThat(group(k, "00:05.0")).isNotEqualTo(group(k, "00:05.1"));
    }

    @Test
    void multifunctionEndpointBehindRootPortWithoutQuirkSharesItsSlot() throws Exception {
        Kernel k = boot(IOMMU + " -device pcie-root-port,id=rp,chassis=1,slot=1"
                + " -device e1000e,bus=rp,addr=0.0,multifunction=on -device e1000e,bus=rp,addr=0.1");
        assertThat(members(k, "01:00.0")).containsExactly("0000:01:00.0", "0000:01:00.1");
    }

    @Test
    void vfsOfAn82576BehindAnAcsRootPortGetAGroupEach() throws Exception {
        Kernel k = boot(IOMMU + " -device pcie-root-port,id=rp,chassis=1,slot=1 -device igb,bus=rp");
        int pfGroup = group(k, "01:00.0");
        enableVfs(k, "01:00.0", 2);
        // 82576: VF offset 0x80, stride 2
        assertThat(members(k, "01:10.0")).containsExactly("0000:01:10.0");
        assertThat(members(k, "01:10.2")).containsExactly("0000:01:10.2");
        assertThat(List.of(pfGroup, group(k, "01:10.0"), group(k, "01:10.2"))).doesNotHaveDuplicates();
        assertThat(k.dmesg()).contains("pci 0000:01:10.0: Adding to iommu group " + group(k, "01:10.0"));
    }

    @Test
    void vfsBehindARootPortWithoutAcsJoinThePortsGroup() throws Exception {
        Kernel k = boot(IOMMU + " -device pcie-root-port,id=rp,chassis=1,slot=1,disable-acs=on -device igb,bus=rp");
        enableVfs(k, "01:00.0", 1);
        assertThat(members(k, "01:10.0")).containsExactly("0000:00:01.0", "0000:01:00.0", "0000:01:10.0");
    }

    @Test
    void vfsOnABridgelessVirtualBusGetTheirOwnGroups() throws Exception {
        Kernel k = boot(IOMMU + " -device igb,addr=1e.0");
        enableVfs(k, "00:1e.0", 2);
        // PF routing id 0x00f0 + offset 0x80 = 0x0170: bus 1 (which no bridge owns), devfn 0x70
        Topology.Function vf = k.topology().function(RequesterId.parse("01:0e.0")).orElseThrow();
        assertThat(vf.onVirtualBus()).isTrue();
        assertThat(members(k, "01:0e.0")).containsExactly("0000:01:0e.0");
        assertThat(members(k, "01:0e.2")).containsExactly("0000:01:0e.2");
        assertThat(group(k, "01:0e.0")).isNotEqualTo(group(k, "00:1e.0"));
    }

    @Test
    void disablingVfsFreesTheirGroupIdsForReuse() throws Exception {
        Kernel k = boot(IOMMU + " -device pcie-root-port,id=rp,chassis=1,slot=1 -device igb,bus=rp");
        enableVfs(k, "01:00.0", 1);
        int vfGroup = group(k, "01:10.0");
        k.drivers().disableSriov(k.drivers().device("0000:01:00.0").orElseThrow());
        assertThat(k.groups().group(vfGroup)).isEmpty();
        assertThat(k.dmesg()).contains("pci 0000:01:10.0: Removing from iommu group " + vfGroup);
        enableVfs(k, "01:00.0", 1);
        assertThat(group(k, "01:10.0")).isEqualTo(vfGroup); // the lowest free id again
        Machine m = k.machine();
        Kernel.boot(m); // a fresh kernel on the same machine numbers from 0 again
        IommuGroups g = new IommuGroups(AcsCheck.linux());
        Topology t = m.topology();
        assertThat(g.add(t, t.functions().get(0)).id()).isZero();
    }

    @Test
    void linuxEnablesAcsControlsAdvertisedByPortsWhenAnIommuIsPresent() throws Exception {
        Machine m = machine(IOMMU + " -device pcie-root-port,id=rp,chassis=1,slot=1");
        Kernel.boot(m);
        ConfigAccess cfg = m.configAccess();
        Topology.Acs acs = m.topology().function(RequesterId.parse("00:01.0")).orElseThrow().acs();
        assertThat(cfg.read(RequesterId.parse("00:01.0"), acs.offset() + AcsCapability.CTRL, 2))
                .isEqualTo(AcsCheck.REQ_ACS_FLAGS);
    }

    @Test
    void acsStaysOffWithoutAnIommuOrWithIntelIommuOff() throws Exception {
        for (String extra : List.of("", IOMMU + " -append intel_iommu=off", IOMMU + " -append iommu=off")) {
            Machine m = machine(extra + " -device pcie-root-port,id=rp,chassis=1,slot=1");
            Kernel k = Kernel.boot(m);
            assertThat(m.topology().function(RequesterId.parse("00:01.0")).orElseThrow().acs().control()).isZero();
            assertThat(k.groups().groups()).isEmpty();
            assertThat(BootReport.deviceLines(k)).allMatch(l -> l.contains("group=-"));
        }
    }

    @Test
    void acsOverrideWhatIfSplitsDownstreamPortsAndSaysSo() throws Exception {
        String topo = " -device pcie-root-port,id=rp,chassis=1,slot=1,disable-acs=on -device e1000e,bus=rp"
                + " -device pcie-root-port,id=rp2,chassis=2,slot=2,disable-acs=on -device e1000e,bus=rp2";
        Kernel stock = boot(IOMMU + topo);
        assertThat(members(stock, "01:00.0")).containsExactly("0000:00:01.0", "0000:01:00.0");
        String args = IOMMU + " -append \"intel_iommu=on pcie_acs_override=downstream\"" + topo;
        Kernel k = boot(args);
        assertThat(members(k, "01:00.0")).containsExactly("0000:01:00.0");
        assertThat(members(k, "02:00.0")).containsExactly("0000:02:00.0");
        assertThat(k.dmesg()).contains(AcsOverride.WARNING);
        assertThat(BootReport.lines(List.of(), k)).anyMatch(l -> l.startsWith("=== WHAT-IF pcie_acs_override"));
        assertThat(BootReport.lines(List.of(), stock)).noneMatch(l -> l.startsWith("=== WHAT-IF"));
    }

    @Test
    void acsOverrideByIdAndMultifunction() throws Exception {
        String mf = " -device pcie-root-port,id=rp,chassis=1,slot=1"
                + " -device e1000e,bus=rp,addr=0.0,multifunction=on -device e1000e,bus=rp,addr=0.1";
        Kernel byMf = boot(IOMMU + " -append pcie_acs_override=multifunction" + mf);
        assertThat(members(byMf, "01:00.0")).containsExactly("0000:01:00.0");
        Kernel byId = boot(IOMMU + " -append pcie_acs_override=id:8086:10d3" + mf);
        assertThat(members(byId, "01:00.1")).containsExactly("0000:01:00.1");
        Kernel other = boot(IOMMU + " -append pcie_acs_override=id:8086:1234" + mf);
        assertThat(members(other, "01:00.1")).containsExactly("0000:01:00.0", "0000:01:00.1");
    }

    @Test
    void acsOverrideNeverOverridesAPortThatHasAnAcsCapability() throws Exception {
        Kernel k = boot(IOMMU + " -append pcie_acs_override=downstream"
                + " -device pcie-root-port,id=rp,chassis=1,slot=1 -device x3130-upstream,id=up,bus=rp"
                + " -device xio3130-downstream,id=d1,bus=up,chassis=2,slot=1 -device e1000e,bus=d1");
        // xio3130 has no ACS capability: overridden; the endpoint gets its own group
        assertThat(members(k, "03:00.0")).containsExactly("0000:03:00.0");
        Topology.Function rp = k.topology().function(RequesterId.parse("00:01.0")).orElseThrow();
        assertThat(new AcsCheck(k.commandLine().acsOverride()).quirk(rp, AcsCheck.REQ_ACS_FLAGS)).isEqualTo(-1);
    }

    /** pci_enable_sriov on the PF through the kernel's driver core (as a PF driver would call it). */
    static void enableVfs(Kernel k, String pf, int n) {
        assertThat(k.drivers().enableSriov(k.drivers().device("0000:" + pf).orElseThrow(), n)).isZero();
    }
}
