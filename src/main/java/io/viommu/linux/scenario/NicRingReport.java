package io.viommu.linux.scenario;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;
import java.util.function.ToLongFunction;

/** The NIC-ring scenario's results as a text table (per packet) or as JSON. */
public final class NicRingReport {
    private static final ObjectMapper MAPPER = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    /** One per-packet column: header and what it counts. */
    private record Column(String header, String json, ToLongFunction<NicRingCost> value, boolean shadowOnly) {
    }

    private static final List<Column> COLUMNS = List.of(
            new Column("maps", "maps", NicRingCost::maps, false),
            new Column("unmaps", "unmaps", NicRingCost::unmaps, false),
            new Column("PSI", "iotlbPage", NicRingCost::iotlbPage, false),
            new Column("DSI", "iotlbDomain", NicRingCost::iotlbDomain, false),
            new Column("GLOBAL", "iotlbGlobal", NicRingCost::iotlbGlobal, false),
            new Column("CTX", "contextInvalidations", NicRingCost::contextInvalidations, false),
            new Column("desc", "descriptors", NicRingCost::descriptors, false),
            new Column("wait", "waitDescriptors", NicRingCost::waitDescriptors, false),
            new Column("exits", "mmioAccesses", NicRingCost::mmioAccesses, false),
            new Column("host-upd", "notifierEvents", NicRingCost::notifierEvents, true),
            new Column("host-pages", "hostPageUpdates", NicRingCost::hostPageUpdates, true));

    private NicRingReport() {
    }

    /**
     * The table: one row per run, per-packet costs of the traffic, the setup's totals, and
     * whether every packet arrived. {@code notes} are printed below it.
     */
    public static String table(List<NicRingRun> runs, List<String> notes) {
        StringBuilder b = new StringBuilder();
        if (!runs.isEmpty()) {
            NicRingRun first = runs.get(0);
            b.append(String.format(Locale.ROOT, "NIC ring: %d packets of %d bytes into a ring of %d buffers"
                    + " (edu behind intel-iommu); costs per packet, setup in totals%n",
                    first.packets(), NicRingScenario.FRAME_BYTES, first.ringSize()));
        }
        b.append(String.format(Locale.ROOT, "%-21s %-3s", "mapping", "CM"));
        for (Column c : COLUMNS) {
            b.append(String.format(Locale.ROOT, " %8s", c.header()));
        }
        b.append(String.format(Locale.ROOT, " | %10s %9s %9s | %s%n", "setup-maps", "setup-inv", "setup-upd",
                "delivered"));
        for (NicRingRun r : runs) {
            b.append(String.format(Locale.ROOT, "%-21s %-3s", r.label(), r.cachingMode() ? "on" : "off"));
            for (Column c : COLUMNS) {
                String v = c.shadowOnly() && !r.shadowed() ? "-" : number(r.perPacket(c.value()));
                b.append(String.format(Locale.ROOT, " %8s", v));
            }
            NicRingCost s = r.setup();
            b.append(String.format(Locale.ROOT, " | %10d %9d %9s | %d/%d%s%n", s.maps(),
                    s.iotlbInvalidations() + s.contextInvalidations(),
                    r.shadowed() ? Long.toString(s.notifierEvents()) : "-",
                    r.delivered(), r.packets(), r.dmaFaults() > 0 ? " (" + r.dmaFaults() + " faults)" : ""));
        }
        b.append(String.format(Locale.ROOT, "PSI/DSI/GLOBAL: page-, domain-selective and global IOTLB invalidations;"
                + " CTX: context-cache invalidations;%n"
                + "desc/wait: queued-invalidation descriptors / wait descriptors; exits: IOMMU register accesses"
                + " (VM exits);%n"
                + "host-upd/host-pages: MAP/UNMAP notifier events and 4 KiB pages QEMU programs into the host"
                + " IOMMU (caching mode only);%n"
                + "setup-*: maps, invalidations and host updates of the setup (filling the ring, or the one MAP_DMA).%n"));
        for (String n : notes) {
            b.append("note: ").append(n).append(System.lineSeparator());
        }
        return b.toString();
    }

    /** Whole numbers as such, fractions with up to four decimals. */
    static String number(double v) {
        if (v == Math.rint(v)) {
            return Long.toString((long) v);
        }
        String s = String.format(Locale.ROOT, "%.4f", v);
        s = s.replaceAll("0+$", "");
        return s.endsWith(".") ? s + "0" : s;
    }

    /** The runs as JSON: parameters, and per run totals for setup and traffic plus per-packet values. */
    public static String json(List<NicRingRun> runs, List<String> notes) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("scenario", "nic-ring");
        root.put("frameBytes", NicRingScenario.FRAME_BYTES);
        root.put("bufferBytes", NicRingScenario.BUFFER_BYTES);
        ArrayNode arr = root.putArray("runs");
        for (NicRingRun r : runs) {
            ObjectNode o = arr.addObject();
            o.put("label", r.label());
            o.put("mapping", r.mapping().name().toLowerCase(Locale.ROOT));
            if (r.policy() == null) {
                o.putNull("policy");
            } else {
                o.put("policy", r.policy().name().toLowerCase(Locale.ROOT));
            }
            o.put("cachingMode", r.cachingMode());
            o.put("strictInEffect", r.strictInEffect());
            o.put("shadowed", r.shadowed());
            o.put("packets", r.packets());
            o.put("ringSize", r.ringSize());
            o.put("delivered", r.delivered());
            o.put("dmaFaults", r.dmaFaults());
            o.set("setup", MAPPER.valueToTree(r.setup()));
            o.set("traffic", MAPPER.valueToTree(r.traffic()));
            ObjectNode per = o.putObject("perPacket");
            for (Column c : COLUMNS) {
                if (c.shadowOnly() && !r.shadowed()) {
                    per.putNull(c.json());
                } else {
                    per.put(c.json(), r.perPacket(c.value()));
                }
            }
        }
        ArrayNode n = root.putArray("notes");
        notes.forEach(n::add);
        try {
            return MAPPER.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the scenario's results", e);
        }
    }
}
