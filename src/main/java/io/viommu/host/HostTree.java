package io.viommu.host;

import io.viommu.host.HostReport.Device;
import io.viommu.host.HostReport.Reason;
import io.viommu.host.HostSnapshot.HostDevice;
import io.viommu.linux.driver.AcsCheck;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code viommu host tree}: the PCI hierarchy drawn as {@code virsh nodedev-list --tree} draws it
 * (root "computer", children as {@code +- name} with {@code |} rails, libvirt's node names
 * {@code pci_0000_00_01_0} and {@code net_eth0_52_54_00_12_34_56}), each PCI node followed by what
 * virsh does not show: its IOMMU group, driver, ACS, SR-IOV state and whether it can be assigned.
 */
public final class HostTree {
    private HostTree() {
    }

    /** One node: libvirt's name, the note after it (empty for none), its parent's name (null for the root). */
    record Node(String name, String note, String parent) {
    }

    public static String format(HostFiles fs) {
        HostSnapshot s = HostReader.read(fs);
        return format(s, HostPlanner.plan(s), fs);
    }

    static String format(HostSnapshot s, HostReport r, HostFiles fs) {
        List<Node> nodes = new ArrayList<>();
        nodes.add(new Node("computer", "", null));
        Map<String, Device> byAddress = new LinkedHashMap<>();
        r.devices().forEach(d -> byAddress.put(d.address(), d));
        for (HostDevice d : s.devices()) {
            String parent = d.parent() == null ? "computer" : name(d.parent());
            nodes.add(new Node(name(d.address()), note(s, d, byAddress.get(d.address().toString())), parent));
            Path net = HostReader.PCI_DEVICES.resolve(d.address().toString()).resolve("net");
            for (String ifname : fs.list(net)) {
                String mac = fs.read(net.resolve(ifname).resolve("address")).orElse("").trim();
                String state = fs.read(net.resolve(ifname).resolve("operstate")).orElse("unknown").trim();
                nodes.add(new Node("net_" + ifname + "_" + mac.replace(':', '_'), "interface " + ifname + ", " + state,
                        name(d.address())));
            }
        }
        StringBuilder sb = new StringBuilder();
        print(sb, nodes, 0, 0, true, new StringBuilder());
        return sb.toString();
    }

    /** libvirt's node device name: "pci_" and the address with every non-alphanumeric as '_'. */
    static String name(PciAddress a) {
        return "pci_" + a.toString().replaceAll("[^0-9a-zA-Z]", "_");
    }

    /**
     * vshTreePrint's layout: the node; a "  |" line before the first child; children indented by
     * "| " while siblings follow, "  " for the last; an indent-only line after the last leaf of a list.
     */
    private static void print(StringBuilder sb, List<Node> nodes, int id, int lastSibling, boolean root,
                              StringBuilder indent) {
        Node n = nodes.get(id);
        String head = indent + (root ? "" : "+- ") + n.name();
        sb.append(n.note().isEmpty() ? head : head + "  " + n.note()).append('\n');
        if (!root) {
            indent.append(id == lastSibling ? ' ' : '|').append(' ');
        }
        int lastChild = -1;
        for (int i = 0; i < nodes.size(); i++) {
            if (n.name().equals(nodes.get(i).parent())) {
                lastChild = i;
            }
        }
        if (lastChild != -1) {
            sb.append(indent).append("  |\n");
        }
        indent.append("  ");
        for (int i = 0; i < nodes.size(); i++) {
            if (n.name().equals(nodes.get(i).parent())) {
                print(sb, nodes, i, lastChild, false, indent);
            }
        }
        indent.setLength(indent.length() - 2);
        if (lastChild == -1 && id == lastSibling) {
            sb.append(indent).append('\n');
        }
        if (!root) {
            indent.setLength(indent.length() - 2);
        }
    }

    static String note(HostSnapshot s, HostDevice d, Device rd) {
        List<String> parts = new ArrayList<>();
        parts.add(String.format("%04x:%04x", d.vendor() & 0xffff, d.device() & 0xffff) + " "
                + PciNames.describe(d.vendor(), d.device(), d.classCode()));
        parts.add(d.group() == null ? "no IOMMU group" : "group " + d.group());
        parts.add(d.driver() == null ? "no driver" : "driver " + d.driver());
        if (d.driverOverride() != null) {
            parts.add("driver_override " + d.driverOverride()); // what driverctl list-overrides lists
        }
        PciConfig c = d.config();
        if (c != null && c.capabilitiesReadable() && (d.isBridge() || c.multifunction())) {
            parts.add(c.acs() == null ? (c.pcieType() == null && d.isBridge() ? "conventional bridge" : "no ACS")
                    : c.acs().enabled(AcsCheck.REQ_ACS_FLAGS) ? "ACS on" : "ACS partial");
        }
        if (d.physfn() != null) {
            parts.add("VF of " + d.physfn());
        } else if (d.sriov() != null && d.sriov().totalVfs() > 0) {
            parts.add("SR-IOV " + d.sriov().numVfs() + "/" + d.sriov().totalVfs() + " VFs");
        }
        if (!d.hostUses().isEmpty()) {
            parts.add("in use: " + String.join(", ", d.hostUses()));
        }
        parts.add(verdict(rd));
        return String.join(" | ", parts);
    }

    private static String verdict(Device rd) {
        if (rd == null) {
            return "?";
        }
        return switch (rd.assignment().verdict()) {
            case "assignable" -> "assignable";
            case "assignable-with-group" -> "assignable with " + String.join(" ", rd.assignment().mustGoWith());
            case "blocked" -> "blocked: " + rd.assignment().reasons().stream()
                    .filter(x -> x.severity() == HostReport.Severity.BLOCKER).map(Reason::message).findFirst().orElse("?");
            default -> rd.assignment().reasons().isEmpty() || !rd.assignment().reasons().get(0).message().contains("bridge/port")
                    ? "not a candidate (chipset)" : "bridge (stays with the host)";
        };
    }
}
