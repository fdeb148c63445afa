package io.viommu.fleet;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * {@code viommu fleet scan} as text: one table, host by host and device class by device class
 * (devices of one host with the same vendor:device, kind, driver, isolation and verdict are one row),
 * each blocked row followed by why; then the fleet-wide summary.
 */
public final class FleetText {
    private FleetText() {
    }

    public static String format(FleetReport r) {
        StringBuilder sb = new StringBuilder();
        sb.append("viommu fleet scan: ").append(r.hosts().size()).append(" host(s)\n\n");
        List<String[]> rows = new ArrayList<>();
        List<List<String>> why = new ArrayList<>();
        rows.add(new String[] {"HOST", "DEVICE", "KIND", "N", "DRIVER", "GROUP", "STATE", "NAME"});
        why.add(List.of());
        for (FleetReport.Host h : r.hosts()) {
            Map<String, List<FleetReport.Device>> classes = new LinkedHashMap<>();
            for (FleetReport.Device d : h.devices()) {
                String isolation = d.isolation().startsWith("alone") ? "alone" : d.isolation().startsWith("no IOMMU")
                        ? "none" : "shared (" + (d.isolation().split(",").length + 1) + " fns)";
                String key = String.join("|", d.id(), d.kind(), d.driver() == null ? "none" : d.driver(), isolation,
                        d.candidate() ? "candidate" : h.problems().isEmpty() ? "blocked" : "host cannot serve",
                        String.join("\n", d.blockers()));
                classes.computeIfAbsent(key, k -> new ArrayList<>()).add(d);
            }
            boolean firstRow = true;
            for (Map.Entry<String, List<FleetReport.Device>> e : classes.entrySet()) {
                String[] k = e.getKey().split("\\|", -1);
                FleetReport.Device d = e.getValue().get(0);
                rows.add(new String[] {firstRow ? h.name() : "", d.id(), d.kind(), String.valueOf(e.getValue().size()),
                        k[2], k[3], k[4], d.description()});
                why.add(d.candidate() ? List.of() : d.blockers());
                firstRow = false;
            }
            if (h.devices().isEmpty()) {
                rows.add(new String[] {h.name(), "-", "", "0", "", "", "no devices", ""});
                why.add(List.of());
            }
        }
        int[] w = new int[8];
        for (String[] row : rows) {
            for (int i = 0; i < 7; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        for (int i = 0; i < rows.size(); i++) {
            String[] row = rows.get(i);
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < 8; c++) {
                line.append(c == 7 ? row[c] : pad(row[c], w[c] + 2));
            }
            sb.append(line.toString().stripTrailing()).append('\n');
            for (String b : why.get(i)) {
                sb.append(" ".repeat(w[0] + 2)).append("  blocked: ").append(b).append('\n');
            }
        }
        sb.append("\nHosts\n");
        for (FleetReport.Host h : r.hosts()) {
            long n = h.devices().stream().filter(FleetReport.Device::candidate).count();
            sb.append("  ").append(h.name()).append(": IOMMU ").append(h.iommu()).append(", interrupt remapping ")
                    .append(h.interruptRemapping()).append("; ").append(h.serves() ? "serves " + n + " device(s)" : "cannot serve")
                    .append('\n');
            for (String p : h.problems()) {
                sb.append("      problem: ").append(p).append('\n');
            }
            for (String p : h.notes()) {
                sb.append("      note: ").append(p).append('\n');
            }
            for (String p : h.needs()) {
                sb.append("      needs ").append(p).append('\n');
            }
        }
        sb.append("\nFleet: assignable devices by kind (once each host's plan is applied)\n");
        for (FleetReport.Kind k : r.summary()) {
            if (k.candidates() == 0 && k.blockedOn().isEmpty()) {
                continue;
            }
            sb.append("  ").append(k.id()).append(' ').append(k.kind()).append("  ").append(k.description()).append(": ")
                    .append(k.candidates()).append(k.candidates() == 0 ? "" : " on " + k.onHosts().entrySet().stream()
                            .map(e -> e.getKey() + " (" + e.getValue() + ")").collect(Collectors.joining(", ")))
                    .append('\n');
            if (!k.toBind().isEmpty()) {
                sb.append("      to bind to vfio-pci first: ").append(k.toBind().entrySet().stream()
                        .map(e -> e.getKey() + " (" + e.getValue() + ")").collect(Collectors.joining(", "))).append('\n');
            }
            k.blockedOn().forEach((host, reason) -> sb.append("      not on ").append(host).append(": ").append(reason).append('\n'));
        }
        return sb.toString();
    }

    private static String pad(String s, int n) {
        return s.length() >= n ? s : s + " ".repeat(n - s.length());
    }
}
