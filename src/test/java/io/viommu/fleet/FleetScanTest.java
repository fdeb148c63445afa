package io.viommu.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code fleet scan} over the test fleet: per host and device what the one-host tooling decides, and the sums. */
class FleetScanTest {
    private static final FleetReport R = FleetScanner.scan(FleetSnapshots.load(FleetFixtures.all()).snapshots(), "qemu");

    private static FleetReport.Host host(String name) {
        return R.hosts().stream().filter(h -> h.name().equals(name)).findFirst().orElseThrow();
    }

    private static FleetReport.Device device(String host, String bdf) {
        return host(host).devices().stream().filter(d -> d.address().equals(bdf)).findFirst().orElseThrow();
    }

    @Test
    void hostsThatCannotServeSayWhyAndWhatTheyNeed() {
        assertThat(R.hosts()).extracting(FleetReport.Host::name, FleetReport.Host::serves).containsExactly(
                org.assertj.core.groups.Tuple.tuple("node-off", false), org.assertj.core.groups.Tuple.tuple("node-vfs", true),
                org.assertj.core.groups.Tuple.tuple("node-pf", true), org.assertj.core.groups.Tuple.tuple("node-nvme", true),
                org.assertj.core.groups.Tuple.tuple("node-inuse", true), org.assertj.core.groups.Tuple.tuple("node-noir", false));
        assertThat(host("node-off").problems()).singleElement().asString().startsWith("the IOMMU is off: the firmware has no DMAR/IVRS table");
        assertThat(host("node-off").needs()).first().asString().startsWith("kernel command line: give this VM a virtual IOMMU");
        assertThat(host("node-off").devices()).noneMatch(FleetReport.Device::candidate);
        assertThat(host("node-noir").interruptRemapping()).isEqualTo("unsupported");
        assertThat(host("node-noir").problems()).singleElement().asString().startsWith("interrupt remapping is unsupported (ECAP.IR is clear on dmar0");
        assertThat(host("node-noir").devices()).noneMatch(FleetReport.Device::candidate);
        assertThat(host("node-pf").needs()).contains("sriov_numvfs: 0000:01:00.0 (Intel 82576 (igb PF), Ethernet controller)"
                + " has no VFs, up to 7: viommu host plan 0000:01:00.0 --vfs N");
        assertThat(host("node-vfs").needs()).noneMatch(n -> n.startsWith("sriov_numvfs"));
    }

    @Test
    void devicesCarryKindDriverIsolationAndVerdict() {
        FleetReport.Device vf = device("node-vfs", "0000:01:10.2");
        assertThat(vf).extracting(FleetReport.Device::id, FleetReport.Device::kind, FleetReport.Device::physfn,
                FleetReport.Device::vfIndex, FleetReport.Device::candidate).containsExactly("8086:10ca", "VF", "0000:01:00.0", 1, true);
        assertThat(device("node-vfs", "0000:01:00.0").kind()).isEqualTo("PF");
        assertThat(device("node-vfs", "0000:01:00.0").driver()).isEqualTo("igb"); // bound to its own driver: still a candidate
        assertThat(device("node-vfs", "0000:01:00.0").candidate()).isTrue();
        FleetReport.Device routed = device("node-inuse", "0000:00:06.0");
        assertThat(routed.candidate()).isFalse();
        assertThat(routed.blockers()).singleElement().asString().startsWith("routing table indicates that interface eth0 is active");
        assertThat(device("node-inuse", "0000:00:07.0").candidate()).isTrue();
        assertThat(device("node-nvme", "0000:00:05.1").isolation()).isEqualTo("group 4 with 0000:00:05.0, 0000:00:05.2");
        assertThat(device("node-nvme", "0000:01:00.0")).extracting(FleetReport.Device::id, FleetReport.Device::isolation,
                FleetReport.Device::candidate).containsExactly("1b36:0010", "alone in group 6", true);
        assertThat(device("node-nvme", "0000:00:1f.2").blockers()).singleElement().asString()
                .isEqualTo("the group holds 0000:00:1f.0 (ISA bridge), a chipset function the host cannot give away");
    }

    @Test
    void theSummaryCountsCandidatesPerKindAndHost() {
        FleetReport.Kind e1000 = R.summary().stream().filter(k -> k.id().equals("8086:100e")).findFirst().orElseThrow();
        assertThat(e1000.candidates()).isEqualTo(3);
        assertThat(e1000.onHosts()).containsExactly(java.util.Map.entry("node-nvme", 2), java.util.Map.entry("node-inuse", 1));
        assertThat(e1000.blockedOn()).containsOnlyKeys("node-off", "node-inuse");
        assertThat(e1000.toBind()).containsEntry("node-inuse", 1);
        assertThat(R.summary()).extracting(FleetReport.Kind::id).containsAll(List.of("8086:10ca", "8086:10c9", "1b36:0010"));
    }
}
