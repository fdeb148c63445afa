package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * {@code host report --html} checked by structure, not bytes: the page is parsed (it is
 * well-formed XML by design) and every group, device, blocker, scan row and host fact of the
 * report is looked up by the data attributes the page documents.
 */
class HostReportHtmlTest {
    /** A device name as hostile as pci.ids or a sysfs string could make it. */
    static final String HOSTILE_NAME = "<script>window.pwned=2</script> R&D \"Fast\" & 'Co' &lt;";

    static Stream<Path> trees() {
        return Stream.of(Trees.INTEL_VTD, Trees.INTEL_VTD_OFF, Trees.FIRECRACKER_VM);
    }

    @ParameterizedTest
    @MethodSource("trees")
    void savedTreesDrawEveryGroupAndDevice(Path tree) throws Exception {
        checkStructure(Trees.report(tree));
    }

    @Test
    void theModelHostDrawsEveryGroupAndDeviceInItsTreePlace(@TempDir Path dir) throws Exception {
        HostReport r = TopologyHost.report(dir);
        assertThat(r.groups()).hasSizeGreaterThan(8);
        assertThat(r.devices()).anyMatch(d -> d.physfn() != null);
        Document doc = checkStructure(r);
        // the PCIe-to-PCI bridge and both functions behind it are one group: one box, no inner box
        HostReport.Device edu = r.devices().stream().filter(d -> d.id().equals("1234:11e8")).findFirst().orElseThrow();
        HostReport.Device bridge = Trees.device(r, edu.parent());
        assertThat(bridge.group()).isEqualTo(edu.group());
        assertThat(nodes(doc, "//li[contains(@class,'group') and @data-group='" + edu.group() + "']")).hasSize(1);
        // the host's kernel arguments, HTML included, shown as text
        assertThat(text(doc, "//dd[@data-fact='cmdline']")).contains(TopologyHost.HOSTILE_ARG);
    }

    @Test
    void hostileNamesAndArgumentsAreTextNotMarkup(@TempDir Path dir) throws Exception {
        HostReport r = renamed(TopologyHost.report(dir), d -> HOSTILE_NAME);
        String page = HostReportHtml.format(r);
        assertThat(page).doesNotContain("<script").contains("&lt;script&gt;window.pwned=2&lt;/script&gt; R&amp;D &quot;Fast&quot;")
                .contains("&amp;lt;").contains("&amp;amp;x=&#39;y&#39;");
        Document doc = parse(page);
        assertThat(nodes(doc, "//*[local-name()='script']")).isEmpty();
        for (HostReport.Device d : r.devices()) {
            assertThat(text(doc, "//div[@data-bdf='" + d.address() + "']/span[@class='name']")).isEqualTo(HOSTILE_NAME);
        }
        checkStructure(r);
    }

    @Test
    void thePageIsSelfContainedAndTheSameForTheSameHost(@TempDir Path a, @TempDir Path b) throws Exception {
        String one = HostReportHtml.format(TopologyHost.report(a));
        String two = HostReportHtml.format(TopologyHost.report(b));
        assertThat(one.replace(a.toString(), "DIR")).isEqualTo(two.replace(b.toString(), "DIR"));
        assertThat(one).doesNotContainIgnoringCase("http:").doesNotContainIgnoringCase("https:")
                .doesNotContain(" src=").doesNotContain("url(").doesNotContain("@import")
                .contains("Content-Security-Policy\" content=\"default-src 'none'");
    }

    /** The host of docs/examples/plan-host.args with a plan for its edu (multifunction with an e1000). */
    record Planned(HostReport report, BindPlan plan) {
        static Planned edu() throws Exception {
            String args = java.nio.file.Files.readString(Path.of("docs/examples/plan-host.args")).strip();
            ModelHost.Boot b = ModelHost.boot(args, null);
            assertThat(b.error()).isNull();
            BindPlan plan = BindPlanner.plan(b.host(), new BindPlanner.Request(List.of("0000:00:05.0"), "qemu", false, null));
            return new Planned(HostPlanner.plan(HostReader.read(b.host())), plan);
        }
    }

