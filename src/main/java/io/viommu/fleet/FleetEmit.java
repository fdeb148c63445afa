package io.viommu.fleet;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.viommu.fleet.EngineModels.DpConfig;
import io.viommu.fleet.EngineModels.DpResource;
import io.viommu.fleet.EngineModels.DpSelector;
import io.viommu.host.BindPlan;
import io.viommu.host.BindPlanner;
import io.viommu.host.HostReportJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * {@code viommu fleet emit}: the candidates of a fleet ({@link FleetScanner}) as the configuration an
 * engine reads, on stdout; what is left out, and why, as lines for stderr. Only candidates are selected:
 * where the engine's selector is per host (the device plugin's per-node config.json with
 * {@code pciAddresses}/{@code rootDevices}/{@code pfNames}, Nova's per-host {@code device_spec}) it
 * names only them; where it is cluster-wide (KubeVirt's {@code pciVendorSelector}, which matches any
 * device with those ids that is bound to vfio-pci), safety comes from binding vfio-pci only on hosts
 * that serve (the per-host plans of {@code --plans} bind exactly the candidates) and from a node label
 * the emitted VirtualMachine selects on; hosts where the same vendor:device is unsafe are named.
 */
public final class FleetEmit {
    public enum Engine {
        KUBEVIRT("kubevirt"), SRIOV_DEVICE_PLUGIN("sriov-device-plugin"), NOVA("nova");

        public final String word;

        Engine(String word) {
            this.word = word;
        }

        public static Engine parse(String s) {
            for (Engine e : values()) {
                if (e.word.equals(s)) {
                    return e;
                }
            }
            return null;
        }
    }

    /**
     * One resource: a name and the vendor:device it selects.
     *
     * @param prefix  the Kubernetes resource prefix (a DNS subdomain), "viommu.io" by default
     * @param name    the name under the prefix: letters, digits and '_' (the device plugin allows no other)
     * @param id      vvvv:dddd, lower case
     */
    public record Resource(String prefix, String name, String id) {
        public static final String DEFAULT_PREFIX = "viommu.io";

        public String fullName() {
            return prefix + "/" + name;
        }

        static Resource byDefault(String id) {
            return new Resource(DEFAULT_PREFIX, "pci_" + id.replace(':', '_'), id);
        }

        /** NAME=VENDOR:DEVICE as given to --resource; a clear message for anything else. */
        public static Resource parse(String arg) {
            int eq = arg.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("--resource " + arg + ": expected NAME=VENDOR:DEVICE (e.g."
                        + " example.com/igb_vf=8086:10ca)");
            }
            String full = arg.substring(0, eq);
            String id = arg.substring(eq + 1).toLowerCase(Locale.ROOT);
            if (!id.matches("[0-9a-f]{4}:[0-9a-f]{4}")) {
                throw new IllegalArgumentException("--resource " + arg + ": " + arg.substring(eq + 1)
                        + " is not VENDOR:DEVICE (four hex digits each, as lspci -nn shows them)");
            }
            int slash = full.lastIndexOf('/');
            String prefix = slash < 0 ? DEFAULT_PREFIX : full.substring(0, slash);
            String name = full.substring(slash + 1);
            if (!prefix.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")) {
                throw new IllegalArgumentException("--resource " + arg + ": prefix " + prefix + " is not a DNS subdomain"
                        + " (lower-case letters, digits, '-' and '.'), which a Kubernetes resource name needs");
            }
            if (!name.matches("[A-Za-z0-9_]{1,63}")) {
                throw new IllegalArgumentException("--resource " + arg + ": name " + name + " may hold only letters,"
                        + " digits and '_' (at most 63): the SR-IOV device plugin refuses special characters, hyphens"
                        + " included, and it is also a node label's name");
            }
            return new Resource(prefix, name, id);
        }

