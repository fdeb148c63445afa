package io.viommu.tour;

import static io.viommu.host.HostReportHtml.escape;

import io.viommu.host.HostReportHtml;

/**
 * {@code viommu tour --html FILE}: the tour as one self-contained page. Each step is a section
 * ({@code section.step[data-step][data-ok]}) with its commands and what they printed, its checks
 * ({@code li.expect.ok} / {@code li.expect.failed}), the topologies it drew (the host report's
 * tree, {@link HostReportHtml#topologyTree}: buses, bridges, functions, every IOMMU group a
 * {@code li.group} box, the assigned device marked) with the assigned device's DMA path
 * ({@code ol.dma-path}, one {@code li.hop} a level), and its charts (inline SVG from
 * {@link CostChart}, with the numbers as a table). Like the host report: inline CSS, no script,
 * a Content-Security-Policy of {@code default-src 'none'}, every model string escaped.
 */
public final class TourHtml {
    private TourHtml() {
    }

    public static String format(Tour.Result r) {
        StringBuilder sb = new StringBuilder(65536);
        sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
                .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n")
                .append("<title>viommu tour</title>\n<style>\n").append(HostReportHtml.css()).append(CSS).append("</style>\n</head>\n");
        sb.append("<body data-ok=\"").append(r.ok()).append("\">\n<h1>viommu tour</h1>\n<p class=\"verdict\" id=\"verdict\">")
                .append(escape(TourText.summary(r).strip())).append("</p>\n");
        sb.append("<p>The walkthroughs of device assignment (enable the IOMMU, find the group, bind vfio-pci, SR-IOV, the vIOMMU"
                + " with interrupt remapping and caching mode, guest DPDK, virtio with ATS, libvirt) run on a model host: every"
                + " line below is what the model printed for the command above it.</p>\n<ol class=\"toc\">\n");
        for (Tour.StepResult s : r.steps()) {
            sb.append("<li><a href=\"#step-").append(s.number()).append("\">Step ").append(s.number()).append("</a>: ")
                    .append(escape(s.title())).append(s.ok() ? "" : " <b class=\"bad\">failed</b>").append("</li>\n");
        }
        sb.append("</ol>\n");
        for (Tour.StepResult s : r.steps()) {
            step(sb, s);
        }
        sb.append("</body>\n</html>\n");
        return sb.toString();
    }

    private static void step(StringBuilder sb, Tour.StepResult s) {
        sb.append("<section class=\"step\" id=\"step-").append(s.number()).append("\" data-step=\"").append(s.number())
                .append("\" data-ok=\"").append(s.ok()).append("\">\n<h2>Step ").append(s.number()).append(": ")
                .append(escape(s.title())).append("</h2>\n<p class=\"seeds\">seeds: ").append(escape(s.source())).append("</p>\n");
        boolean inChecks = false;
        for (StepLog.Entry e : s.entries()) {
            if (!(e instanceof StepLog.Expect) && inChecks) {
                sb.append("</ul>\n");
                inChecks = false;
            }
            switch (e) {
                case StepLog.Say x -> sb.append("<p>").append(escape(x.text())).append("</p>\n");
                case StepLog.Command c -> sb.append("<pre class=\"cmd\"><span class=\"prompt\">").append(escape(c.prompt()))
                        .append("</span> <kbd>").append(escape(c.command())).append("</kbd>\n").append(escape(c.output()))
                        .append("</pre>\n");
                case StepLog.Expect x -> {
                    if (!inChecks) {
                        sb.append("<ul class=\"checks\">\n");
                        inChecks = true;
                    }
                    sb.append("<li class=\"expect ").append(x.ok() ? "ok" : "failed").append("\">").append(x.ok() ? "ok: " : "FAILED: ")
                            .append(escape(x.what()));
                    if (!x.ok()) {
                        sb.append("<pre>").append(escape(x.seen() == null ? "" : x.seen())).append("</pre>");
                    }
                    sb.append("</li>\n");
                }
                case StepLog.Figure f -> figure(sb, f);
                case StepLog.Chart c -> chart(sb, c);
            }
        }
        if (inChecks) {
            sb.append("</ul>\n");
        }
        if (s.error() != null) {
            sb.append("<p class=\"expect failed\">").append(escape(s.error())).append("</p>\n");
        }
        sb.append("<p class=\"step-verdict ").append(s.ok() ? "ok" : "failed").append("\">")
                .append(s.ok() ? "As the walkthrough says." : "Not as the walkthrough says.").append("</p>\n</section>\n");
    }

