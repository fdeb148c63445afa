package io.viommu.tour;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.host.HeadlessChromium;
import io.viommu.host.HostReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Rectangle;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;

/**
 * The tour's page in a real browser, set up as HostReportBrowserTest sets up the host report's
 * (Debian's chromium and chromedriver through Selenium, nothing downloaded): every step of the run
 * is a section with its checks; every topology figure draws every IOMMU group of its report as a
 * box with its functions inside, and the marked device's DMA path (step 9's through L2, L1 and
 * the host); the charts of steps 7 and 9 are SVGs with bars; the browser logs no error and loads nothing. The page and its screenshot are kept in
 * target/tour/. Without /usr/bin/chromium and /usr/bin/chromedriver: a failure under CI, else skipped.
 */
class TourBrowserTest {
    static final Path ARTIFACTS = Path.of("target/tour");

    static ChromeDriver browser;

    @BeforeAll
    static void startBrowser() throws Exception {
        browser = HeadlessChromium.start("the tour's browser test");
        Files.createDirectories(ARTIFACTS);
    }

    @AfterAll
    static void stopBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    @Test
    void everyStepTopologyBoxAndTheChartAreOnThePageWithoutErrors() throws Exception {
        Tour.Result r = Tour.run(Tour.STEPS, TourInputs.DEFAULT, s -> { });
        Path page = ARTIFACTS.resolve("tour.html").toAbsolutePath();
        Files.writeString(page, TourHtml.format(r));
        browser.get(page.toUri().toString());
        JavascriptExecutor js = browser;
        assertThat(js.executeScript("return document.readyState")).isEqualTo("complete");
        assertThat(browser.findElements(By.cssSelector("section.step"))).hasSize(r.steps().size());
        for (Tour.StepResult s : r.steps()) {
            WebElement sec = browser.findElement(By.id("step-" + s.number()));
            assertThat(sec.isDisplayed()).isTrue();
            assertThat(sec.getAttribute("data-ok")).isEqualTo("true");
            assertThat(sec.findElement(By.tagName("h2")).getText()).isEqualTo("Step " + s.number() + ": " + s.title());
            long checks = s.entries().stream().filter(e -> e instanceof StepLog.Expect).count();
            assertThat(sec.findElements(By.cssSelector("li.expect.ok"))).hasSize((int) checks);
            long commands = s.entries().stream().filter(e -> e instanceof StepLog.Command).count();
            assertThat(sec.findElements(By.cssSelector("pre.cmd"))).hasSize((int) commands);
            for (StepLog.Entry e : s.entries()) {
                if (e instanceof StepLog.Figure f) {
                    checkFigure(f);
                }
            }
        }
        WebElement chart = browser.findElement(By.cssSelector("figure.chart#step7-cost svg"));
        assertThat(chart.isDisplayed()).isTrue();
        assertThat(chart.getRect().getWidth()).isGreaterThan(300);
        assertThat(chart.findElements(By.cssSelector("rect")).size()).isGreaterThan(6);
        assertThat(chart.getText()).contains("Per-packet cost on device 1");
        // step 9: nested, on the page with its DMA path through every level and the nested cost chart
        assertThat(browser.findElement(By.id("step-9")).getText()).contains("L1# qemu-system-x86_64");
        assertThat(browser.findElements(By.cssSelector("figure#step9-host ol.dma-path li.hop")).stream()
                .map(WebElement::getText).toList()).anyMatch(h -> h.startsWith("L2's vIOMMU"))
                .anyMatch(h -> h.startsWith("L1's vIOMMU")).anyMatch(h -> h.startsWith("host VT-d unit"));
        WebElement nested = browser.findElement(By.cssSelector("figure.chart#step9-cost svg"));
        assertThat(nested.isDisplayed()).isTrue();
        assertThat(nested.findElements(By.cssSelector("rect")).size()).isGreaterThanOrEqualTo(4);
        assertThat(errors()).as("browser log errors").isEmpty();
        assertThat(js.executeScript("return performance.getEntriesByType('resource').length")).isEqualTo(0L);
        assertThat(HeadlessChromium.screenshot(browser, ARTIFACTS.resolve("tour.png"))).isGreaterThan(10_000);
    }

    /** The figure's group boxes are its report's groups; each function inside its group's box; the DMA path's hops. */
    static void checkFigure(StepLog.Figure f) {
        JavascriptExecutor js = browser;
        WebElement fig = browser.findElement(By.id(f.id()));
        Set<String> boxes = new TreeSet<>();
        for (WebElement g : fig.findElements(By.cssSelector("li.group"))) {
            assertThat(g.isDisplayed()).isTrue();
            boxes.add(g.getAttribute("data-group"));
        }
        Set<String> groups = new TreeSet<>();
        f.report().groups().forEach(g -> groups.add(Integer.toString(g.id())));
        assertThat(boxes).as(f.id()).isEqualTo(groups);
        assertThat(fig.findElements(By.cssSelector("div.dev"))).as(f.id()).hasSize(f.report().devices().size());
        for (HostReport.Device d : f.report().devices()) {
            WebElement dev = fig.findElement(By.cssSelector("div.dev[data-bdf='" + d.address() + "']"));
            if (d.group() == null) {
                continue;
            }
            WebElement group = (WebElement) js.executeScript("return arguments[0].closest('li.group')", dev);
            assertThat(group.getAttribute("data-group")).isEqualTo(d.group().toString());
            Rectangle in = dev.getRect();
            Rectangle out = group.getRect();
            assertThat(in.x >= out.x && in.y >= out.y && in.x + in.width <= out.x + out.width
                    && in.y + in.height <= out.y + out.height).as("%s %s inside its group box", f.id(), d.address()).isTrue();
        }
        f.marks().forEach((bdf, label) -> assertThat(fig.findElement(By.cssSelector("div.dev[data-bdf='" + bdf + "'] .planned"))
                .getText()).isEqualTo(label));
        List<String> hops = fig.findElements(By.cssSelector("ol.dma-path li.hop")).stream().map(WebElement::getText).toList();
        assertThat(hops).as(f.id()).hasSize(f.dmaPath().size());
    }

    static List<String> errors() {
        return HeadlessChromium.errors(browser);
    }
}