    @Test
    void aPlanHasItsSectionAndItsMembersAreMarkedInTheTree() throws Exception {
        Planned p = Planned.edu();
        Document doc = parse(HostReportHtml.format(p.report(), p.plan()));
        Set<String> members = new TreeSet<>();
        p.plan().targets().forEach(t -> t.members().forEach(m -> members.add(m.address())));
        assertThat(members).containsExactly("0000:00:05.0", "0000:00:05.1");
        Set<String> marked = new TreeSet<>();
        for (Element e : nodes(doc, "//div[@data-planned='true']")) {
            marked.add(e.getAttribute("data-bdf"));
        }
        assertThat(marked).isEqualTo(members);
        Set<String> rows = new TreeSet<>();
        for (Element e : nodes(doc, "//section[@id='plan']//tr[@data-plan-member]")) {
            rows.add(e.getAttribute("data-plan-member"));
        }
        assertThat(rows).isEqualTo(members);
        assertThat(text(doc, "//section[@id='plan']//pre[@class='commands']")).isEqualTo(String.join("\n", p.plan().commands()));
        assertThat(nodes(doc, "//section[@id='plan']").get(0).getAttribute("data-ready")).isEqualTo(Boolean.toString(p.plan().ready()));
        // without a plan: no section, nothing marked
        Document none = parse(HostReportHtml.format(p.report()));
        assertThat(nodes(none, "//section[@id='plan']")).isEmpty();
        assertThat(nodes(none, "//div[@data-planned]")).isEmpty();
    }

    @Test
    void rootBusIsTheKernelsNameForTheBus() {
        assertThat(HostReportHtml.rootBus("0000:00:1c.0")).isEqualTo("pci0000:00");
        assertThat(HostReportHtml.rootBus("0001:80:02.0")).isEqualTo("pci0001:80");
    }

