package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Rectangle;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;

/**
 * The host report page in a real browser: Debian's chromium driven by Debian's chromedriver
 * through Selenium (nothing downloaded: both executables are given, so Selenium Manager is not
 * asked). Each page is opened from a file: URL; every IOMMU group box and every PCI function of
 * the host must be on it and drawn (the device box inside its group box), the page must log no
 * error (script errors and Content-Security-Policy refusals both land in the browser log) and
 * load nothing. Screenshots and the pages are kept in target/host-report/.
 *
 * <p>Without /usr/bin/chromium and /usr/bin/chromedriver the test fails when the CI variable is
 * set (.ci/run installs both) and is skipped otherwise.
 */
class HostReportBrowserTest {
    static final Path ARTIFACTS = Path.of("target/host-report");

    static ChromeDriver browser;

    @BeforeAll
    static void startBrowser() throws Exception {
        browser = HeadlessChromium.start("the host report browser test");
        Files.createDirectories(ARTIFACTS);
    }

    @AfterAll
    static void stopBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    @Test
    void theModelHostPageShowsEveryGroupAndDeviceWithoutErrors(@TempDir Path dir) throws Exception {
        HostReport r = TopologyHost.report(dir.resolve("tree"));
        open(r, "model-host");
        checkPage(r);
        assertThat(browser.findElement(By.cssSelector("dd[data-fact='cmdline']")).getText()).contains(TopologyHost.HOSTILE_ARG);
        screenshot("model-host");
    }

    @Test
    void hostileDeviceNamesShowAsTextAndRunNothing(@TempDir Path dir) throws Exception {
        HostReport r = HostReportHtmlTest.renamed(TopologyHost.report(dir.resolve("tree")),
                n -> HostReportHtmlTest.HOSTILE_NAME);
        open(r, "hostile-names");
        checkPage(r);
        for (WebElement name : browser.findElements(By.cssSelector("div.dev .name"))) {
            assertThat(name.getText()).isEqualTo(HostReportHtmlTest.HOSTILE_NAME.strip());
        }
        assertThat(((JavascriptExecutor) browser).executeScript("return typeof window.pwned")).isEqualTo("undefined");
    }

    @Test
    void aPlanIsDrawnIn() throws Exception {
        HostReportHtmlTest.Planned p = HostReportHtmlTest.Planned.edu();
        Path page = ARTIFACTS.resolve("model-host-plan.html").toAbsolutePath();
        Files.writeString(page, HostReportHtml.format(p.report(), p.plan()));
        errors();
        browser.manage().window().setSize(new Dimension(1400, 1000));
        browser.get(page.toUri().toString());
        checkPage(p.report());
        assertThat(browser.findElement(By.id("plan")).isDisplayed()).isTrue();
        List<String> marked = browser.findElements(By.cssSelector("div.dev[data-planned='true']")).stream()
                .map(e -> e.getAttribute("data-bdf")).toList();
        assertThat(marked).containsExactly("0000:00:05.0", "0000:00:05.1");
        for (WebElement e : browser.findElements(By.cssSelector("div.dev[data-planned='true'] .planned"))) {
            assertThat(e.getText()).isEqualTo("in the plan");
        }
        screenshot("model-host-plan");
    }

    @Test
    void savedHostTreesShowEveryGroupAndDevice() throws Exception {
        for (Path tree : List.of(Trees.INTEL_VTD, Trees.FIRECRACKER_VM)) {
            HostReport r = Trees.report(tree);
            open(r, tree.getFileName().toString());
            checkPage(r);
            screenshot(tree.getFileName().toString());
        }
    }

    /** The error check itself can fail: a page whose script throws shows up in the log it reads. */
    @Test
    void aScriptErrorIsSeenByTheCheck(@TempDir Path dir) throws Exception {
        Path page = dir.resolve("throws.html");
        Files.writeString(page, "<!DOCTYPE html><html><body><p>x</p><script>throw new Error('probe-4711')</script></body></html>");
        browser.get(page.toUri().toString());
        assertThat(errors()).anyMatch(e -> e.contains("probe-4711"));
    }

    static void open(HostReport r, String name) throws Exception {
        Path page = ARTIFACTS.resolve(name + ".html").toAbsolutePath();
        Files.writeString(page, HostReportHtml.format(r));
        errors(); // drop what earlier pages logged
        browser.manage().window().setSize(new Dimension(1400, 1000));
        browser.get(page.toUri().toString());
    }

    /** Every group box and device of R drawn, each device box inside its group box; no errors, no loads. */
    static void checkPage(HostReport r) {
        JavascriptExecutor js = browser;
        assertThat(js.executeScript("return document.readyState")).isEqualTo("complete");
        Set<String> boxes = new TreeSet<>();
        for (WebElement g : browser.findElements(By.cssSelector("li.group"))) {
            assertThat(g.isDisplayed()).isTrue();
            boxes.add(g.getAttribute("data-group"));
        }
        Set<String> groups = new TreeSet<>();
        r.groups().forEach(g -> groups.add(Integer.toString(g.id())));
        assertThat(boxes).isEqualTo(groups);
        assertThat(browser.findElements(By.cssSelector("div.dev"))).hasSize(r.devices().size());
        for (HostReport.Device d : r.devices()) {
            List<WebElement> found = browser.findElements(By.cssSelector("div.dev[data-bdf='" + d.address() + "']"));
            assertThat(found).as(d.address()).hasSize(1);
            WebElement dev = found.get(0);
            assertThat(dev.isDisplayed()).as(d.address()).isTrue();
            assertThat(dev.findElement(By.cssSelector(".bdf")).getText()).isEqualTo(d.address());
            assertThat(dev.findElement(By.cssSelector(".id")).getText()).isEqualTo(d.id());
            assertThat(dev.getAttribute("data-verdict")).isEqualTo(d.assignment().verdict());
            Object box = js.executeScript("var b = arguments[0].closest('li.group'); return b && b.dataset.group", dev);
            if (d.group() == null) {
                assertThat(box).as(d.address()).isNull();
                continue;
            }
            assertThat(box).as(d.address()).isEqualTo(d.group().toString());
            WebElement group = (WebElement) js.executeScript("return arguments[0].closest('li.group')", dev);
            Rectangle in = dev.getRect();
            Rectangle out = group.getRect();
            assertThat(in.x >= out.x && in.y >= out.y && in.x + in.width <= out.x + out.width
                    && in.y + in.height <= out.y + out.height).as("%s drawn inside group box %s", d.address(), d.group()).isTrue();
            long blockers = d.assignment().reasons().stream().filter(x -> x.severity() == HostReport.Severity.BLOCKER).count();
            assertThat(dev.findElements(By.cssSelector("li.blocker"))).hasSize((int) blockers);
        }
        assertThat(browser.findElements(By.cssSelector("table.devices tbody tr"))).hasSize(r.devices().size());
        assertThat(errors()).as("browser log errors").isEmpty();
        assertThat(js.executeScript("return performance.getEntriesByType('resource').length")).isEqualTo(0L);
    }

    /** SEVERE browser log entries since the last call: uncaught script errors, CSP refusals, failed loads. */
    static List<String> errors() {
        return HeadlessChromium.errors(browser);
    }

    /** A whole-page screenshot into target/host-report/NAME.png, kept as a build artifact. */
    static void screenshot(String name) throws Exception {
        assertThat(HeadlessChromium.screenshot(browser, ARTIFACTS.resolve(name + ".png"))).isGreaterThan(10_000);
    }
}