        public static List<Resource> parseAll(List<String> args) {
            List<Resource> out = new ArrayList<>();
            for (String a : args) {
                Resource r = parse(a);
                for (Resource o : out) {
                    if (o.id.equals(r.id)) {
                        throw new IllegalArgumentException("--resource " + a + ": " + r.id + " is already resource "
                                + o.fullName() + "; a device can belong to one resource only");
                    }
                    if (o.fullName().equals(r.fullName())) {
                        throw new IllegalArgumentException("--resource " + a + ": the name " + r.fullName()
                                + " is given twice");
                    }
                }
                out.add(r);
            }
            return List.copyOf(out);
        }
    }

    /** stdout, the stderr lines (without the command's prefix), the exit status. */
    public record Result(String stdout, List<String> stderr, int exit) {
    }

    static final String NODE_LABEL_PREFIX = "viommu.io/";
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private static final YAMLMapper YAML = YAMLMapper.builder()
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .disable(YAMLGenerator.Feature.SPLIT_LINES)
            .build();

    private FleetEmit() {
    }

    public static ObjectMapper yaml() {
        return YAML;
    }

    public static Result emit(Engine engine, List<Resource> given, List<FleetSnapshots.Snapshot> snapshots, Path plansDir) {
        String use = engine == Engine.NOVA ? "libvirt" : "qemu";
        FleetReport report = FleetScanner.scan(snapshots, use);
        List<String> err = new ArrayList<>();
        List<Resource> resources = new ArrayList<>(given);
        if (given.isEmpty()) {
            report.hosts().stream().flatMap(h -> h.devices().stream()).filter(FleetReport.Device::candidate)
                    .map(FleetReport.Device::id).distinct().sorted().map(Resource::byDefault).forEach(resources::add);
        }
        for (FleetReport.Host h : report.hosts()) {
            if (!h.problems().isEmpty()) {
                err.add(h.name() + ": left out: " + String.join("; ", h.problems()));
            }
            h.notes().forEach(n -> err.add(h.name() + ": note: " + n));
        }
        // resource -> host -> selected devices (candidates with the resource's ids that the engine can take)
        Map<Resource, Map<FleetReport.Host, List<FleetReport.Device>>> selected = new LinkedHashMap<>();
        for (Resource r : resources) {
            Map<FleetReport.Host, List<FleetReport.Device>> perHost = new LinkedHashMap<>();
            boolean anywhere = false;
            for (FleetReport.Host h : report.hosts()) {
                for (FleetReport.Device d : h.devices()) {
                    if (!d.id().equals(r.id())) {
                        continue;
                    }
                    anywhere = true;
                    String engineRefusal = engineRefusal(engine, d);
                    if (engineRefusal != null) {
                        err.add(h.name() + ": " + d.address() + " (" + d.id() + ") left out of " + r.fullName() + ": " + engineRefusal);
                    } else if (!d.candidate()) {
                        if (h.problems().isEmpty()) {
                            err.add(h.name() + ": " + d.address() + " (" + d.id() + ") left out of " + r.fullName() + ": "
                                    + String.join("; ", d.blockers()) + (engine == Engine.KUBEVIRT ? unsafeNote(r, h) : ""));
                        }
                    } else {
                        perHost.computeIfAbsent(h, k -> new ArrayList<>()).add(d);
                    }
                }
            }
            if (!anywhere) {
                err.add(r.fullName() + ": no host has a " + r.id() + " device; nothing selects it");
            } else if (perHost.isEmpty()) {
                err.add(r.fullName() + ": no host can serve " + r.id());
            }
            if (!perHost.isEmpty()) {
                selected.put(r, perHost);
            }
        }
        for (FleetReport.Host h : report.hosts()) {
            if (h.problems().isEmpty() && selected.values().stream().noneMatch(m -> m.containsKey(h))) {
                err.add(h.name() + ": serves none of the resources");
            }
        }
        if (selected.isEmpty()) {
            err.add("no host can serve: nothing to configure");
            return new Result("", err, 1);
        }
        String out;
        try {
            out = switch (engine) {
                case KUBEVIRT -> kubevirt(selected, err);
                case SRIOV_DEVICE_PLUGIN -> devicePlugin(selected, report, err);
                case NOVA -> nova(selected, report, err);
            };
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the configuration", e);
        }
        if (plansDir != null) {
            String failed = writePlans(plansDir, selected, snapshots, use, err);
            if (failed != null) {
                err.add(failed);
                return new Result(out, err, 2);
            }
        }
        return new Result(out, err, 0);
    }

    /** Why the engine itself cannot take a device, or null. */
    private static String engineRefusal(Engine engine, FleetReport.Device d) {
        if (engine != Engine.SRIOV_DEVICE_PLUGIN) {
            return null;
        }
        int base = Integer.parseInt(d.classCode().substring(2, 4), 16);
        if (base != 0x02 && base != 0x12) {
            return "the SR-IOV network device plugin takes network (class 02) and accelerator (class 12) devices only,"
                    + " this is class " + d.classCode() + " (" + d.description() + ")";
        }
        return null;
    }

    private static String unsafeNote(Resource r, FleetReport.Host h) {
        boolean servesOthers = h.devices().stream().anyMatch(d -> d.candidate() && d.id().equals(r.id()));
        return " (pciVendorSelector " + selector(r.id()) + " is cluster-wide: it takes this device if it is ever bound"
                + " to vfio-pci; leave it on its driver" + (servesOthers ? ": " + h.name() + "'s plan binds only its other "
                + r.id() + " devices" : ", and do not label " + h.name() + " " + label(r) + "=ready") + ")";
    }

    static String selector(String id) {
        return id.toUpperCase(Locale.ROOT);
    }

    static String label(Resource r) {
        return NODE_LABEL_PREFIX + r.name();
    }

    // ------------------------------------------------------------------ KubeVirt

    private static String kubevirt(Map<Resource, Map<FleetReport.Host, List<FleetReport.Device>>> selected,
                                   List<String> err) throws JsonProcessingException {
        List<EngineModels.PciHostDevice> pci = new ArrayList<>();
        List<GenericKubernetesResource> vms = new ArrayList<>();
        for (Map.Entry<Resource, Map<FleetReport.Host, List<FleetReport.Device>>> e : selected.entrySet()) {
            Resource r = e.getKey();
            boolean vfs = e.getValue().values().stream().flatMap(List::stream).allMatch(d -> d.kind().equals("VF"));
            pci.add(new EngineModels.PciHostDevice(selector(r.id()), r.fullName(), vfs ? Boolean.TRUE : null));
            if (vfs) {
                err.add(r.fullName() + ": VFs, allocated by the SR-IOV network device plugin (externalResourceProvider:"
                        + " true): configure it with --for sriov-device-plugin and the same --resource");
            }
            err.add(r.fullName() + ": label the nodes that serve it: kubectl label node "
                    + e.getValue().keySet().stream().map(FleetReport.Host::name).collect(Collectors.joining(" "))
                    + " " + label(r) + "=ready");
            String vmName = "passthrough-" + r.name().toLowerCase(Locale.ROOT).replace('_', '-');
            EngineModels.VirtualMachineSpec spec = new EngineModels.VirtualMachineSpec("Halted",
                    new EngineModels.VmiTemplate(Map.of("labels", Map.of("kubevirt.io/vm", vmName)),
                            new EngineModels.VmiSpec(Map.of(label(r), "ready"), new EngineModels.Domain(
                                    new EngineModels.Devices(List.of(new EngineModels.HostDevice("dev0", r.fullName()))),
                                    new EngineModels.ResourceRequirements(Map.of("memory", "1Gi"))))));
            vms.add(new GenericKubernetesResourceBuilder().withApiVersion("kubevirt.io/v1").withKind("VirtualMachine")
                    .withNewMetadata().withName(vmName).endMetadata()
                    .withAdditionalProperties(Map.of("spec", spec)).build());
        }
        GenericKubernetesResource kv = new GenericKubernetesResourceBuilder().withApiVersion("kubevirt.io/v1")
                .withKind("KubeVirt").withNewMetadata().withName("kubevirt").withNamespace("kubevirt").endMetadata()
                .withAdditionalProperties(Map.of("spec", new EngineModels.KubeVirtSpec(new EngineModels.KubeVirtConfiguration(
                        new EngineModels.DeveloperConfiguration(List.of("HostDevices")),
                        new EngineModels.PermittedHostDevices(List.copyOf(pci))))))
                .build();
        err.add("merge spec.configuration into the cluster's KubeVirt CR (kubectl edit kubevirt -n kubevirt kubevirt);"
                + " the VirtualMachines are examples");
        StringBuilder sb = new StringBuilder(YAML.writeValueAsString(kv));
        for (GenericKubernetesResource vm : vms) {
            sb.append(YAML.writeValueAsString(vm));
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ SR-IOV network device plugin

    private static String devicePlugin(Map<Resource, Map<FleetReport.Host, List<FleetReport.Device>>> selected,
                                       FleetReport report, List<String> err) throws JsonProcessingException {
        Map<String, String> data = new TreeMap<>();
        for (FleetReport.Host h : report.hosts()) {
            List<DpResource> list = new ArrayList<>();
            for (Map.Entry<Resource, Map<FleetReport.Host, List<FleetReport.Device>>> e : selected.entrySet()) {
                List<FleetReport.Device> ds = e.getValue().get(h);
                if (ds == null) {
                    continue;
                }
                Resource r = e.getKey();
                String[] vd = r.id().split(":");
                List<String> pciAddresses = new ArrayList<>();
                Map<String, List<Integer>> byPf = new TreeMap<>();
                Map<String, List<String>> pfIfaces = new TreeMap<>();
                for (FleetReport.Device d : ds) {
                    if (d.kind().equals("VF") && d.physfn() != null && d.vfIndex() != null) {
                        byPf.computeIfAbsent(d.physfn(), k -> new ArrayList<>()).add(d.vfIndex());
                        pfIfaces.put(d.physfn(), d.pfInterfaces());
                    } else {
                        pciAddresses.add(d.address());
                    }
                }
                List<DpSelector> selectors = new ArrayList<>();
                if (!pciAddresses.isEmpty()) {
                    selectors.add(new DpSelector(List.of(vd[0]), List.of(vd[1]), List.of("vfio-pci"), pciAddresses,
                            List.of(), List.of()));
                }
                for (Map.Entry<String, List<Integer>> pf : byPf.entrySet()) {
                    String range = ranges(pf.getValue());
                    List<String> names = pfIfaces.getOrDefault(pf.getKey(), List.of()).stream().map(n -> n + "#" + range).toList();
                    selectors.add(new DpSelector(List.of(vd[0]), List.of(vd[1]), List.of("vfio-pci"), List.of(), names,
                            List.of(pf.getKey() + "#" + range)));
                }
                boolean accel = ds.stream().allMatch(d -> d.classCode().startsWith("0x12"));
                list.add(new DpResource(r.name(), r.prefix(), accel ? "accelerator" : "netDevice", selectors));
            }
            if (!list.isEmpty()) {
                data.put(h.name(), JSON.writeValueAsString(new DpConfig(list)));
            }
        }
        ConfigMap cm = new ConfigMapBuilder().withNewMetadata().withName("sriovdp-config").withNamespace("kube-system")
                .endMetadata().withData(data).build();
        err.add("one config.json per node, keyed by node name: run the device plugin with"
                + " --config-file=/etc/pcidp/$(NODE_NAME) (its docs/config-file layout)");
        return YAML.writeValueAsString(cm);
    }

    /** VF indices as the device plugin's "#" syntax: 0-2,5. */
    static String ranges(List<Integer> idx) {
        List<Integer> s = idx.stream().sorted().distinct().toList();
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < s.size(); ) {
            int j = i;
            while (j + 1 < s.size() && s.get(j + 1) == s.get(j) + 1) {
                j++;
            }
            parts.add(i == j ? String.valueOf(s.get(i)) : s.get(i) + "-" + s.get(j));
            i = j + 1;
        }
        return String.join(",", parts);
    }

    // ------------------------------------------------------------------ Nova

    private static String nova(Map<Resource, Map<FleetReport.Host, List<FleetReport.Device>>> selected,
                               FleetReport report, List<String> err) throws JsonProcessingException {
        StringBuilder sb = new StringBuilder();
        sb.append("# nova.conf of nova-api, and of every nova-compute (move operations need the aliases there too)\n[pci]\n");
        for (Map.Entry<Resource, Map<FleetReport.Host, List<FleetReport.Device>>> e : selected.entrySet()) {
            Resource r = e.getKey();
            String[] vd = r.id().split(":");
            String kind = e.getValue().values().stream().flatMap(List::stream).map(FleetReport.Device::kind)
                    .distinct().reduce((a, b) -> a.equals(b) ? a : "mixed").orElse("function");
            String type = switch (kind) {
                case "VF" -> "type-VF";
                case "PF" -> "type-PF";
                default -> "type-PCI";
            };
            sb.append("alias = ").append(JSON.writeValueAsString(new EngineModels.NovaAlias(r.name(), vd[0], vd[1], type)))
                    .append('\n');
            err.add(r.fullName() + ": a flavor asks for one with: openstack flavor set FLAVOR --property"
                    + " \"pci_passthrough:alias\"=" + r.name() + ":1");
        }
        for (FleetReport.Host h : report.hosts()) {
            List<String> lines = new ArrayList<>();
            for (Map.Entry<Resource, Map<FleetReport.Host, List<FleetReport.Device>>> e : selected.entrySet()) {
                String[] vd = e.getKey().id().split(":");
                for (FleetReport.Device d : e.getValue().getOrDefault(h, List.of())) {
                    lines.add("device_spec = " + JSON.writeValueAsString(new EngineModels.NovaDeviceSpec(vd[0], vd[1], d.address())));
                }
            }
            if (!lines.isEmpty()) {
                sb.append("\n# nova.conf of nova-compute on ").append(h.name()).append("\n[pci]\n");
                lines.forEach(l -> sb.append(l).append('\n'));
            }
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ plans

    private static String writePlans(Path dir, Map<Resource, Map<FleetReport.Host, List<FleetReport.Device>>> selected,
                                     List<FleetSnapshots.Snapshot> snapshots, String use, List<String> err) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            return "--plans " + dir + ": cannot create the directory: " + e.getMessage();
        }
        for (FleetSnapshots.Snapshot s : snapshots) {
            List<String> devices = selected.values().stream().flatMap(m -> m.entrySet().stream())
                    .filter(e -> e.getKey().name().equals(s.name())).flatMap(e -> e.getValue().stream())
                    .map(FleetReport.Device::address).sorted().toList();
            if (devices.isEmpty()) {
                err.add(s.name() + ": no plan written (it serves none of the resources)");
                continue;
            }
            BindPlan plan = BindPlanner.plan(s.tree(), new BindPlanner.Request(devices, use, false, null));
            Path file = dir.resolve(s.name() + ".plan.json");
            try {
                Files.writeString(file, HostReportJson.mapper().writeValueAsString(plan) + "\n");
            } catch (IOException e) {
                return "--plans: cannot write " + file + ": " + e.getMessage();
            }
            err.add(s.name() + ": wrote " + file + " (" + devices.size() + " device(s)" + (plan.ready() ? "" : ", NOT ready:"
                    + " see viommu host plan") + "); apply it on " + s.name() + " with: viommu host apply " + file.getFileName()
                    + " --yes");
        }
        return null;
    }
}
