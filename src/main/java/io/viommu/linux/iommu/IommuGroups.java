package io.viommu.linux.iommu;

import io.viommu.linux.driver.AcsCheck;
import io.viommu.linux.driver.DmaAliases;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * IOMMU groups as Linux 6.1 forms them for PCI devices: {@code pci_device_group}
 * (drivers/iommu/iommu.c) run for one device at a time, in the order devices are probed
 * (at boot: the enumeration order, {@link Topology#functions()}; later: as devices appear, e.g.
 * VFs), and group ids from an IDA: the lowest free id from 0, freed when a group empties.
 *
 * <p>For device D ({@link #add}):
 * <ol>
 * <li>Walk D's DMA aliases ({@link DmaAliases#walk}); the first alias device that already has
 *     a group gives D that group. Otherwise continue from the last (topmost) alias device P.</li>
 * <li>From P's bus toward the root: skip buses without a bridge; stop at the first bridge B
 *     whose ACS path to the root is enabled for REQ_ACS_FLAGS ({@code pci_acs_path_enabled});
 *     otherwise P := B and, if B has a group, D joins it.</li>
 * <li>get_pci_alias_group(P): P's own group, or a DMA-alias sibling's on P's bus (recursively,
 *     each devfn visited once).</li>
 * <li>get_pci_function_alias_group(P): if P is multifunction and not ACS-isolated, the group
 *     of another non-isolated function in the same slot (or of its aliases).</li>
 * <li>Else a new group.</li>
 * </ol>
 */
public final class IommuGroups {
    private final AcsCheck acs;
    private final Map<RequesterId, IommuGroup> byDevice = new HashMap<>();
    private final TreeMap<Integer, IommuGroup> byId = new TreeMap<>();
    private final BitSet ida = new BitSet();

    public IommuGroups(AcsCheck acs) {
        this.acs = acs;
    }

    public AcsCheck acs() {
        return acs;
    }

    /**
     * iommu_group_get_for_dev: the group of {@code f} (already in {@code topology}), created or
     * joined by pci_device_group and with {@code f} added to it. Idempotent.
     */
    public IommuGroup add(Topology topology, Topology.Function f) {
        IommuGroup existing = byDevice.get(f.rid());
        if (existing != null) {
            return existing;
        }
        IommuGroup g = deviceGroup(topology, f);
        if (g == null) {
            int id = ida.nextClearBit(0);
            ida.set(id);
            g = new IommuGroup(id);
            byId.put(id, g);
        }
        g.add(f.rid());
        byDevice.put(f.rid(), g);
        return g;
    }

    /** iommu_release_device: the device leaves its group; an emptied group's id is freed. */
    public void remove(RequesterId rid) {
        IommuGroup g = byDevice.remove(rid);
        if (g != null && g.remove(rid) && g.devices().isEmpty()) {
            byId.remove(g.id());
            ida.clear(g.id());
        }
    }

    public Optional<IommuGroup> groupOf(RequesterId rid) {
        return Optional.ofNullable(byDevice.get(rid));
    }

    public Optional<IommuGroup> group(int id) {
        return Optional.ofNullable(byId.get(id));
    }

    /** Every group, by ascending id. */
    public List<IommuGroup> groups() {
        return List.copyOf(byId.values());
    }

    /** pci_device_group; null means "allocate a new group". */
    private IommuGroup deviceGroup(Topology topology, Topology.Function f) {
        Map<RequesterId, Topology.Function> byRid = DmaAliases.index(topology);
        Topology.Function pdev = f;
        for (DmaAliases.Step s : DmaAliases.walk(topology, f)) {
            pdev = byRid.get(s.device());
            IommuGroup g = byDevice.get(s.device());
            if (g != null) {
                return g;
            }
        }
        for (Topology.Function b = DmaAliases.bridgeAbove(byRid, pdev); b != null;
             b = DmaAliases.bridgeAbove(byRid, b)) {
            if (acsPathEnabled(topology, byRid, b)) {
                break;
            }
            pdev = b;
            IommuGroup g = byDevice.get(b.rid());
            if (g != null) {
                return g;
            }
        }
        BitSet devfns = new BitSet(256);
        IommuGroup g = aliasGroup(topology, pdev, devfns);
        if (g != null) {
            return g;
        }
        return functionAliasGroup(topology, pdev, devfns);
    }

    /** pci_acs_path_enabled(start, NULL, REQ_ACS_FLAGS): every device from start to the root bus. */
    boolean acsPathEnabled(Topology topology, Map<RequesterId, Topology.Function> byRid, Topology.Function start) {
        for (Topology.Function d = start; d != null; d = DmaAliases.bridgeAbove(byRid, d)) {
            if (!acs.enabled(topology, d, AcsCheck.REQ_ACS_FLAGS)) {
                return false;
            }
            if (DmaAliases.onRootBus(d)) {
                return true;
            }
        }
        return true;
    }

    /** get_pci_alias_group. */
    private IommuGroup aliasGroup(Topology topology, Topology.Function pdev, BitSet devfns) {
        if (devfns.get(pdev.rid().devfn())) {
            return null;
        }
        devfns.set(pdev.rid().devfn());
        IommuGroup g = byDevice.get(pdev.rid());
        if (g != null) {
            return g;
        }
        for (Topology.Function tmp : topology.functions()) {
            if (tmp == pdev || tmp.rid().equals(pdev.rid()) || tmp.rid().bus() != pdev.rid().bus()) {
                continue;
            }
            if (DmaAliases.areAliases(pdev, tmp)) {
                g = aliasGroup(topology, tmp, devfns);
                if (g != null) {
                    return g;
                }
                g = functionAliasGroup(topology, tmp, devfns);
                if (g != null) {
                    return g;
                }
            }
        }
        return null;
    }

    /** get_pci_function_alias_group. */
    private IommuGroup functionAliasGroup(Topology topology, Topology.Function pdev, BitSet devfns) {
        if (!AcsCheck.multifunction(topology, pdev) || acs.enabled(topology, pdev, AcsCheck.REQ_ACS_FLAGS)) {
            return null;
        }
        for (Topology.Function tmp : topology.functions()) {
            if (tmp.rid().equals(pdev.rid()) || tmp.rid().bus() != pdev.rid().bus()
                    || tmp.rid().device() != pdev.rid().device()
                    || acs.enabled(topology, tmp, AcsCheck.REQ_ACS_FLAGS)) {
                continue;
            }
            IommuGroup g = aliasGroup(topology, tmp, devfns);
            if (g != null) {
                return g;
            }
        }
        return null;
    }

    /** Members of every group, for diagnostics. */
    @Override
    public String toString() {
        List<String> out = new ArrayList<>();
        for (IommuGroup g : byId.values()) {
            out.add(g.id() + "=" + g.memberBdfs());
        }
        return String.join(" ", out);
    }
}
