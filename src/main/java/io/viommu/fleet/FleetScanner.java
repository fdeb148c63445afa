package io.viommu.fleet;

import io.viommu.host.BindPlan;
import io.viommu.host.BindPlanner;
import io.viommu.host.HostReader;
import io.viommu.host.HostReport;
import io.viommu.host.HostSnapshot;
import io.viommu.host.HostSnapshot.HostDevice;
import io.viommu.host.PciAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One host at a time, the one-host tooling decides: {@code host scan} ({@link io.viommu.host.HostPlanner})
 * for the IOMMU and interrupt remapping, {@code host plan} ({@link BindPlanner}) per device for
 * whether handing it to vfio-pci would be refused. A device is a candidate when its plan is ready
 * (bound to its own driver now is fine; a routed interface, a mounted disk, the root disk, the
 * console, a group with a chipset function are not) and its host can serve: the IOMMU is on and
 * interrupt remapping is not known to be missing (VFIO's type1 backend refuses the group then,
 * unless allow_unsafe_interrupts is set).
 */
public final class FleetScanner {
    private FleetScanner() {
    }

    public static FleetReport scan(List<FleetSnapshots.Snapshot> snapshots, String use) {
        List<FleetReport.Host> hosts = new ArrayList<>();
        for (FleetSnapshots.Snapshot s : snapshots) {
            hosts.add(host(s, use));
        }
        return new FleetReport(FleetReport.SCHEMA, List.copyOf(hosts), summary(hosts));
    }

    static FleetReport.Host host(FleetSnapshots.Snapshot snap, String use) {
        HostSnapshot s = HostReader.read(snap.tree());
        HostReport r = io.viommu.host.HostPlanner.plan(s);
        List<HostDevice> devices = s.devices().stream().filter(d -> !d.isBridge() && !d.isBridgeClass()).toList();
        List<BindPlan> plans = BindPlanner.planEach(snap.tree(), devices.stream()
                .map(d -> new BindPlanner.Request(List.of(d.address().toString()), use, false, null)).toList());
        List<String> problems = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        List<String> needs = new ArrayList<>();
        BindPlan any = plans.isEmpty() ? null : plans.get(0);
        if (any != null) {
            for (BindPlan.Finding f : any.hostFindings()) {
                if (f.severity() == BindPlan.Severity.BLOCKER) {
                    problems.add(f.what());
                    needs.add(f.what().startsWith("the IOMMU is off") ? "kernel command line: " + f.fix() : f.fix());
                }
            }
        }
        String ir = r.interruptRemapping().state();
        if (r.iommu().enabled() && !r.interruptRemapping().vfioAllowsUnsafe()) {
            String why = String.join("; ", r.interruptRemapping().reasons());
            if (ir.equals("unknown")) {
                notes.add("interrupt remapping not confirmed (" + why + "): VFIO refuses the group without it");
            } else if (!ir.equals("enabled")) {
                problems.add("interrupt remapping is " + ir + " (" + r.interruptRemapping().reasons().get(0) + "): VFIO's"
                        + " type1 backend refuses to attach a group without it");
                needs.add("interrupt remapping: an IOMMU and firmware with it (the DMAR INTR_REMAP flag), or, trusting"
                        + " every VM given a device, vfio_iommu_type1.allow_unsafe_interrupts=1");
            }
        }
        Map<String, String> names = new TreeMap<>();
        r.devices().forEach(x -> names.put(x.address(), x.description()));
        List<FleetReport.Device> out = new ArrayList<>();
        int toBind = 0;
        for (int i = 0; i < devices.size(); i++) {
            HostDevice d = devices.get(i);
            BindPlan p = plans.get(i);
            BindPlan.Target t = p.targets().isEmpty() ? null : p.targets().get(0);
            // the device's own blockers; the host's (problems) are said once, for the host
            List<String> blockers = new ArrayList<>();
            if (t != null) {
                t.findings().stream().filter(f -> f.severity() == BindPlan.Severity.BLOCKER)
                        .filter(f -> problems.isEmpty() || !f.what().startsWith("no IOMMU group"))
                        .forEach(f -> blockers.add(f.what()));
            }
            boolean candidate = problems.isEmpty() && blockers.isEmpty() && p.ready();
            if (candidate && !"vfio-pci".equals(d.driver())) {
                toBind++;
            }
            out.add(device(s, d, t, names.get(d.address().toString()), candidate, List.copyOf(blockers)));
            if (d.sriov() != null && d.sriov().totalVfs() > 0 && d.sriov().numVfs() == 0 && d.physfn() == null) {
                needs.add("sriov_numvfs: " + d.address() + " (" + names.get(d.address().toString()) + ") has no VFs, up to " + d.sriov().totalVfs() + ": " + (d.driver() == null ? "load its PF driver, then " : "")
                        + "viommu host plan " + d.address() + " --vfs N");
            }
        }
        if (toBind > 0) {
            needs.add("binding: " + toBind + " candidate(s) to vfio-pci (the plan: viommu host plan DEVICE..., or"
                    + " viommu fleet emit --plans DIR)");
        }
        String iommu = r.iommu().enabled() ? "on" + (r.iommu().vendor() == null ? "" : " (" + r.iommu().vendor() + ")")
                : "off: " + r.iommu().cause();
        boolean serves = out.stream().anyMatch(FleetReport.Device::candidate);
        return new FleetReport.Host(snap.name(), snap.dir().toString(), iommu, ir, serves, List.copyOf(problems),
                List.copyOf(notes), List.copyOf(needs), List.copyOf(out));
    }

