package io.viommu.cli;

import io.viommu.fleet.FleetEmit;
import io.viommu.fleet.FleetReport;
import io.viommu.fleet.FleetScanner;
import io.viommu.fleet.FleetSnapshots;
import io.viommu.fleet.FleetText;
import io.viommu.host.HostReportJson;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code viommu fleet scan|emit}: many hosts' snapshots, summed up and handed to KubeVirt, the SR-IOV device plugin, Nova. */
@Command(name = "fleet", mixinStandardHelpOptions = true,
        description = "Check many hosts' snapshots (viommu host snapshot, or boot --sysfs-export trees) for device"
                + " assignment, and write the configuration KubeVirt, the SR-IOV network device plugin and OpenStack"
                + " Nova read.",
        subcommands = {FleetCommand.Scan.class, FleetCommand.Emit.class})
final class FleetCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The snapshots, or null after printing each refusal (file and what is wrong). */
    static List<FleetSnapshots.Snapshot> load(String who, List<Path> dirs) {
        FleetSnapshots.Loaded l = FleetSnapshots.load(dirs);
        if (!l.ok()) {
            l.refusals().forEach(r -> System.err.println(who + ": " + r));
            System.err.println(who + ": refused: " + l.refusals().size() + " problem(s) in the snapshots; nothing read");
            return null;
        }
        return l.snapshots();
    }

    @Command(name = "scan", mixinStandardHelpOptions = true,
            description = {"One table of every host's devices (vendor:device, PF or VF, driver now, group isolation,"
                    + " blockers), and the fleet-wide summary: how many assignable devices of each kind on which hosts,"
                    + " and what each host needs (kernel command line, sriov_numvfs, binding) before it can serve.",
                    "The node name of a host is its snapshot directory's name. Reads only.",
                    "Exit status: 0 at least one host can serve, 1 none can, 2 usage error or a refused snapshot."})
    static final class Scan implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "SNAPSHOT", description = "Snapshot directories, one per host.")
        List<Path> snapshots;

        @Option(names = "--json", description = "The same data as JSON (schema viommu.fleet-scan/1).")
        boolean json;

        @Override
        public Integer call() throws Exception {
            List<FleetSnapshots.Snapshot> s = load("viommu fleet scan", snapshots);
            if (s == null) {
                return 2;
            }
            FleetReport r = FleetScanner.scan(s, "qemu");
            System.out.print(json ? HostReportJson.mapper().writeValueAsString(r) + "\n" : FleetText.format(r));
            return r.hosts().stream().anyMatch(FleetReport.Host::serves) ? 0 : 1;
        }
    }

    @Command(name = "emit", mixinStandardHelpOptions = true,
            description = {"Print on stdout the configuration an engine reads, selecting only devices that are assignable"
                    + " once their host's plan is applied; hosts and devices left out, and why, go to stderr.",
                    "kubevirt: the KubeVirt CR's permittedHostDevices.pciHostDevices and a VirtualMachine example"
                            + " per resource (YAML); sriov-device-plugin: the sriovdp-config ConfigMap with one"
                            + " config.json per node (its --config-file=/etc/pcidp/$(NODE_NAME) layout); nova: nova.conf"
                            + " [pci] alias lines for nova-api and device_spec lines per compute host.",
                    "Exit status: 0 at least one host can serve, 1 none can, 2 usage error or a refused snapshot."})
    static final class Emit implements Callable<Integer> {
        @Option(names = "--for", required = true, paramLabel = "ENGINE",
                description = "kubevirt, sriov-device-plugin or nova.")
        String engine;

        @Option(names = "--resource", paramLabel = "NAME=VENDOR:DEVICE",
                description = "A resource to emit (repeatable): its name (prefix/name, e.g. example.com/igb_vf) and the"
                        + " devices it selects. Default: one resource per vendor:device that is a candidate anywhere,"
                        + " named viommu.io/pci_VVVV_DDDD.")
        List<String> resources = List.of();

        @Option(names = "--plans", paramLabel = "DIR",
                description = "Also write DIR/NODE.plan.json per host that serves: the viommu host plan (PLAN.json for"
                        + " `viommu host apply`) binding exactly that host's selected devices to vfio-pci.")
        Path plans;

        @Parameters(arity = "1..*", paramLabel = "SNAPSHOT", description = "Snapshot directories, one per host.")
        List<Path> snapshots;

        @Override
        public Integer call() {
            String who = "viommu fleet emit";
            FleetEmit.Engine e = FleetEmit.Engine.parse(engine);
            if (e == null) {
                System.err.println(who + ": --for " + engine + ": not an engine; one of kubevirt, sriov-device-plugin, nova");
                return 2;
            }
            List<FleetEmit.Resource> rs;
            try {
                rs = FleetEmit.Resource.parseAll(resources);
            } catch (IllegalArgumentException x) {
                System.err.println(who + ": " + x.getMessage());
                return 2;
            }
            List<FleetSnapshots.Snapshot> s = load(who, snapshots);
            if (s == null) {
                return 2;
            }
            FleetEmit.Result r = FleetEmit.emit(e, rs, s, plans);
            r.stderr().forEach(l -> System.err.println(who + ": " + l));
            System.out.print(r.stdout());
            return r.exit();
        }
    }
}