    /**
     * Every group has a box; every function is in the tree once, inside the box of its own group,
     * below the tree node of its parent bridge; every blocker is shown with it; every function
     * has a scan row and details; every check has a row; the host facts are the report's.
     */
    static Document checkStructure(HostReport r) throws Exception {
        Document doc = parse(HostReportHtml.format(r));
        Set<String> boxes = new TreeSet<>();
        for (Element e : nodes(doc, "//li[contains(concat(' ',@class,' '),' group ')]")) {
            boxes.add(e.getAttribute("data-group"));
        }
        Set<String> groups = new TreeSet<>();
        r.groups().forEach(g -> groups.add(Integer.toString(g.id())));
        assertThat(boxes).isEqualTo(groups);
        for (HostReport.Group g : r.groups()) {
            assertThat(nodes(doc, "//li[@id='group-" + g.id() + "']")).as("group %d", g.id()).hasSize(1);
        }
        assertThat(nodes(doc, "//div[contains(concat(' ',@class,' '),' dev ')]")).hasSize(r.devices().size());
        for (HostReport.Device d : r.devices()) {
            List<Element> dev = nodes(doc, "//div[contains(concat(' ',@class,' '),' dev ') and @data-bdf='" + d.address() + "']");
            assertThat(dev).as(d.address()).hasSize(1);
            Element div = dev.get(0);
            assertThat(div.getAttribute("data-verdict")).isEqualTo(d.assignment().verdict());
            Element box = ancestor(div, "group");
            if (d.group() != null) {
                assertThat(div.getAttribute("data-group")).isEqualTo(d.group().toString());
                assertThat(box).as("group box around %s", d.address()).isNotNull();
                assertThat(box.getAttribute("data-group")).as(d.address()).isEqualTo(d.group().toString());
            } else {
                assertThat(box).as(d.address()).isNull();
            }
            Element node = (Element) div.getParentNode();
            assertThat(node.getAttribute("class")).startsWith("node");
            Element up = ancestor(node, "node");
            if (d.parent() != null && r.devices().stream().anyMatch(p -> p.address().equals(d.parent()))) {
                assertThat(up).as("parent node of %s", d.address()).isNotNull();
                assertThat(firstDev(up).getAttribute("data-bdf")).isEqualTo(d.parent());
            } else {
                assertThat(up).isNull();
                assertThat(ancestor(node, "bus").getAttribute("data-bus")).isEqualTo(HostReportHtml.rootBus(d.address()));
            }
            List<String> blockers = new ArrayList<>();
            for (Element li : nodes(div, ".//li[@class='blocker']")) {
                blockers.add(li.getTextContent());
            }
            assertThat(blockers).containsExactlyElementsOf(d.assignment().reasons().stream()
                    .filter(x -> x.severity() == HostReport.Severity.BLOCKER).map(HostReport.Reason::message).toList());
            assertThat(nodes(doc, "//table[@class='devices']//tr[@data-bdf='" + d.address() + "']")).hasSize(1);
            assertThat(nodes(doc, "//details[@id='dev-" + d.address() + "']")).hasSize(1);
        }
        for (HostReport.Check c : r.checks()) {
            assertThat(nodes(doc, "//tr[@data-check='" + c.id() + "']")).hasSize(1);
        }
        assertThat(text(doc, "//dd[@data-fact='kernel']")).isEqualTo(r.host().kernel().isEmpty() ? "?" : r.host().kernel());
        assertThat(text(doc, "//dd[@data-fact='cmdline']"))
                .isEqualTo(r.host().cmdline().isEmpty() ? "none" : String.join(" ", r.host().cmdline()));
        assertThat(text(doc, "//dd[@data-fact='irq-remapping']")).startsWith(r.interruptRemapping().state());
        assertThat(text(doc, "//dd[@data-fact='iommu']")).startsWith(r.iommu().enabled() ? "enabled" : "none");
        assertThat(text(doc, "//p[@id='verdict']")).isEqualTo(r.summary().verdict());
        return doc;
    }

    static HostReport renamed(HostReport r, UnaryOperator<String> name) {
        List<HostReport.Device> devices = r.devices().stream().map(d -> new HostReport.Device(d.address(), d.id(),
                d.subsystem(), d.classCode(), name.apply(d.description()), d.driver(), d.group(), d.parent(), d.pcieType(),
                d.multifunction(), d.capabilities(), d.acsPath(), d.reset(), d.sriov(), d.physfn(), d.hostUses(),
                d.assignment())).toList();
        return new HostReport(r.schema(), r.source(), r.host(), r.checks(), r.iommu(), r.interruptRemapping(), r.groups(),
                devices, r.summary());
    }

    static Document parse(String page) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", false);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(page.getBytes(StandardCharsets.UTF_8)));
    }

    static List<Element> nodes(Object from, String xpath) throws Exception {
        NodeList list = (NodeList) XPathFactory.newInstance().newXPath().evaluate(xpath, from, XPathConstants.NODESET);
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < list.getLength(); i++) {
            out.add((Element) list.item(i));
        }
        return out;
    }

    static String text(Document doc, String xpath) throws Exception {
        List<Element> found = nodes(doc, xpath);
        assertThat(found).as(xpath).hasSize(1);
        return found.get(0).getTextContent();
    }

    /** The nearest strict ancestor {@code li} whose class list holds {@code cls}, or null. */
    static Element ancestor(Element e, String cls) {
        for (Node n = e.getParentNode(); n instanceof Element p; n = p.getParentNode()) {
            if (p.getTagName().equals("li") && (" " + p.getAttribute("class") + " ").contains(" " + cls + " ")) {
                return p;
            }
        }
        return null;
    }

    private static Element firstDev(Element node) {
        for (Node n = node.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element el && el.getTagName().equals("div")) {
                return el;
            }
        }
        throw new AssertionError("tree node without its device");
    }
}
