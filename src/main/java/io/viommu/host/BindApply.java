package io.viommu.host;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.viommu.host.BindPlan.Step;
import io.viommu.host.HostSysfs.Outcome;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * {@code host apply} and {@code host undo}: a {@link BindPlan}'s steps done through the
 * {@link HostSysfs} seam as one transaction. Before each step its record goes to the
 * {@link HostJournal} (the state before included); after it the state is read back; a failure at
 * any step (the write's errno, a read-back that differs, an injected fault) undoes every step done
 * so far in reverse order through the same seam, so the host ends as it started. Undo later
 * replays the same inverses from the journal, after checking that the host is still as apply left
 * it.
 *
 * <p>Inverses: a file write writes the old contents back ({@code driver_override}'s "(null)" as an
 * empty line, which clears it); an unbind binds the old driver again through
 * {@code drivers/OLD/bind} and brings the interfaces it took down back up with their addresses;
 * a probe unbinds the driver it bound; a modprobe removes the modules it loaded.
 */
public final class BindApply {
    /** How a run ended; {@code failedStep} 0 when none failed. */
    public record Result(boolean ok, int failedStep, String error, boolean restored) {
    }

    private BindApply() {
    }

    /** Why apply must not start on this host, or null: not ready, another host, changed since, outside the plan. */
    public static String refusal(BindPlan plan, HostSysfs fs) {
        if (!plan.ready()) {
            List<String> b = new ArrayList<>();
            plan.hostFindings().stream().filter(f -> f.severity() == BindPlan.Severity.BLOCKER).forEach(f -> b.add(f.what()));
            plan.targets().forEach(t -> t.findings().stream().filter(f -> f.severity() == BindPlan.Severity.BLOCKER)
                    .forEach(f -> b.add(f.what())));
            return "the plan has blockers:\n  - " + String.join("\n  - ", b);
        }
        String other = plan.host().difference(HostIdentity.of(fs));
        if (other != null) {
            return "the plan was made on another host: " + other;
        }
        String outside = outsidePlan(plan);
        if (outside != null) {
            return outside;
        }
        List<String> changed = changedSincePlan(plan, fs);
        if (!changed.isEmpty()) {
            return "the host changed since the plan was made:\n  - " + String.join("\n  - ", changed);
        }
        return fs.writeRefusal().orElse(null);
    }

    /** The state each step's target had when planned against what it has now, for the first step on each. */
    static List<String> changedSincePlan(BindPlan plan, HostFiles fs) {
        List<String> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        boolean createsVfs = false;
        for (Step s : plan.steps()) {
            String key = key(s);
            if (!seen.add(key)) {
                continue;
            }
            if (s.device() != null && !fs.exists(Path.of(BindPlanner.SYS_DEVICES + s.device())) && createsVfs) {
                continue; // a VF the plan creates
            }
            String now = state(fs, s);
            String then = s.op().equals("modprobe") ? "not loaded" : s.before();
            if (!now.equals(then)) {
                out.add(describeKey(s) + ": \"" + then + "\" when planned, \"" + now + "\" now");
            }
            createsVfs |= s.path() != null && s.path().endsWith("/sriov_numvfs") && !s.value().equals("0");
        }
        return out;
    }

    /** Every step must name a device of the plan and only that device's files (a hand-edited PLAN.json cannot reach further). */
    static String outsidePlan(BindPlan plan) {
        Set<String> members = new HashSet<>();
        plan.targets().forEach(t -> t.members().forEach(m -> members.add(m.address())));
        for (Step s : plan.steps()) {
            if (s.op().equals("modprobe")) {
                if (!s.value().equals("vfio-pci")) {
                    return "step " + s.n() + " loads " + s.value() + ": apply loads vfio-pci only";
                }
                continue;
            }
            String dir = BindPlanner.SYS_DEVICES + s.device() + "/";
            boolean ok = members.contains(s.device()) && switch (s.op()) {
                case "unbind" -> s.path().equals(dir + "driver/unbind") && s.value().equals(s.device());
                case "probe" -> s.path().equals(BindPlanner.PROBE) && s.value().equals(s.device());
                case "write" -> s.path().equals(dir + "driver_override") || s.path().equals(dir + "sriov_numvfs")
                        || s.path().equals(dir + "sriov_drivers_autoprobe");
                default -> false;
            };
            if (!ok) {
                return "step " + s.n() + " (" + s.command() + ") reaches outside the plan's devices: refused";
            }
        }
        return null;
    }

    private static String key(Step s) {
        return switch (s.op()) {
            case "modprobe" -> "module";
            case "unbind", "probe" -> "driver:" + s.device();
            default -> s.path();
        };
    }

    private static String describeKey(Step s) {
        return switch (s.op()) {
            case "modprobe" -> "vfio-pci module";
            case "unbind", "probe" -> s.device() + " driver";
            default -> s.path();
        };
    }

    /** A step's target now, in the terms of its before/expect: file contents, driver name or "none", module state. */
    static String state(HostFiles fs, Step s) {
        return switch (s.op()) {
            case "modprobe" -> fs.exists(Path.of("/sys/module/vfio_pci")) ? "loaded" : "not loaded";
            case "unbind", "probe" -> fs.linkName(Path.of(BindPlanner.SYS_DEVICES + s.device() + "/driver")).orElse("none");
            default -> fs.read(Path.of(s.path())).map(String::trim).orElse("(unreadable)");
        };
    }

    /** The writes apply would make, one line each, nothing done: the dry run. */
    public static List<String> dryRun(BindPlan plan) {
        List<String> out = new ArrayList<>();
        for (Step s : plan.steps()) {
            out.add(String.format("%3d  %s", s.n(), s.command()));
        }
        return out;
    }

    // ---------------------------------------------------------------- apply

    /**
     * Performs the plan. {@code injectFault} (1-based, 0 for none) makes that step fail before it
     * writes, as if its write had failed with EIO. Every line to show goes to {@code say}.
     */
    public static Result apply(BindPlan plan, HostSysfs fs, HostJournal journal, int injectFault, Consumer<String> say) {
        ObjectNode begin = HostJournal.record("begin");
        begin.put("schema", HostJournal.SCHEMA);
        begin.set("host", HostJournal.JSON.valueToTree(plan.host()));
        begin.put("source", fs.describe());
        begin.set("devices", HostJournal.JSON.valueToTree(plan.requested()));
        journal.append(begin);
        List<Done> done = new ArrayList<>();
        for (Step s : plan.steps()) {
            ObjectNode rec = HostJournal.JSON.valueToTree(s);
            rec.put("kind", "step");
            Done d = new Done(s, snapshotBefore(fs, s));
            rec.put("before", d.before);
            rec.set("interfaces", HostJournal.JSON.valueToTree(d.interfaces));
            journal.append(rec);
            say.accept(String.format("%3d  %s", s.n(), s.command()));
            Outcome o = s.n() == injectFault ? Outcome.failed(io.viommu.linux.driver.Errno.EIO,
                    "injected fault at step " + s.n() + " (--inject-fault)") : perform(fs, s);
            if (!o.ok()) {
                String why = "step " + s.n() + " failed: " + s.command() + ": " + o;
                say.accept("     " + why);
                return rollback(done, fs, journal, s.n(), why, say);
            }
            done.add(d);
            String after = state(fs, s);
            String problem = readBack(plan, fs, s, after);
            if (problem != null) {
                String why = "step " + s.n() + " read back wrong: " + problem;
                say.accept("     " + why);
                return rollback(done, fs, journal, s.n(), why, say);
            }
            ObjectNode ok = HostJournal.record("done");
            ok.put("n", s.n());
            ok.put("after", after);
            journal.append(ok);
        }
        ObjectNode end = HostJournal.record("end");
        end.put("result", "applied");
        journal.append(end);
        return new Result(true, 0, null, false);
    }

    /** A step done: the step, its target's state before, and the interfaces an unbind took down. */
    public record Done(Step step, String before, List<Nic> interfaces) {
        Done(Step step, Snapshot s) {
            this(step, s.before, s.interfaces);
        }
    }

    /** An interface as it was before its driver went: name, up or not, addresses. */
    public record Nic(String name, boolean up, List<String> addresses) {
    }

    record Snapshot(String before, List<Nic> interfaces) {
    }

    static Snapshot snapshotBefore(HostSysfs fs, Step s) {
        if (s.op().equals("modprobe")) {
            return new Snapshot(String.join(",", fs.list(Path.of("/sys/module"))), List.of());
        }
        List<Nic> nics = new ArrayList<>();
        if (s.op().equals("unbind")) {
            Path net = Path.of(BindPlanner.SYS_DEVICES + s.device() + "/net");
            for (String n : fs.list(net)) {
                boolean up = fs.read(net.resolve(n).resolve("operstate")).map(String::trim).orElse("").equals("up");
                nics.add(new Nic(n, up, fs.addresses(n)));
            }
        }
        return new Snapshot(state(fs, s), nics);
    }

    static Outcome perform(HostSysfs fs, Step s) {
        return switch (s.op()) {
            case "modprobe" -> fs.modprobe(s.value());
            default -> fs.write(Path.of(s.path()), s.value() + "\n"); // as echo sends it
        };
    }

    /** Null when the step shows what it should; for sriov_numvfs also that the VFs are where the plan put them, groups included. */
    static String readBack(BindPlan plan, HostFiles fs, Step s, String after) {
        String want = s.op().equals("modprobe") ? "loaded" : s.expect();
        if (!after.equals(want)) {
            return describeKey(s) + " is \"" + after + "\", expected \"" + want + "\"";
        }
        if (s.path() != null && s.path().endsWith("/sriov_numvfs") && !s.value().equals("0")) {
            Set<String> vfs = new HashSet<>();
            plan.steps().stream().filter(x -> x.op().equals("probe")).forEach(x -> vfs.add(x.device()));
            for (String vf : vfs) {
                Path dir = Path.of(BindPlanner.SYS_DEVICES + vf);
                if (!fs.exists(dir.resolve("physfn"))) {
                    return "VF " + vf + " did not appear where the plan expected it";
                }
                String group = fs.linkName(dir.resolve("iommu_group")).orElse(null);
                if (group == null) {
                    return "VF " + vf + " has no IOMMU group";
                }
                for (String m : fs.list(Path.of("/sys/kernel/iommu_groups", group, "devices"))) {
                    boolean bridge = fs.read(Path.of(BindPlanner.SYS_DEVICES + m + "/class")).orElse("").startsWith("0x0604");
                    if (!vfs.contains(m) && !bridge) {
                        return "VF " + vf + "'s IOMMU group " + group + " also holds " + m + ", which the plan does not take";
                    }
                }
            }
        }
        return null;
    }

    private static Result rollback(List<Done> done, HostSysfs fs, HostJournal journal, int failed, String why,
                                   Consumer<String> say) {
        say.accept("     undoing steps " + (done.isEmpty() ? "(none done)" : done.get(done.size() - 1).step().n() + " to 1")
                + " in reverse");
        List<String> left = undoAll(done, fs, journal, say);
        ObjectNode end = HostJournal.record("end");
        end.put("result", left.isEmpty() ? "rolled back" : "rollback incomplete");
        journal.append(end);
        if (!left.isEmpty()) {
            return new Result(false, failed, why + "; the host is NOT as it started: " + String.join("; ", left)
                    + " (journal " + journal.file() + ")", false);
        }
        return new Result(false, failed, why, true);
    }

    /** Inverses of {@code done} in reverse order; the failures, empty when all succeeded. */
    static List<String> undoAll(List<Done> done, HostSysfs fs, HostJournal journal, Consumer<String> say) {
        List<String> failures = new ArrayList<>();
        for (int i = done.size() - 1; i >= 0; i--) {
            Done d = done.get(i);
            List<String> cmds = new ArrayList<>();
            String err = inverse(fs, d, cmds);
            cmds.forEach(c -> say.accept("  undo " + d.step().n() + ": " + c));
            if (err != null) {
                say.accept("     failed: " + err);
                failures.add("step " + d.step().n() + ": " + err);
                continue;
            }
            ObjectNode rec = HostJournal.record("undone");
            rec.put("n", d.step().n());
            journal.append(rec);
        }
        return failures;
    }

    static String inverse(HostSysfs fs, Done d, List<String> cmds) {
        Step s = d.step();
        switch (s.op()) {
            case "modprobe" -> {
                Set<String> before = Set.of(d.before().split(","));
                List<String> added = new ArrayList<>(fs.list(Path.of("/sys/module")).stream().filter(m -> !before.contains(m)).toList());
                // rmmod refuses a module others use (EBUSY): remove users first, whatever the order they were listed in
                for (int pass = 0; !added.isEmpty() && pass < 8; pass++) {
                    for (String m : List.copyOf(added)) {
                        Outcome o = fs.rmmod(m);
                        if (o.ok()) {
                            cmds.add("rmmod " + m);
                            added.remove(m);
                        }
                    }
                }
                return added.isEmpty() ? null : "could not remove module(s) " + String.join(", ", added);
            }
            case "unbind" -> {
                String path = "/sys/bus/pci/drivers/" + d.before() + "/bind";
                cmds.add("echo " + s.device() + " > " + path);
                Outcome o = fs.write(Path.of(path), s.device() + "\n");
                if (!o.ok()) {
                    return path + ": " + o;
                }
                List<String> now = fs.list(Path.of(BindPlanner.SYS_DEVICES + s.device() + "/net"));
                for (int k = 0; k < d.interfaces().size() && k < now.size(); k++) {
                    Nic nic = d.interfaces().get(k);
                    String name = now.get(k);
                    if (nic.up()) {
                        cmds.add("ip link set dev " + name + " up");
                        Outcome u = fs.setLink(name, true);
                        if (!u.ok()) {
                            return "ip link set dev " + name + " up: " + u;
                        }
                    }
                    for (String a : nic.addresses()) {
                        cmds.add("ip addr add " + a + " dev " + name);
                        Outcome u = fs.addAddress(name, a);
                        if (!u.ok()) {
                            return "ip addr add " + a + " dev " + name + ": " + u;
                        }
                    }
                }
                return null;
            }
            case "probe" -> {
                String drv = fs.linkName(Path.of(BindPlanner.SYS_DEVICES + s.device() + "/driver")).orElse(null);
                if (drv == null) {
                    return null; // nothing bound: the probe did not bind (its read-back failed), nothing to undo
                }
                String path = "/sys/bus/pci/drivers/" + drv + "/unbind";
                cmds.add("echo " + s.device() + " > " + path);
                Outcome o = fs.write(Path.of(path), s.device() + "\n");
                return o.ok() ? null : path + ": " + o;
            }
            default -> {
                String value = d.before().equals("(null)") ? "" : d.before();
                cmds.add((value.isEmpty() ? "echo" : "echo " + value) + " > " + s.path());
                Outcome o = fs.write(Path.of(s.path()), value + "\n");
                return o.ok() ? null : s.path() + ": " + o;
            }
        }
    }

    // ---------------------------------------------------------------- undo

    /** What undo found in a journal: the steps to invert, or why it refuses. */
    public record UndoCheck(List<Done> steps, String refusal) {
    }

    /** Reads a journal and checks it against the host: same host, steps done and not undone, state as apply left it. */
    public static UndoCheck check(Path file, HostSysfs fs) {
        List<JsonNode> recs;
        try {
            recs = HostJournal.read(file);
        } catch (IOException e) {
            return new UndoCheck(List.of(), "cannot read journal: " + e.getMessage());
        }
        if (recs.isEmpty() || !recs.get(0).path("kind").asText().equals("begin")
                || !HostJournal.SCHEMA.equals(recs.get(0).path("schema").asText())) {
            return new UndoCheck(List.of(), file + " is not a viommu host journal (no \"begin\" record of " + HostJournal.SCHEMA + ")");
        }
        HostIdentity id;
        try {
            id = HostJournal.JSON.treeToValue(recs.get(0).get("host"), HostIdentity.class);
        } catch (Exception e) {
            return new UndoCheck(List.of(), file + ": the begin record has no host identity");
        }
        String other = id.difference(HostIdentity.of(fs));
        if (other != null) {
            return new UndoCheck(List.of(), "the journal was written on another host: " + other);
        }
        Map<Integer, Done> steps = new LinkedHashMap<>();
        Map<Integer, String> after = new LinkedHashMap<>();
        Set<Integer> undone = new HashSet<>();
        for (JsonNode r : recs) {
            switch (r.path("kind").asText()) {
                case "step" -> {
                    Step s = new Step(r.path("n").asInt(), r.path("op").asText(), text(r, "device"), text(r, "path"),
                            text(r, "value"), text(r, "before"), text(r, "expect"), text(r, "command"));
                    List<Nic> nics = new ArrayList<>();
                    for (JsonNode n : r.path("interfaces")) {
                        List<String> addrs = new ArrayList<>();
                        n.path("addresses").forEach(a -> addrs.add(a.asText()));
                        nics.add(new Nic(n.path("name").asText(), n.path("up").asBoolean(), addrs));
                    }
                    steps.put(s.n(), new Done(s, s.before(), nics));
                }
                case "done" -> after.put(r.path("n").asInt(), r.path("after").asText());
                case "undone" -> undone.add(r.path("n").asInt());
                default -> {
                }
            }
        }
        List<Done> todo = new ArrayList<>();
        Map<String, String> expected = new LinkedHashMap<>();
        Map<String, Step> byKey = new LinkedHashMap<>();
        for (Map.Entry<Integer, Done> e : steps.entrySet()) {
            if (after.containsKey(e.getKey()) && !undone.contains(e.getKey())) {
                todo.add(e.getValue());
                expected.put(key(e.getValue().step()), after.get(e.getKey()));
                byKey.put(key(e.getValue().step()), e.getValue().step());
            }
        }
        if (todo.isEmpty()) {
            return new UndoCheck(List.of(), file + ": nothing to undo (every step done was undone already, or none was done)");
        }
        List<String> diff = new ArrayList<>();
        expected.forEach((k, v) -> {
            String now = state(fs, byKey.get(k));
            if (!now.equals(v)) {
                diff.add(describeKey(byKey.get(k)) + ": \"" + v + "\" after apply, \"" + now + "\" now");
            }
        });
        if (!diff.isEmpty()) {
            return new UndoCheck(List.of(), "the host changed since the journal was written:\n  - " + String.join("\n  - ", diff));
        }
        return new UndoCheck(todo, null);
    }

    private static String text(JsonNode r, String field) {
        JsonNode n = r.get(field);
        return n == null || n.isNull() ? null : n.asText();
    }

    /** Replays the inverses of {@code check}'s steps in reverse through {@code fs}, recording each in the journal. */
    public static List<String> undo(UndoCheck check, HostSysfs fs, HostJournal journal, Consumer<String> say) {
        List<String> failures = undoAll(check.steps(), fs, journal, say);
        ObjectNode end = HostJournal.record("end");
        end.put("result", failures.isEmpty() ? "undone" : "undo incomplete");
        journal.append(end);
        return failures;
    }

}
