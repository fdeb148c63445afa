package io.viommu.fleet;

import java.util.List;
import java.util.Map;

/**
 * What {@code viommu fleet scan} found: per host, per device, whether it can be handed to a VM once
 * that host's plan is applied (a candidate), and the fleet-wide sums. The {@code --json} document
 * (schema {@value #SCHEMA}) is these records field by field. Documented in docs/fleet.md.
 */
public record FleetReport(String schema, List<Host> hosts, List<Kind> summary) {
    public static final String SCHEMA = "viommu.fleet-scan/1";

    /**
     * @param name     the node name: the snapshot directory's name
     * @param iommu    "on (intel)", or "off: CAUSE"
     * @param interruptRemapping the scan's state: enabled, disabled, unsupported, unavailable, unknown
     * @param serves   at least one device is a candidate
     * @param problems why the host as a whole cannot serve (empty when it can)
     * @param notes    what holds for the host but does not stop it (interrupt remapping not confirmed)
     * @param needs    what must be done before it can serve: kernel command line, sriov_numvfs, binding
     */
    public record Host(String name, String snapshot, String iommu, String interruptRemapping, boolean serves,
                       List<String> problems, List<String> notes, List<String> needs, List<Device> devices) {
    }

    /**
     * One PCI function that is not a bridge or chipset function.
     *
     * @param kind       "PF" (SR-IOV capable), "VF", or "function"
     * @param physfn     the PF of a VF, else null
     * @param vfIndex    the VF's index under its PF (virtfnN), else null
     * @param pfInterfaces the network interfaces of a VF's PF (the device plugin's pfNames)
     * @param isolation  "alone in group N", "group N with A, B" (what must go with it), "no IOMMU group"
     * @param candidate  assignable once the host's plan is applied: no blocker for the host or the device
     * @param blockers   why not, one line each (empty for a candidate)
     */
    public record Device(String address, String id, String classCode, String description, String kind, String physfn,
                         Integer vfIndex, List<String> pfInterfaces, String driver, Integer group, String isolation,
                         boolean candidate, List<String> blockers) {
    }

    /**
     * The fleet-wide view of one vendor:device and kind.
     *
     * @param candidates  how many are candidates, all hosts together
     * @param onHosts     host name to its number of candidates
     * @param blockedOn   host name to why its devices of this kind are not candidates (first reason)
     * @param toBind      host name to how many candidates are not yet on vfio-pci
     */
    public record Kind(String id, String description, String kind, int candidates, Map<String, Integer> onHosts,
                       Map<String, String> blockedOn, Map<String, Integer> toBind) {
    }
}
