package io.viommu.linux.driver;

import io.viommu.linux.iommu.IommuGroups;
import io.viommu.pci.PcieCapability.PortType;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The requester ids a function's DMA can arrive with, as Linux 6.1's
 * {@code pci_for_each_dma_alias} (drivers/pci/search.c) walks them: the function's own id, every
 * devfn of its {@code dma_alias_mask} on its bus, then each bridge on the way to the root bus,
 * skipping buses without a bridge (SR-IOV virtual buses):
 * <ul>
 * <li>PCIe root, upstream and downstream ports forward ids unchanged: no alias;</li>
 * <li>a PCIe-to-PCI(-X) bridge takes ownership of transactions from below: alias
 *     (secondary bus, devfn 0), reported on the bridge (PCIe-to-PCI/X bridge spec 2.3);</li>
 * <li>a PCI-to-PCIe bridge and a conventional PCI bridge: the bridge's own id.</li>
 * </ul>
 * Each step names the device that "owns" the alias; {@link IommuGroups} looks up groups of
 * those devices, exactly as get_pci_alias_or_group does.
 *
 * <p>dma_alias_mask comes from header quirks in drivers/pci/quirks.c (quirk_dma_func0_alias,
 * quirk_dma_func1_alias, quirk_fixed_dma_alias, ...). None of the devices QEMU 7.2 or viommu
 * model carries one; {@link #aliasDevfns} holds the function-0/function-1 tables so a model of
 * such a device would get them.
 */
public final class DmaAliases {
    private DmaAliases() {
    }

    /** One callback of pci_for_each_dma_alias: the device and the alias id. */
    public record Step(RequesterId device, RequesterId alias) {
    }

    /** Vendor << 16 | device of quirk_dma_func0_alias (Ricoh, Glenfly). */
    static final List<Integer> FUNC0_ALIAS = List.of(0x1180 << 16 | 0xe832, 0x1180 << 16 | 0xe476,
            0x6766 << 16 | 0x3d40, 0x6766 << 16 | 0x3d41);
    /** Vendor << 16 | device of quirk_dma_func1_alias (Marvell 88SE91xx/92xx, TTI, JMicron, Plextor). */
    static final List<Integer> FUNC1_ALIAS = List.of(0x1b4b << 16 | 0x9120, 0x1b4b << 16 | 0x9123,
            0x1b4b << 16 | 0x9125, 0x1b4b << 16 | 0x9128, 0x1b4b << 16 | 0x9130, 0x1b4b << 16 | 0x9170,
            0x1b4b << 16 | 0x9172, 0x1b4b << 16 | 0x917a, 0x1b4b << 16 | 0x9182, 0x1b4b << 16 | 0x9183,
            0x1b4b << 16 | 0x91a0, 0x1b4b << 16 | 0x9215, 0x1b4b << 16 | 0x9220, 0x1b4b << 16 | 0x9230,
            0x1b4b << 16 | 0x9235, 0x1103 << 16 | 0x0642, 0x1103 << 16 | 0x0645, 0x197b << 16 | 0x2393,
            0x1c28 << 16 | 0x0122);

    /** The devfns of a function's dma_alias_mask (same bus), from the header quirks. */
    public static List<Integer> aliasDevfns(Topology.Function f) {
        int id = f.vendorId() << 16 | f.deviceId();
        int slot = f.rid().device();
        if (FUNC0_ALIAS.contains(id) && f.rid().function() != 0) {
            return List.of(slot << 3);
        }
        if (FUNC1_ALIAS.contains(id) && f.rid().function() != 1) {
            return List.of(slot << 3 | 1);
        }
        return List.of();
    }

    /** pci_devs_are_dma_aliases: one lists the other's devfn in its mask (same bus implied). */
    public static boolean areAliases(Topology.Function a, Topology.Function b) {
        return aliasDevfns(a).contains(b.rid().devfn()) || aliasDevfns(b).contains(a.rid().devfn());
    }

    /** Every step of pci_for_each_dma_alias for {@code f}, in order. */
    public static List<Step> walk(Topology topology, Topology.Function f) {
        List<Step> out = new ArrayList<>();
        out.add(new Step(f.rid(), f.rid()));
        for (int devfn : aliasDevfns(f)) {
            out.add(new Step(f.rid(), RequesterId.of(f.rid().bus(), devfn)));
        }
        Map<RequesterId, Topology.Function> byRid = index(topology);
        for (Topology.Function b = bridgeAbove(byRid, f); b != null; b = bridgeAbove(byRid, b)) {
            if (b.isExpress()) {
                if (b.portType() == PortType.PCIE_TO_PCI_BRIDGE) {
                    out.add(new Step(b.rid(), RequesterId.of(b.secondaryBus(), 0)));
                } else if (b.portType() == PortType.PCI_TO_PCIE_BRIDGE) {
                    out.add(new Step(b.rid(), b.rid()));
                }
                // root, upstream and downstream ports: no alias
            } else {
                out.add(new Step(b.rid(), b.rid()));
            }
        }
        return out;
    }

    public static Map<RequesterId, Topology.Function> index(Topology topology) {
        Map<RequesterId, Topology.Function> m = new java.util.HashMap<>();
        for (Topology.Function f : topology.functions()) {
            m.put(f.rid(), f);
        }
        return m;
    }

    /**
     * {@code bus->self} of the first bus above {@code f} that has a bridge: a VF on a virtual bus
     * (no bridge) continues from its PF's bus, whose parent Linux made the virtual bus's parent.
     * Null on the root bus.
     */
    public static Topology.Function bridgeAbove(Map<RequesterId, Topology.Function> byRid, Topology.Function f) {
        Topology.Function cur = f;
        while (cur.onVirtualBus()) {
            cur = byRid.get(cur.physicalFunction());
            if (cur == null) {
                return null;
            }
        }
        return cur.parentBridge() == null ? null : byRid.get(cur.parentBridge());
    }

    /** pci_is_root_bus(dev->bus). */
    public static boolean onRootBus(Topology.Function f) {
        return f.parentBridge() == null && !f.onVirtualBus();
    }
}
