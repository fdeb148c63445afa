package io.viommu.linux.driver;

import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * A group view with a given assignment, NOT Linux's group computation: for tests, and for
 * generating sysfs trees before the real group code is wired in. Boot devices get the groups
 * given (or one group each, in enumeration order); devices added later take the lowest free
 * group number, as Linux's ida does. Reserved regions are intel-iommu's: the ISA floppy window
 * for groups holding an ISA bridge (class 0601xx), then the MSI window.
 */
public final class StaticGroupView implements IommuGroupView {
    private final TreeMap<Integer, List<RequesterId>> members = new TreeMap<>();
    private final TreeMap<Integer, String> types = new TreeMap<>();
    private final Map<RequesterId, Integer> classes = new java.util.HashMap<>();
    private final String defaultType;

    private StaticGroupView(String defaultType) {
        this.defaultType = defaultType;
    }

    /** Every function its own group, numbered in the topology's order. */
    public static StaticGroupView onePerDevice(Topology t, String type) {
        StaticGroupView v = new StaticGroupView(type);
        for (Topology.Function f : t.functions()) {
            v.add(f, v.lowestFree());
        }
        return v;
    }

    /** The given assignment (functions missing from it get the lowest free group). */
    public static StaticGroupView assigned(Topology t, Map<RequesterId, Integer> groups, String type) {
        StaticGroupView v = new StaticGroupView(type);
        for (Topology.Function f : t.functions()) {
            Integer g = groups.get(f.rid());
            if (g != null) {
                v.add(f, g);
            }
        }
        for (Topology.Function f : t.functions()) {
            if (!groups.containsKey(f.rid())) {
                v.add(f, v.lowestFree());
            }
        }
        return v;
    }

    private void add(Topology.Function f, int group) {
        members.computeIfAbsent(group, g -> new ArrayList<>()).add(f.rid());
        types.putIfAbsent(group, defaultType);
        classes.put(f.rid(), f.classCode());
    }

    private int lowestFree() {
        int g = 0;
        while (members.containsKey(g)) {
            g++;
        }
        return g;
    }

    @Override
    public OptionalInt groupOf(RequesterId rid) {
        for (Map.Entry<Integer, List<RequesterId>> e : members.entrySet()) {
            if (e.getValue().contains(rid)) {
                return OptionalInt.of(e.getKey());
            }
        }
        return OptionalInt.empty();
    }

    @Override
    public List<Integer> groups() {
        return List.copyOf(members.keySet());
    }

    @Override
    public String type(int group) {
        return types.getOrDefault(group, defaultType);
    }

    @Override
    public List<RequesterId> members(int group) {
        return List.copyOf(members.getOrDefault(group, List.of()));
    }

    @Override
    public List<ReservedRegion> reservedRegions(int group) {
        List<ReservedRegion> out = new ArrayList<>();
        for (RequesterId r : members.getOrDefault(group, List.of())) {
            if ((Objects.requireNonNullElse(classes.get(r), 0) >> 8) == 0x0601 && !out.contains(ReservedRegion.INTEL_ISA_FLOPPY)) {
                out.add(ReservedRegion.INTEL_ISA_FLOPPY);
            }
        }
        if (members.containsKey(group)) {
            out.add(ReservedRegion.INTEL_MSI);
        }
        return out;
    }

    @Override
    public void deviceAdded(Topology topology, RequesterId rid) {
        if (groupOf(rid).isPresent()) {
            return;
        }
        topology.function(rid).ifPresent(f -> add(f, lowestFree()));
    }

    @Override
    public void deviceRemoved(Topology topology, RequesterId rid) {
        OptionalInt g = groupOf(rid);
        if (g.isEmpty()) {
            return;
        }
        List<RequesterId> m = members.get(g.getAsInt());
        m.remove(rid);
        if (m.isEmpty()) {
            members.remove(g.getAsInt());
            types.remove(g.getAsInt());
        }
    }

    /** Accepts identity, DMA, DMA-FQ and auto (back to the default type). */
    @Override
    public int changeDefaultDomain(int group, String type) {
        switch (type) {
            case "identity", "DMA", "DMA-FQ" -> types.put(group, type);
            case "auto" -> types.put(group, defaultType);
            default -> {
                return Errno.EINVAL.negative();
            }
        }
        return 0;
    }
}
