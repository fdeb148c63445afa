package io.viommu.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.viommu.host.BindApply;
import io.viommu.host.BindPlan;
import io.viommu.host.HostJournal;
import io.viommu.host.HostReportJson;
import io.viommu.host.ModelHost;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster-wide selector closes the loop: snapshots of two model hosts, {@code fleet emit --for
 * kubevirt --plans DIR}, each host's plan applied to that host ({@code viommu host apply PLAN.json
 * --yes}); then what KubeVirt's PCI device plugin takes on each host (functions bound to vfio-pci
 * whose vendor:device is a permitted pciVendorSelector, pkg/virt-handler/device-manager/pci_device.go)
 * is exactly that host's candidates: the routed e1000 of node-inuse stays with the host.
 */
class FleetRoundTripTest {
    @Test
    void afterThePlansKubevirtsSelectorTakesExactlyTheCandidates(@TempDir Path tmp) throws Exception {
        List<String> names = List.of("node-inuse", "node-nvme");
        List<ModelHost> hosts = names.stream().map(n -> FleetFixtures.boot(FleetFixtures.spec(n))).toList();
        for (int i = 0; i < names.size(); i++) {
            io.viommu.host.HostSnapshotWriter.write(hosts.get(i), tmp.resolve("snap").resolve(names.get(i)));
        }
        FleetSnapshots.Loaded l = FleetSnapshots.load(names.stream().map(n -> tmp.resolve("snap").resolve(n)).toList());
        FleetEmit.Result r = FleetEmit.emit(FleetEmit.Engine.KUBEVIRT, FleetEmit.Resource.parseAll(List.of(
                "example.com/e1000=8086:100e", "example.com/nvme=1b36:0010")), l.snapshots(), tmp.resolve("plans"));
        assertThat(r.exit()).isZero();
        JsonNode kv = new YAMLMapper().readerFor(JsonNode.class).<JsonNode>readValues(r.stdout()).next();
        Set<String> permitted = new TreeSet<>();
        kv.at("/spec/configuration/permittedHostDevices/pciHostDevices").forEach(p -> permitted.add(p.get("pciVendorSelector").asText().toLowerCase()));
        assertThat(permitted).containsExactly("1b36:0010", "8086:100e");
        FleetReport report = FleetScanner.scan(l.snapshots(), "qemu");
        for (int i = 0; i < names.size(); i++) {
            String node = names.get(i);
            ModelHost host = hosts.get(i);
            BindPlan plan = HostReportJson.mapper().readValue(Files.readString(tmp.resolve("plans").resolve(node + ".plan.json")), BindPlan.class);
            assertThat(BindApply.refusal(plan, host)).as(node).isNull();
            BindApply.Result applied = BindApply.apply(plan, host, HostJournal.create(tmp.resolve(node + ".jsonl")), 0, x -> { });
            assertThat(applied.ok()).as(node + ": " + applied.error()).isTrue();
            Set<String> taken = new TreeSet<>();
            for (String bdf : host.list(Path.of("/sys/bus/pci/devices"))) {
                Path dir = Path.of("/sys/bus/pci/devices", bdf);
                String id = host.read(dir.resolve("vendor")).orElseThrow().substring(2) + ":"
                        + host.read(dir.resolve("device")).orElseThrow().substring(2);
                if (permitted.contains(id) && host.linkName(dir.resolve("driver")).map("vfio-pci"::equals).orElse(false)) {
                    taken.add(bdf);
                }
            }
            Set<String> expected = new TreeSet<>();
            report.hosts().stream().filter(h -> h.name().equals(node)).flatMap(h -> h.devices().stream())
                    .filter(d -> d.candidate() && permitted.contains(d.id())).forEach(d -> expected.add(d.address()));
            assertThat(taken).as(node).isEqualTo(expected).isNotEmpty();
        }
        assertThat(r.stderr()).anySatisfy(x -> assertThat(x).startsWith("node-inuse: 0000:00:06.0 (8086:100e) left out"));
    }
}