    private static void figure(StringBuilder sb, StepLog.Figure f) {
        String tree = HostReportHtml.topologyTree(f.report(), f.marks())
                .replace(" id=\"group-", " id=\"" + f.id() + "-group-").replace("href=\"#dev-", "href=\"#" + f.id() + "-dev-");
        sb.append("<figure class=\"topology\" id=\"").append(escape(f.id())).append("\" data-groups=\"")
                .append(f.report().groups().size()).append("\">\n<figcaption>").append(escape(f.title())).append("</figcaption>\n")
                .append(tree);
        if (!f.dmaPath().isEmpty()) {
            sb.append("<p class=\"path-title\">The assigned device's DMA, level by level:</p>\n<ol class=\"dma-path\">\n");
            f.dmaPath().forEach(h -> sb.append("<li class=\"hop\">").append(escape(h)).append("</li>\n"));
            sb.append("</ol>\n");
        }
        sb.append("</figure>\n");
    }

    private static void chart(StringBuilder sb, StepLog.Chart c) {
        sb.append("<figure class=\"chart\" id=\"").append(escape(c.id())).append("\">\n").append(CostChart.svg(c)).append('\n')
                .append("<table class=\"chart-data\">\n<thead><tr><th>").append(escape(c.valueAxis())).append("</th>");
        c.categories().forEach(k -> sb.append("<th>").append(escape(k)).append("</th>"));
        sb.append("</tr></thead>\n<tbody>\n");
        for (int i = 0; i < c.series().size(); i++) {
            sb.append("<tr><td>").append(escape(c.series().get(i))).append("</td>");
            for (double v : c.values()[i]) {
                sb.append("<td>").append(String.format(java.util.Locale.ROOT, "%.3f", v)).append("</td>");
            }
            sb.append("</tr>\n");
        }
        sb.append("</tbody>\n</table>\n</figure>\n");
    }

    private static final String CSS = """
            section.step { border-top: 3px solid #3b6fd8; margin-top: 2em; }
            section.step[data-ok='false'] { border-top-color: #b42318; }
            .seeds { color: #555; margin-top: 0; }
            pre.cmd { border-left: 4px solid #888; } pre.cmd .prompt { color: #2450a6; font-weight: 600; }
            pre.cmd kbd { font-weight: 600; font-family: ui-monospace, monospace; }
            ul.checks { list-style: none; padding-left: .5em; }
            li.expect.ok { color: #1a7f37; } li.expect.failed, p.expect.failed, .bad { color: #b42318; font-weight: 600; }
            .step-verdict.ok { color: #1a7f37; font-weight: 600; } .step-verdict.failed { color: #b42318; font-weight: 600; }
            figure.topology, figure.chart { border: 1px solid #ddd; border-radius: 6px; padding: .5em 1em; margin: 1em 0; }
            figcaption { font-weight: 600; }
            ol.dma-path { list-style: none; padding: 0; display: flex; flex-wrap: wrap; align-items: center; gap: .3em; }
            ol.dma-path li.hop { border: 2px solid #b42318; border-radius: 4px; padding: .2em .5em; background: #fff5f4; }
            ol.dma-path li.hop + li.hop::before { content: "\\2192  "; color: #b42318; font-weight: 600; }
            """;
}
