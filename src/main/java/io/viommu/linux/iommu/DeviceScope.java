package io.viommu.linux.iommu;

import io.viommu.linux.acpi.DmarTable;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.Optional;

/**
 * The device scopes of DMAR structures as the intel-iommu driver resolves them
 * (drivers/iommu/intel/dmar.c, Linux 6.1): a scope names a PCI device by its start bus and a
 * path of (device, function) hops through bridges; the driver keeps the devices that exist
 * ("active" scope devices) and asks whether a device is one of them or sits below one that is
 * a bridge.
 */
public final class DeviceScope {
    private DeviceScope() {
    }

    /**
     * dmar_insert_dev_scope / dmar_match_pci_path: the device a PCI scope (endpoint or bridge)
     * names, if it exists: start at {@code startBus}, follow each hop's secondary bus. An endpoint
     * scope that names a bridge or a bridge scope that names an endpoint is not inserted (Linux
     * warns "Device scope type does not match"). VFs are never scope devices
     * (dmar_pci_bus_notifier ignores them).
     */
    public static Optional<Topology.Function> resolve(Topology topology, DmarTable.Scope scope) {
        if (scope.type() != DmarTable.SCOPE_ENDPOINT && scope.type() != DmarTable.SCOPE_BRIDGE
                || scope.path().isEmpty()) {
            return Optional.empty();
        }
        int bus = scope.startBus();
        Topology.Function f = null;
        for (int i = 0; i < scope.path().size(); i++) {
            int[] hop = scope.path().get(i);
            if (i > 0) {
                if (!f.isBridge()) {
                    return Optional.empty();
                }
                bus = f.secondaryBus();
            }
            f = topology.function(RequesterId.of(bus, hop[0] << 3 | hop[1])).orElse(null);
            if (f == null || f.virtualFunction()) {
                return Optional.empty();
            }
        }
        boolean bridge = f.isBridge();
        if (bridge != (scope.type() == DmarTable.SCOPE_BRIDGE)) {
            return Optional.empty();
        }
        return Optional.of(f);
    }

    /**
     * is_downstream_to_pci_bridge: {@code bridge}'s secondary..subordinate bus range holds
     * {@code dev}'s bus.
     */
    public static boolean downstreamOf(Topology.Function dev, Topology.Function bridge) {
        return bridge.isBridge() && bridge.secondaryBus() <= dev.rid().bus() && bridge.subordinateBus() >= dev.rid().bus();
    }

    /**
     * The test both the DRHD lookup and the RMRR lookup apply to every active scope device
     * {@code i_dev}: {@code i_dev == dev || is_downstream_to_pci_bridge(dev, i_dev)}.
     */
    public static boolean names(Topology topology, DmarTable.Structure s, Topology.Function dev) {
        for (DmarTable.Scope sc : s.scopes()) {
            Optional<Topology.Function> d = resolve(topology, sc);
            if (d.isPresent() && (d.get().rid().equals(dev.rid()) || downstreamOf(dev, d.get()))) {
                return true;
            }
        }
        return false;
    }

    /**
     * dmar_find_matched_drhd_unit: a VF is looked up through its PF; a DRHD with INCLUDE_PCI_ALL
     * covers every device, else its scope must name the device or a bridge above it.
     */
    public static boolean drhdCovers(Topology topology, DmarTable.Structure drhd, Topology.Function dev) {
        Topology.Function d = dev;
        if (d.virtualFunction() && d.physicalFunction() != null) {
            d = topology.function(d.physicalFunction()).orElse(d);
        }
        return (drhd.flags() & DmarTable.DRHD_INCLUDE_PCI_ALL) != 0 || names(topology, drhd, d);
    }
}