    private static FleetReport.Device device(HostSnapshot s, HostDevice d, BindPlan.Target t, String description,
                                             boolean candidate,
                                             List<String> blockers) {
        String id = String.format("%04x:%04x", d.vendor() & 0xffff, d.device() & 0xffff);
        String kind = d.physfn() != null ? "VF" : d.sriov() != null && d.sriov().totalVfs() > 0 ? "PF" : "function";
        Integer vfIndex = null;
        List<String> pfInterfaces = List.of();
        if (d.physfn() != null) {
            HostDevice pf = s.device(d.physfn()).orElse(null);
            if (pf != null) {
                int idx = pf.virtfns().indexOf(d.address());
                vfIndex = idx < 0 ? null : idx;
                pfInterfaces = interfaces(s, pf.address());
            }
        }
        String isolation;
        if (d.group() == null) {
            isolation = "no IOMMU group";
        } else {
            List<String> with = t == null ? List.of() : t.members().stream().map(BindPlan.Member::address)
                    .filter(a -> !a.equals(d.address().toString())).toList();
            isolation = with.isEmpty() ? "alone in group " + d.group() : "group " + d.group() + " with " + String.join(", ", with);
        }
        return new FleetReport.Device(d.address().toString(), id, String.format("0x%06x", d.classCode()),
                description, kind,
                d.physfn() == null ? null : d.physfn().toString(), vfIndex, pfInterfaces, d.driver(), d.group(),
                isolation, candidate, blockers);
    }

    /** The interfaces of a function, from /sys/class/net links (kept in snapshots), by name. */
    private static List<String> interfaces(HostSnapshot s, PciAddress a) {
        return s.devices().stream().filter(x -> x.address().equals(a)).flatMap(x -> x.hostUses().stream())
                .filter(u -> u.startsWith("network interface ")).map(u -> u.substring("network interface ".length()).split(" ")[0])
                .toList();
    }

    static List<FleetReport.Kind> summary(List<FleetReport.Host> hosts) {
        Map<String, List<Object[]>> byKind = new TreeMap<>();
        for (FleetReport.Host h : hosts) {
            for (FleetReport.Device d : h.devices()) {
                byKind.computeIfAbsent(d.id() + " " + d.kind(), k -> new ArrayList<>()).add(new Object[] {h, d});
            }
        }
        List<FleetReport.Kind> out = new ArrayList<>();
        for (List<Object[]> rows : byKind.values()) {
            FleetReport.Device first = (FleetReport.Device) rows.get(0)[1];
            Map<String, Integer> on = new LinkedHashMap<>();
            Map<String, String> blocked = new LinkedHashMap<>();
            Map<String, Integer> bind = new LinkedHashMap<>();
            int n = 0;
            for (Object[] row : rows) {
                FleetReport.Host h = (FleetReport.Host) row[0];
                FleetReport.Device d = (FleetReport.Device) row[1];
                if (d.candidate()) {
                    n++;
                    on.merge(h.name(), 1, Integer::sum);
                    if (!"vfio-pci".equals(d.driver())) {
                        bind.merge(h.name(), 1, Integer::sum);
                    }
                } else {
                    blocked.putIfAbsent(h.name(), !h.problems().isEmpty() ? h.problems().get(0)
                            : d.blockers().isEmpty() ? "not ready" : d.blockers().get(0));
                }
            }
            out.add(new FleetReport.Kind(first.id(), first.description(), first.kind(), n, on, blocked, bind));
        }
        return List.copyOf(out);
    }
}
