package io.viommu.host;

import io.viommu.host.HostReport.Check;
import io.viommu.host.HostReport.Device;
import io.viommu.host.HostReport.Group;
import io.viommu.host.HostReport.Reason;
import io.viommu.host.HostReport.Severity;
import io.viommu.host.HostReport.Unit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * {@code host report --html}: the {@link HostReport} as one self-contained page. The PCI topology is
 * drawn as nested lists (root bus, bridges, functions) with every IOMMU group as a labelled box
 * around its members; then the scan (groups, devices, per-device reasons and commands) and the
 * host's IOMMU facts.
 *
 * <p>Nothing is fetched and nothing runs: all CSS is inline, there is no script, and a
 * Content-Security-Policy of {@code default-src 'none'} makes the browser refuse any script or
 * request that would appear anyway. Every string from the host (device names, driver names,
 * kernel arguments, interface names) goes through {@link #escape}. The output depends only on the
 * report, so the same host gives the same bytes. The page is also well-formed XML (void elements
 * self-closed, attributes with values), so tools can read it with an XML parser.
 *
 * <p>Elements carry data attributes for tools and tests: {@code .group[data-group]} for each group
 * box (a group whose members are not adjacent in the tree gets one box per part, the later ones
 * marked {@code data-part}), {@code .dev[data-bdf][data-group][data-verdict]} for each function in
 * the tree, {@code .blocker} for each blocking reason, {@code tr[data-bdf]} for each scan row.
 */
public final class HostReportHtml {
    private HostReportHtml() {
    }

    public static String format(HostReport r) {
        return format(r, null);
    }

    /** The page with a {@code host plan} (PLAN.json) drawn in: its section, and its members marked in the tree. */
    public static String format(HostReport r, BindPlan plan) {
        java.util.Set<String> planned = new java.util.TreeSet<>();
        if (plan != null) {
            plan.targets().forEach(t -> t.members().forEach(m -> planned.add(m.address())));
        }
        StringBuilder sb = new StringBuilder(16384);
        sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
                .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n")
                .append("<title>viommu host report: ").append(escape(r.source())).append("</title>\n")
                .append("<style>\n").append(CSS).append("</style>\n</head>\n");
        sb.append("<body data-schema=\"").append(escape(r.schema())).append("\">\n");
        sb.append("<h1>viommu host report</h1>\n<p class=\"source\">").append(escape(r.source())).append("</p>\n");
        sb.append("<p class=\"verdict\" id=\"verdict\">").append(escape(r.summary().verdict())).append("</p>\n");
        host(sb, r);
        if (plan != null) {
            plan(sb, plan);
        }
        topology(sb, r, planned);
        scan(sb, r);
        sb.append("</body>\n</html>\n");
        return sb.toString();
    }

    // ---------------------------------------------------------------- host facts

    private static void host(StringBuilder sb, HostReport r) {
        HostReport.Host h = r.host();
        HostReport.Iommu io = r.iommu();
        sb.append("<section id=\"host\">\n<h2>Host</h2>\n<dl class=\"facts\">\n");
        fact(sb, "kernel", "Kernel", h.kernel().isEmpty() ? "?" : h.kernel());
        fact(sb, "cpu", "CPU", (h.cpuModel().isEmpty() ? "?" : h.cpuModel()) + " (" + h.cpuVendor() + ", " + h.cpus()
                + " CPUs" + (h.vmx() ? ", VT-x" : "") + (h.svm() ? ", AMD-V" : "")
                + (h.hypervisor() ? ", running under a hypervisor" : "") + ")");
        fact(sb, "cmdline", "IOMMU-related kernel arguments", h.cmdline().isEmpty() ? "none" : String.join(" ", h.cmdline()));
        fact(sb, "iommu", "IOMMU", io.enabled() ? "enabled (" + io.vendor() + ")" : "none: " + io.cause());
        fact(sb, "firmware", "Firmware table", io.firmware());
        if (io.defaultDomain() != null) {
            fact(sb, "default-domain", "Default domain", io.defaultDomain());
        }
        fact(sb, "irq-remapping", "Interrupt remapping", r.interruptRemapping().state()
                + (r.interruptRemapping().vfioAllowsUnsafe() ? " (vfio_iommu_type1.allow_unsafe_interrupts=1)" : ""));
        sb.append("</dl>\n");
        reasonsList(sb, "iommu-reasons", "Why there is no IOMMU", io.reasons());
        reasonsList(sb, "irq-reasons", "Interrupt remapping", r.interruptRemapping().reasons());
        if (io.dmar() != null) {
            HostReport.Dmar d = io.dmar();
            sb.append("<h3>DMAR</h3>\n<ul class=\"dmar\">\n");
            li(sb, String.format("OEM %s, host address width %d, flags 0x%x%s", d.oemId(), d.hostAddressWidth(), d.flags(),
                    d.interruptRemapping() ? " (INTR_REMAP)" : ""));
            for (HostReport.Drhd u : d.drhds()) {
                li(sb, String.format("DRHD base 0x%x segment %d%s %s", u.registerBase(), u.segment(),
                        u.includePciAll() ? " INCLUDE_PCI_ALL" : "", String.join(", ", u.scopes())));
            }
            for (HostReport.Rmrr u : d.rmrrs()) {
                li(sb, String.format("RMRR 0x%x-0x%x %s", u.base(), u.limit(), String.join(", ", u.scopes())));
            }
            for (HostReport.Atsr u : d.atsrs()) {
                li(sb, String.format("ATSR segment %d%s %s", u.segment(), u.allPorts() ? " ALL_PORTS" : "",
                        String.join(", ", u.scopes())));
            }
            for (String p : d.problems()) {
                li(sb, "problem: " + p);
            }
            sb.append("</ul>\n");
        }
        if (!io.units().isEmpty()) {
            sb.append("<h3>IOMMU units</h3>\n<ul class=\"units\">\n");
            for (Unit u : io.units()) {
                li(sb, u.name() + " (" + u.kind() + ")" + (u.address() == null ? "" : " at " + u.address())
                        + (u.cap() == null ? "" : " cap " + u.cap() + " ecap " + u.ecap())
                        + (u.features().isEmpty() ? "" : ": " + String.join(" ", u.features())));
            }
            sb.append("</ul>\n");
        }
        sb.append("<h3>Checks</h3>\n<table class=\"checks\">\n<thead><tr><th>Status</th><th>Check</th><th>Detail</th></tr></thead>\n<tbody>\n");
        for (Check c : r.checks()) {
            sb.append("<tr data-check=\"").append(escape(c.id())).append("\" class=\"status-")
                    .append(c.status().name().toLowerCase()).append("\"><td>").append(c.status()).append("</td><td>")
                    .append(escape(c.title())).append("</td><td>").append(escape(c.detail())).append("</td></tr>\n");
        }
        sb.append("</tbody>\n</table>\n</section>\n");
    }

    private static void fact(StringBuilder sb, String key, String label, String value) {
        sb.append("<dt>").append(escape(label)).append("</dt><dd data-fact=\"").append(key).append("\">")
                .append(escape(value)).append("</dd>\n");
    }

    private static void reasonsList(StringBuilder sb, String cls, String title, List<String> reasons) {
        if (reasons.isEmpty()) {
            return;
        }
        sb.append("<h3>").append(escape(title)).append("</h3>\n<ul class=\"").append(cls).append("\">\n");
        reasons.forEach(x -> li(sb, x));
        sb.append("</ul>\n");
    }

    private static void li(StringBuilder sb, String text) {
        sb.append("<li>").append(escape(text)).append("</li>\n");
    }

    // ---------------------------------------------------------------- topology

    /**
     * The PCI tree: each root bus, under it the functions whose parent is no bridge of the report,
     * under each bridge the functions behind it. Adjacent siblings of one IOMMU group share a box;
     * a function in the group of the box it sits in gets none of its own (the bridge and what is
     * behind it in one group, as without ACS).
     */
    private static void topology(StringBuilder sb, HostReport r, java.util.Set<String> planned) {
        sb.append("<section id=\"topology\">\n<h2>Topology</h2>\n");
        Map<String, String> marks = new LinkedHashMap<>();
        planned.forEach(b -> marks.put(b, PLANNED));
        tree(sb, r, marks);
        sb.append("</section>\n");
    }

    /** The mark of a function that a {@code host plan} moves. */
    private static final String PLANNED = "in the plan";

    /**
     * The PCI tree of {@code r} with its legend, as the host report draws it (root buses, bridges,
     * functions, every IOMMU group a {@code li.group} box), for pages that show a host among other
     * things ({@code viommu tour}). {@code marks} labels functions (BDF to a short text, e.g. "assigned
     * to the VM"): each gets {@code data-mark} and the label beside it.
     */
    public static String topologyTree(HostReport r, Map<String, String> marks) {
        StringBuilder sb = new StringBuilder(4096);
        tree(sb, r, marks);
        return sb.toString();
    }

    /** The page's style sheet, for pages that embed {@link #topologyTree}. */
    public static String css() {
        return CSS;
    }

    private static void tree(StringBuilder sb, HostReport r, Map<String, String> marks) {
        Map<String, Device> byBdf = new LinkedHashMap<>();
        r.devices().forEach(d -> byBdf.put(d.address(), d));
        Map<String, List<Device>> children = new TreeMap<>();
        Map<String, List<Device>> roots = new TreeMap<>();
        for (Device d : r.devices()) {
            if (d.parent() != null && byBdf.containsKey(d.parent())) {
                children.computeIfAbsent(d.parent(), k -> new ArrayList<>()).add(d);
            } else {
                roots.computeIfAbsent(rootBus(d.address()), k -> new ArrayList<>()).add(d);
            }
        }
        Map<Integer, Group> groups = new LinkedHashMap<>();
        r.groups().forEach(g -> groups.put(g.id(), g));
        sb.append("<p class=\"legend\"><span class=\"badge v-assignable\">assignable</span> ")
                .append("<span class=\"badge v-assignable-with-group\">assignable with its group</span> ")
                .append("<span class=\"badge v-blocked\">blocked</span> ")
                .append("<span class=\"badge v-not-a-candidate\">not a candidate (bridge, chipset)</span> ")
                .append("<span class=\"group-sample\">IOMMU group</span></p>\n");
        if (r.devices().isEmpty()) {
            sb.append("<p>No PCI devices.</p>\n");
        }
        sb.append("<ul class=\"tree\">\n");
        Map<Integer, Integer> parts = new TreeMap<>();
        for (Map.Entry<String, List<Device>> bus : roots.entrySet()) {
            sb.append("<li class=\"bus\" data-bus=\"").append(escape(bus.getKey())).append("\"><span class=\"bus-label\">")
                    .append(escape(bus.getKey())).append(" (root bus)</span>\n");
            siblings(sb, bus.getValue(), null, children, groups, parts, marks);
            sb.append("</li>\n");
        }
        sb.append("</ul>\n");
    }

    /** "pci0000:00" for "0000:00:1c.0": the kernel's name for the root bus a parentless function sits on. */
    static String rootBus(String bdf) {
        int dev = bdf.lastIndexOf(':');
        return "pci" + (dev > 0 ? bdf.substring(0, dev) : bdf);
    }

    private static void siblings(StringBuilder sb, List<Device> list, Integer enclosing, Map<String, List<Device>> children,
                                 Map<Integer, Group> groups, Map<Integer, Integer> parts, Map<String, String> marks) {
        sb.append("<ul>\n");
        int i = 0;
        while (i < list.size()) {
            Integer g = list.get(i).group();
            int j = i;
            while (j < list.size() && Objects.equals(list.get(j).group(), g)) {
                j++;
            }
            boolean box = g != null && !g.equals(enclosing);
            if (box) {
                int part = parts.merge(g, 1, Integer::sum);
                groupBoxOpen(sb, groups.get(g), g, part);
            }
            for (Device d : list.subList(i, j)) {
                node(sb, d, children, groups, parts, marks);
            }
            if (box) {
                sb.append("</ul>\n</li>\n");
            }
            i = j;
        }
        sb.append("</ul>\n");
    }

    private static void groupBoxOpen(StringBuilder sb, Group grp, int id, int part) {
        sb.append("<li class=\"group").append(grp != null && grp.viable() ? " viable" : "").append("\" data-group=\"")
                .append(id).append('"');
        if (part > 1) {
            sb.append(" data-part=\"").append(part).append('"');
        } else {
            sb.append(" id=\"group-").append(id).append('"');
        }
        sb.append(">\n<div class=\"group-label\">IOMMU group ").append(id);
        if (part > 1) {
            sb.append(" (continued)");
        }
        if (grp != null) {
            if (grp.type() != null) {
                sb.append(" <span class=\"gtype\">").append(escape(grp.type())).append("</span>");
            }
            sb.append(grp.viable() ? " <span class=\"gstate\">viable for VFIO</span>"
                    : " <span class=\"gstate busy\">host drivers: " + escape(String.join(", ", grp.driversInUse())) + "</span>");
        }
        sb.append("</div>\n<ul>\n");
    }

    private static void node(StringBuilder sb, Device d, Map<String, List<Device>> children, Map<Integer, Group> groups,
                             Map<Integer, Integer> parts, Map<String, String> marks) {
        String verdict = d.assignment().verdict();
        List<Device> below = children.getOrDefault(d.address(), List.of());
        sb.append("<li class=\"node").append(below.isEmpty() ? "" : " bridge").append("\">\n<div class=\"dev v-")
                .append(escape(verdict)).append("\" data-bdf=\"").append(escape(d.address())).append('"');
        if (d.group() != null) {
            sb.append(" data-group=\"").append(d.group()).append('"');
        }
        String mark = marks.get(d.address());
        if (PLANNED.equals(mark)) {
            sb.append(" data-planned=\"true\"");
        } else if (mark != null) {
            sb.append(" data-mark=\"").append(escape(mark)).append('"');
        }
        sb.append(" data-verdict=\"").append(escape(verdict)).append("\">");
        sb.append("<a class=\"bdf\" href=\"#dev-").append(escape(d.address())).append("\">").append(escape(d.address()))
                .append("</a> <span class=\"id\">").append(escape(d.id())).append("</span> <span class=\"name\">")
                .append(escape(d.description())).append("</span> <span class=\"driver\">")
                .append(d.driver() == null ? "no driver" : escape(d.driver())).append("</span> <span class=\"badge v-")
                .append(escape(verdict)).append("\">").append(escape(verdictText(verdict))).append("</span>");
        if (mark != null) {
            sb.append(" <span class=\"planned\">").append(escape(mark)).append("</span>");
        }
        if (d.physfn() != null) {
            sb.append(" <span class=\"vf\">VF of ").append(escape(d.physfn())).append("</span>");
        }
        if (!d.hostUses().isEmpty()) {
            sb.append(" <span class=\"uses\">host uses: ").append(escape(String.join(", ", d.hostUses()))).append("</span>");
        }
        List<Reason> blockers = d.assignment().reasons().stream().filter(x -> x.severity() == Severity.BLOCKER).toList();
        if (!blockers.isEmpty()) {
            sb.append("\n<ul class=\"blockers\">");
            blockers.forEach(b -> sb.append("<li class=\"blocker\">").append(escape(b.message())).append("</li>"));
            sb.append("</ul>");
        }
        sb.append("</div>\n");
        if (!below.isEmpty()) {
            siblings(sb, below, d.group(), children, groups, parts, marks);
        }
        sb.append("</li>\n");
    }

    private static String verdictText(String verdict) {
        return switch (verdict) {
            case "assignable-with-group" -> "assignable with group";
            case "not-a-candidate" -> "not a candidate";
            default -> verdict;
        };
    }

    // ---------------------------------------------------------------- a plan

    /** A PLAN.json of {@code host plan}: its targets and members, findings with fixes, the commands, persistence. */
    private static void plan(StringBuilder sb, BindPlan p) {
        sb.append("<section id=\"plan\" data-ready=\"").append(p.ready()).append("\">\n<h2>Plan</h2>\n<p>For ")
                .append(escape(p.use())).append(": ").append(escape(String.join(" ", p.requested())))
                .append(p.ready() ? " (ready to apply)" : " (blocked)").append("</p>\n");
        List<BindPlan.Finding> findings = new ArrayList<>(p.hostFindings());
        sb.append("<table class=\"plan\">\n<thead><tr><th>Device</th><th>Group</th><th>Member</th><th>Driver now</th>")
                .append("<th>Action</th><th>Host uses</th></tr></thead>\n<tbody>\n");
        for (BindPlan.Target t : p.targets()) {
            findings.addAll(t.findings());
            for (BindPlan.Member m : t.members()) {
                sb.append("<tr data-plan-member=\"").append(escape(m.address())).append("\"><td>").append(escape(t.device()))
                        .append("</td><td>").append(t.group() == null ? "none" : t.group()).append("</td><td>")
                        .append(escape(m.address() + " " + m.id() + " " + m.description())).append("</td><td>")
                        .append(m.driver() == null ? "none" : escape(m.driver())).append("</td><td>").append(escape(m.action()))
                        .append("</td><td>").append(escape(String.join(", ", m.uses()))).append("</td></tr>\n");
            }
        }
        sb.append("</tbody>\n</table>\n");
        if (!findings.isEmpty()) {
            sb.append("<ul class=\"findings\">\n");
            for (BindPlan.Finding f : findings) {
                String sev = f.severity().name().toLowerCase();
                sb.append("<li class=\"sev-").append(sev).append("\"><b>").append(sev).append(":</b> ").append(escape(f.what()))
                        .append(f.fix().isEmpty() ? "" : "<br/>fix: " + escape(f.fix())).append("</li>\n");
            }
            sb.append("</ul>\n");
        }
        if (!p.commands().isEmpty()) {
            sb.append("<p>Commands, in order:</p>\n<pre class=\"commands\">").append(escape(String.join("\n", p.commands())))
                    .append("</pre>\n");
        }
        if (!p.persistence().isEmpty()) {
            sb.append("<p>To keep it across reboots (offered, not done):</p>\n<ul class=\"persistence\">\n");
            p.persistence().forEach(x -> li(sb, x));
            sb.append("</ul>\n");
        }
        sb.append("</section>\n");
    }

    // ---------------------------------------------------------------- the scan

    private static void scan(StringBuilder sb, HostReport r) {
        sb.append("<section id=\"scan\">\n<h2>Scan</h2>\n");
        if (!r.groups().isEmpty()) {
            sb.append("<h3>IOMMU groups</h3>\n<table class=\"groups\">\n<thead><tr><th>Group</th><th>Type</th>")
                    .append("<th>Members</th><th>Viable</th><th>Host drivers</th><th>Reserved regions</th></tr></thead>\n<tbody>\n");
            for (Group g : r.groups()) {
                sb.append("<tr data-group-row=\"").append(g.id()).append("\"><td><a href=\"#group-").append(g.id()).append("\">")
                        .append(g.id()).append("</a></td><td>").append(escape(g.type() == null ? "?" : g.type())).append("</td><td>")
                        .append(escape(String.join(" ", g.devices()))).append("</td><td>").append(g.viable() ? "yes" : "no")
                        .append("</td><td>").append(escape(String.join(", ", g.driversInUse()))).append("</td><td>")
                        .append(escape(String.join("; ", g.reservedRegions()))).append("</td></tr>\n");
            }
            sb.append("</tbody>\n</table>\n");
        }
        sb.append("<h3>Devices</h3>\n<table class=\"devices\">\n<thead><tr><th>Address</th><th>Id</th><th>Device</th>")
                .append("<th>Driver</th><th>Group</th><th>PCIe</th><th>Reset</th><th>Assignment</th></tr></thead>\n<tbody>\n");
        for (Device d : r.devices()) {
            sb.append("<tr data-bdf=\"").append(escape(d.address())).append("\" class=\"v-").append(escape(d.assignment().verdict()))
                    .append("\"><td><a href=\"#dev-").append(escape(d.address())).append("\">").append(escape(d.address()))
                    .append("</a></td><td>").append(escape(d.id())).append("</td><td>").append(escape(d.description()))
                    .append("</td><td>").append(d.driver() == null ? "none" : escape(d.driver())).append("</td><td>")
                    .append(d.group() == null ? "none" : d.group()).append("</td><td>")
                    .append(escape(d.pcieType() == null ? "?" : d.pcieType())).append("</td><td>")
                    .append(escape(d.reset().methods().isEmpty() ? "none" : String.join(" ", d.reset().methods())))
                    .append("</td><td>").append(escape(verdictText(d.assignment().verdict())))
                    .append(d.assignment().mustGoWith().isEmpty() ? ""
                            : " with " + escape(String.join(", ", d.assignment().mustGoWith())))
                    .append("</td></tr>\n");
        }
        sb.append("</tbody>\n</table>\n");
        for (Device d : r.devices()) {
            details(sb, d);
        }
        sb.append("</section>\n");
    }

    private static void details(StringBuilder sb, Device d) {
        HostReport.Assignment a = d.assignment();
        sb.append("<details class=\"device\" id=\"dev-").append(escape(d.address())).append("\"")
                .append(a.verdict().equals("not-a-candidate") ? "" : " open=\"open\"").append(">\n<summary>")
                .append(escape(d.address())).append(' ').append(escape(d.id())).append(' ').append(escape(d.description()))
                .append(": ").append(escape(verdictText(a.verdict()))).append("</summary>\n<ul class=\"props\">\n");
        li(sb, "subsystem " + d.subsystem() + ", class " + d.classCode() + (d.multifunction() ? ", multifunction" : ""));
        if (!d.capabilities().isEmpty()) {
            li(sb, "capabilities: " + String.join(" ", d.capabilities()));
        }
        li(sb, "reset: " + (d.reset().methods().isEmpty() ? "none" : String.join(" ", d.reset().methods()))
                + (d.reset().source().equals("inferred") ? " (inferred)" : ""));
        if (d.sriov() != null) {
            li(sb, "SR-IOV: " + d.sriov().numVfs() + " of " + d.sriov().totalVfs() + " VFs enabled"
                    + (d.sriov().vfs().isEmpty() ? "" : ": " + String.join(" ", d.sriov().vfs())));
        }
        for (HostReport.AcsHop hop : d.acsPath()) {
            li(sb, "above: " + hop.bridge() + " " + hop.type() + (hop.acsCap() == null ? ""
                    : " ACS cap " + hop.acsCap() + " ctrl " + hop.acsCtrl()) + ": " + hop.effect());
        }
        sb.append("</ul>\n");
        if (!a.reasons().isEmpty()) {
            sb.append("<ul class=\"reasons\">\n");
            for (Reason x : a.reasons()) {
                String sev = x.severity().name().toLowerCase();
                sb.append("<li class=\"sev-").append(sev).append("\"><b>").append(sev).append(":</b> ")
                        .append(escape(x.message())).append("</li>\n");
            }
            sb.append("</ul>\n");
        }
        if (!a.steps().isEmpty()) {
            sb.append("<p>Steps:</p>\n<pre class=\"steps\">").append(escape(String.join("\n", a.steps()))).append("</pre>\n")
                    .append("<p>QEMU:</p>\n<pre class=\"qemu\">").append(escape(String.join(" ", a.qemu()))).append("</pre>\n")
                    .append("<p>libvirt:</p>\n<pre class=\"libvirt\">").append(escape(a.libvirt())).append("</pre>\n");
        }
        sb.append("</details>\n");
    }

    /** Text and attribute values: the five characters HTML gives meaning to. */
    public static String escape(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder out = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    private static final String CSS = """
            body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; background: #fff; }
            h1 { margin: 0 0 .2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
            .source { color: #555; margin: 0; } .verdict { font-weight: 600; font-size: 1.1em; }
            dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
            dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; font-family: ui-monospace, monospace; }
            table { border-collapse: collapse; margin: .5em 0; } th, td { border: 1px solid #ccc; padding: .2em .5em;
              text-align: left; vertical-align: top; } th { background: #f0f0f0; }
            tr.status-pass td:first-child { color: #1a7f37; } tr.status-fail td:first-child { color: #b42318; }
            tr.status-warn td:first-child { color: #9a6700; }
            ul.tree, ul.tree ul { list-style: none; padding-left: 1.4em; margin: .2em 0; }
            ul.tree { padding-left: 0; } ul.tree li { margin: .25em 0; }
            li.node, li.bus { border-left: 1px dotted #999; padding-left: .6em; }
            .bus-label { font-weight: 600; font-family: ui-monospace, monospace; }
            li.group { border: 2px solid #3b6fd8; border-radius: 6px; padding: .3em .5em .3em .3em;
              background: rgba(59, 111, 216, .05); }
            li.group > ul { padding-left: .4em; }
            .group-label { font-weight: 600; color: #2450a6; } .gtype, .gstate { font-weight: normal; color: #555; }
            .gstate.busy { color: #9a6700; }
            .dev { display: inline-block; border: 1px solid #bbb; border-left-width: 6px; border-radius: 4px;
              padding: .15em .5em; background: #fafafa; }
            .dev .bdf { font-family: ui-monospace, monospace; font-weight: 600; } .dev .id { font-family: ui-monospace, monospace; color: #555; }
            .dev .planned { background: #3b6fd8; color: #fff; border-radius: 3px; padding: 0 .4em; font-size: .85em; }
            .dev .driver { font-style: italic; } .dev .vf, .dev .uses { color: #555; }
            .v-assignable { border-left-color: #1a7f37; } .v-assignable-with-group { border-left-color: #7ab648; }
            .v-blocked { border-left-color: #b42318; } .v-not-a-candidate { border-left-color: #aaa; }
            .badge { display: inline-block; border-radius: 3px; padding: 0 .4em; font-size: .85em; color: #fff; border: 0; }
            .badge.v-assignable { background: #1a7f37; } .badge.v-assignable-with-group { background: #5c9a2e; }
            .badge.v-blocked { background: #b42318; } .badge.v-not-a-candidate { background: #888; }
            .group-sample { border: 2px solid #3b6fd8; border-radius: 6px; padding: 0 .4em; }
            ul.blockers { list-style: none; padding-left: .5em; margin: .2em 0 0; }
            li.blocker { color: #b42318; } li.blocker::before { content: "blocker: "; font-weight: 600; }
            details.device { border: 1px solid #ddd; border-radius: 4px; margin: .4em 0; padding: .3em .6em; }
            details.device:target { outline: 2px solid #3b6fd8; }
            details.device summary { font-family: ui-monospace, monospace; cursor: pointer; }
            .sev-blocker { color: #b42318; } .sev-action { color: #9a6700; } .sev-warning { color: #8a4b00; }
            pre { background: #f6f8fa; padding: .4em; overflow-x: auto; }
            """;
}
