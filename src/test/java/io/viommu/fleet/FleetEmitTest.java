package io.viommu.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code viommu fleet emit} over the test fleet ({@link FleetFixtures}): each engine's output validates
 * against that engine's schema (KubeVirt v1.8.4's CRD openAPIV3Schema; the SR-IOV device plugin's
 * README v3.11.0 fields as a JSON schema; Nova's device_spec parses back), and selects exactly the
 * candidate devices: the device plugin's per-node selectors and Nova's device_spec evaluated against
 * each snapshot give back the candidates and nothing else.
 */
class FleetEmitTest {
    private static final YAMLMapper YAML = new YAMLMapper();
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    private static List<FleetSnapshots.Snapshot> fleet(String... names) {
        List<Path> dirs = names.length == 0 ? FleetFixtures.all()
                : List.of(names).stream().map(n -> FleetFixtures.fleet().resolve(n)).toList();
        FleetSnapshots.Loaded l = FleetSnapshots.load(dirs);
        assertThat(l.refusals()).isEmpty();
        return l.snapshots();
    }

    private static Schema schema(String resource, boolean openApi) throws Exception {
        try (InputStream in = FleetEmitTest.class.getResourceAsStream(resource)) {
            JsonNode n = openApi ? YAML.readTree(in).get("openAPIV3Schema") : JSON.readTree(in);
            return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_4).getSchema(JSON.writeValueAsString(n));
        }
    }

    private static List<JsonNode> documents(String yaml) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        try (var it = YAML.readerFor(JsonNode.class).<JsonNode>readValues(yaml)) {
            it.forEachRemaining(out::add);
        }
        return out;
    }

    /** Every candidate of the fleet with the id, as "host address". */
    private static Set<String> candidates(FleetReport r, String id) {
        return r.hosts().stream().flatMap(h -> h.devices().stream().filter(d -> d.candidate() && d.id().equals(id))
                .map(d -> h.name() + " " + d.address())).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void kubevirtValidatesAgainstTheCrdsOfKubevirt184AndPermitsOnlyCandidateIds() throws Exception {
        FleetEmit.Result r = FleetEmit.emit(FleetEmit.Engine.KUBEVIRT, List.of(), fleet(), null);
        assertThat(r.exit()).isZero();
        List<JsonNode> docs = documents(r.stdout());
        Schema kv = schema("/fleet/kubevirt-v1.8.4/kubevirt.openAPIV3Schema.yaml", true);
        Schema vm = schema("/fleet/kubevirt-v1.8.4/virtualmachine.openAPIV3Schema.yaml", true);
        assertThat(docs.get(0).get("kind").asText()).isEqualTo("KubeVirt");
        List<Error> errors = new ArrayList<>(kv.validate(docs.get(0)));
        for (JsonNode d : docs.subList(1, docs.size())) {
            assertThat(d.get("kind").asText()).isEqualTo("VirtualMachine");
            errors.addAll(vm.validate(d));
        }
        assertThat(errors).isEmpty();
        // and the schema does reject what KubeVirt would: a pciHostDevices entry without its resourceName
        JsonNode broken = docs.get(0).deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) broken.at("/spec/configuration/permittedHostDevices/pciHostDevices/0"))
                .remove("resourceName");
        assertThat(kv.validate(broken)).extracting(Error::getMessage).anySatisfy(m -> assertThat(m).contains("resourceName"));
        JsonNode pci = docs.get(0).at("/spec/configuration/permittedHostDevices/pciHostDevices");
        Set<String> selectors = new TreeSet<>();
        pci.forEach(p -> selectors.add(p.get("pciVendorSelector").asText()));
        // the candidate ids of the fleet: SATA/SMBus (chipset group) are never candidates
        assertThat(selectors).containsExactly("1234:1111", "1234:11E8", "1B36:0010", "8086:100E", "8086:10C9",
                "8086:10CA", "8086:10D3");
        pci.forEach(p -> assertThat(p.has("externalResourceProvider")).isEqualTo(p.get("pciVendorSelector").asText().equals("8086:10CA")));
        assertThat(docs.get(0).at("/spec/configuration/developerConfiguration/featureGates").toString()).isEqualTo("[\"HostDevices\"]");
        JsonNode example = docs.stream().filter(d -> d.at("/metadata/name").asText().equals("passthrough-pci-8086-100e")).findFirst().orElseThrow();
        assertThat(example.at("/spec/template/spec/nodeSelector").toString()).isEqualTo("{\"viommu.io/pci_8086_100e\":\"ready\"}");
        assertThat(example.at("/spec/template/spec/domain/devices/hostDevices/0/deviceName").asText()).isEqualTo("viommu.io/pci_8086_100e");
        // cluster-wide selector: the host where 8086:100e is in use is named, with the reason
        assertThat(r.stderr()).anySatisfy(l -> assertThat(l).startsWith("node-inuse: 0000:00:06.0 (8086:100e) left out of"
                + " viommu.io/pci_8086_100e: routing table indicates that interface eth0 is active").contains("pciVendorSelector 8086:100E is cluster-wide: it takes this device if it is ever bound to vfio-pci; leave it on its driver: node-inuse's plan binds only its other 8086:100e devices)"));
        assertThat(r.stderr()).contains("viommu.io/pci_8086_100e: label the nodes that serve it: kubectl label node node-nvme"
                + " node-inuse viommu.io/pci_8086_100e=ready");
        assertThat(r.stderr()).anySatisfy(l -> assertThat(l).startsWith("node-off: left out: the IOMMU is off"));
        assertThat(r.stderr()).anySatisfy(l -> assertThat(l).startsWith("node-noir: left out: interrupt remapping is unsupported"));
    }

    @Test
    void devicePluginSelectsExactlyTheCandidatesOfEachNode() throws Exception {
        List<FleetSnapshots.Snapshot> fleet = fleet();
        FleetEmit.Result r = FleetEmit.emit(FleetEmit.Engine.SRIOV_DEVICE_PLUGIN, FleetEmit.Resource.parseAll(List.of(
                "example.com/igb_vf=8086:10ca", "example.com/e1000=8086:100e", "example.com/nvme=1b36:0010")), fleet, null);
        assertThat(r.exit()).isZero();
        JsonNode cm = YAML.readTree(r.stdout());
        assertThat(cm.get("kind").asText()).isEqualTo("ConfigMap");
        assertThat(cm.at("/metadata/name").asText()).isEqualTo("sriovdp-config");
        Schema schema = schema("/fleet/sriov-dp-v3.11.0/config.schema.json", false);
        FleetReport report = FleetScanner.scan(fleet, "qemu");
        Set<String> selected = new TreeSet<>();
        List<String> nodes = new ArrayList<>();
        cm.get("data").fields().forEachRemaining(e -> nodes.add(e.getKey()));
        assertThat(nodes).containsExactly("node-inuse", "node-nvme", "node-vfs");
        for (String node : nodes) {
            JsonNode config = JSON.readTree(cm.get("data").get(node).asText());
            assertThat(schema.validate(config)).isEmpty();
            FleetReport.Host host = report.hosts().stream().filter(h -> h.name().equals(node)).findFirst().orElseThrow();
            for (JsonNode res : config.get("resourceList")) {
                for (JsonNode sel : res.get("selectors")) {
                    for (FleetReport.Device d : host.devices()) {
                        if (matches(sel, d)) {
                            selected.add(node + " " + d.address());
                        }
                    }
                }
            }
        }
        Set<String> expected = new TreeSet<>(candidates(report, "8086:10ca"));
        expected.addAll(candidates(report, "8086:100e"));
        assertThat(selected).isEqualTo(expected).contains("node-vfs 0000:01:10.0", "node-vfs 0000:01:10.2")
                .doesNotContain("node-inuse 0000:00:06.0");
        JsonNode vfs = JSON.readTree(cm.get("data").get("node-vfs").asText()).at("/resourceList/0");
        assertThat(vfs.get("resourceName").asText()).isEqualTo("igb_vf");
        assertThat(vfs.get("resourcePrefix").asText()).isEqualTo("example.com");
        assertThat(vfs.at("/selectors/0/rootDevices").toString()).isEqualTo("[\"0000:01:00.0#0-1\"]");
        assertThat(vfs.at("/selectors/0/drivers").toString()).isEqualTo("[\"vfio-pci\"]");
        // NVMe is class 01: not something the network device plugin takes
        assertThat(r.stderr()).anySatisfy(l -> assertThat(l).startsWith("node-nvme: 0000:01:00.0 (1b36:0010) left out of"
                + " example.com/nvme: the SR-IOV network device plugin takes network (class 02) and accelerator (class 12)"));
    }

    /** The device plugin's selection (README "Device selectors"), drivers as after the plan (vfio-pci). */
    private static boolean matches(JsonNode sel, FleetReport.Device d) {
        String[] id = d.id().split(":");
        if (sel.has("vendors") && !contains(sel.get("vendors"), id[0]) || sel.has("devices") && !contains(sel.get("devices"), id[1])) {
            return false;
        }
        if (sel.has("pciAddresses") && !contains(sel.get("pciAddresses"), d.address())) {
            return false;
        }
        if (sel.has("rootDevices")) {
            boolean any = false;
            for (JsonNode rd : sel.get("rootDevices")) {
                String[] pf = rd.asText().split("#");
                if (d.physfn() != null && pf[0].equals(d.physfn()) && (pf.length == 1 || inRanges(pf[1], d.vfIndex()))) {
                    any = true;
                }
            }
            return any;
        }
        return true;
    }

    private static boolean inRanges(String ranges, Integer idx) {
        for (String p : ranges.split(",")) {
            String[] lr = p.split("-");
            int lo = Integer.parseInt(lr[0]);
            int hi = lr.length > 1 ? Integer.parseInt(lr[1]) : lo;
            if (idx != null && idx >= lo && idx <= hi) {
                return true;
            }
        }
        return false;
    }

    private static boolean contains(JsonNode list, String v) {
        for (JsonNode n : list) {
            if (n.asText().equals(v)) {
                return true;
            }
        }
        return false;
    }

    @Test
    void novaDeviceSpecsParseBackToTheCandidatesAndAliasesNameTheirType() throws Exception {
        List<FleetSnapshots.Snapshot> fleet = fleet();
        FleetEmit.Result r = FleetEmit.emit(FleetEmit.Engine.NOVA, FleetEmit.Resource.parseAll(List.of(
                "igb_vf=8086:10ca", "e1000=8086:100e", "igb_pf=8086:10c9")), fleet, null);
        assertThat(r.exit()).isZero();
        FleetReport report = FleetScanner.scan(fleet, "libvirt");
        Set<String> specs = new TreeSet<>();
        List<JsonNode> aliases = new ArrayList<>();
        String host = null;
        for (String line : r.stdout().split("\n")) {
            if (line.startsWith("# nova.conf of nova-compute on ")) {
                host = line.substring("# nova.conf of nova-compute on ".length());
            } else if (line.startsWith("device_spec = ")) {
                JsonNode spec = JSON.readTree(line.substring("device_spec = ".length()));
                assertThat(spec.fieldNames()).toIterable().containsExactly("vendor_id", "product_id", "address");
                specs.add(host + " " + spec.get("address").asText());
            } else if (line.startsWith("alias = ")) {
                aliases.add(JSON.readTree(line.substring("alias = ".length())));
            } else {
                assertThat(line).matches("|\\[pci\\]|#.*");
            }
        }
        Set<String> expected = new TreeSet<>(candidates(report, "8086:10ca"));
        expected.addAll(candidates(report, "8086:100e"));
        expected.addAll(candidates(report, "8086:10c9"));
        assertThat(specs).isEqualTo(expected);
        assertThat(aliases).extracting(a -> a.get("name").asText() + " " + a.get("device_type").asText())
                .containsExactly("igb_vf type-VF", "e1000 type-PCI", "igb_pf type-PF");
        assertThat(r.stderr()).contains("viommu.io/igb_vf: a flavor asks for one with: openstack flavor set FLAVOR"
                + " --property \"pci_passthrough:alias\"=igb_vf:1");
    }

    @Test
    void noHostCanServeExitsOneWithNothingOnStdout() {
        FleetEmit.Result r = FleetEmit.emit(FleetEmit.Engine.NOVA, List.of(), fleet("node-off", "node-noir"), null);
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.stdout()).isEmpty();
        assertThat(r.stderr()).contains("no host can serve: nothing to configure");
    }

    @Test
    void anIdNoHostHasIsSaidNotDropped() {
        FleetEmit.Result r = FleetEmit.emit(FleetEmit.Engine.NOVA, FleetEmit.Resource.parseAll(List.of(
                "gpu=10de:1eb8", "vf=8086:10ca")), fleet("node-vfs"), null);
        assertThat(r.exit()).isZero();
        assertThat(r.stderr()).contains("viommu.io/gpu: no host has a 10de:1eb8 device; nothing selects it");
    }

    @Test
    void plansBindExactlyTheSelectedDevicesOfEachHost(@TempDir Path tmp) throws Exception {
        FleetEmit.Result r = FleetEmit.emit(FleetEmit.Engine.KUBEVIRT, FleetEmit.Resource.parseAll(List.of(
                "example.com/e1000=8086:100e")), fleet("node-inuse", "node-nvme", "node-off"), tmp);
        assertThat(r.exit()).isZero();
        try (var s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted()).containsExactly("node-inuse.plan.json", "node-nvme.plan.json");
        }
        JsonNode inuse = JSON.readTree(tmp.resolve("node-inuse.plan.json").toFile());
        assertThat(inuse.get("schema").asText()).isEqualTo("viommu.host-plan/1");
        assertThat(inuse.get("ready").asBoolean()).isTrue();
        assertThat(inuse.get("requested").toString()).isEqualTo("[\"0000:00:07.0\"]");
        JsonNode nvme = JSON.readTree(tmp.resolve("node-nvme.plan.json").toFile());
        // 05.1 and 05.2 share group 4 with the edu at 05.0: the plan takes the whole group
        assertThat(nvme.get("requested").toString()).isEqualTo("[\"0000:00:05.1\",\"0000:00:05.2\"]");
        assertThat(nvme.at("/targets/0/members").findValuesAsText("address")).contains("0000:00:05.0", "0000:00:05.1", "0000:00:05.2");
        assertThat(r.stderr()).contains("node-off: no plan written (it serves none of the resources)");
    }

    @Test
    void resourceArgumentsAreCheckedWithAClearMessage() {
        for (String[] c : new String[][] {
            {"foo", "--resource foo: expected NAME=VENDOR:DEVICE (e.g. example.com/igb_vf=8086:10ca)"},
            {"x=8086", "--resource x=8086: 8086 is not VENDOR:DEVICE (four hex digits each, as lspci -nn shows them)"},
            {"Ex_ample/vf=8086:10ca", "--resource Ex_ample/vf=8086:10ca: prefix Ex_ample is not a DNS subdomain"},
            {"igb-vf=8086:10ca", "--resource igb-vf=8086:10ca: name igb-vf may hold only letters, digits and '_'"},
        }) {
            assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> FleetEmit.Resource.parse(c[0])))
                    .as(c[0]).isInstanceOf(IllegalArgumentException.class).message().startsWith(c[1]);
        }
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> FleetEmit.Resource.parseAll(List.of("a=8086:10ca", "b=8086:10CA"))))
                .message().isEqualTo("--resource b=8086:10CA: 8086:10ca is already resource viommu.io/a; a device can belong to one resource only");
    }
}
