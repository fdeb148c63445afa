package io.viommu.cli;

import io.viommu.host.HostReportHtml;
import io.viommu.vmm.scale.ScaleReport;
import java.awt.Rectangle;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;

/**
 * {@code scenario scale --html FILE}: the runs as one self-contained page (inline CSS and SVG,
 * nothing fetched, no script): the table and, for two or more runs, two charts drawn by
 * JFreeChart and exported as SVG by JFreeSVG: the CPU cost of one shadowed mapping, and the Java
 * heap, against the number of mappings, one line per VM count.
 */
final class ScalePage {
    private ScalePage() {
    }

    static String html(List<ScaleReport> runs) {
        System.setProperty("java.awt.headless", "true");
        StringBuilder b = new StringBuilder();
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
                .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n")
                .append("<title>viommu scenario scale</title>\n<style>body{font-family:sans-serif;margin:2em}"
                        + "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 8px;text-align:right}"
                        + "th{background:#eee}td.l{text-align:left}figure{display:inline-block;margin:1em}</style>\n")
                .append("</head><body>\n<h1>Many VMs on one host: <code>viommu scenario scale</code></h1>\n")
                .append("<p>Four nvme controllers with sriov_max_vfs=64 (256 VFs), one VF and a vIOMMU in caching mode per VM,"
                        + " the guests' DMA mappings shadowed into the host's VFIO, then every VF's DMA. Costs are CPU time of"
                        + " the one driver thread.</p>\n");
        b.append("<table id=\"scale\"><tr><th>VMs</th><th>mappings</th><th>live VFIO entries</th><th>map CPU µs</th>"
                + "<th>translations/s (CPU)</th><th>heap after GC MiB</th><th>off-heap MiB</th><th>DMA check</th>"
                + "<th>breaks first</th></tr>\n");
        for (ScaleReport r : runs) {
            b.append(String.format(Locale.ROOT, "<tr><td>%d</td><td>%d</td><td>%d</td><td>%.1f</td><td>%.1f M</td>"
                            + "<td>%.1f</td><td>%.1f</td><td class=\"l\">%s</td><td class=\"l\">%s</td></tr>%n",
                    r.options().vms(), r.options().maps(), r.counts().hostVfioEntries(), mapMicros(r),
                    r.costs().translationsPerCpuSecond() / 1e6, r.memory().javaHeapAfterGc() / 1048576.0,
                    r.memory().offHeap() / 1048576.0,
                    !r.check().ok() ? "FAILED" : r.check().landed() + " landed, 0 wrong or cross-VM"
                            + (r.check().faulted() > 0 ? ", " + r.check().faulted() + " not shadowed: stopped in the host unit" : ""),
                    HostReportHtml.escape(r.breaksFirst() == null ? "-" : r.breaksFirst())));
        }
        b.append("</table>\n");
        if (runs.size() > 1) {
            b.append("<figure id=\"chart-map\">").append(chart(runs, "CPU cost of one shadowed guest mapping",
                    "µs per mapping", ScalePage::mapMicros)).append("</figure>\n");
            b.append("<figure id=\"chart-heap\">").append(chart(runs, "Java heap after GC", "MiB",
                    r -> r.memory().javaHeapAfterGc() / 1048576.0)).append("</figure>\n");
        }
        b.append("</body></html>\n");
        return b.toString();
    }

    private static double mapMicros(ScaleReport r) {
        return r.costs().mapCpuNs() / 1e3 / Math.max(1, r.counts().guestMappings());
    }

    /** One chart: y against the number of mappings (log axis), a series per VM count. */
    static String chart(List<ScaleReport> runs, String title, String yLabel, ToDoubleFunction<ScaleReport> y) {
        XYSeriesCollection data = new XYSeriesCollection();
        for (ScaleReport r : runs) {
            String key = r.options().vms() + (r.options().vms() == 1 ? " VM" : " VMs");
            XYSeries s;
            int i = data.getSeriesIndex(key);
            if (i < 0) {
                s = new XYSeries(key);
                data.addSeries(s);
            } else {
                s = data.getSeries(i);
            }
            s.add(r.options().maps(), y.applyAsDouble(r));
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, "guest mappings (all VMs)", yLabel, data,
                PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        LogAxis x = new LogAxis("guest mappings (all VMs)");
        x.setBase(10);
        plot.setDomainAxis(x);
        plot.setRenderer(new XYLineAndShapeRenderer(true, true));
        SVGGraphics2D g = new SVGGraphics2D(640, 400);
        chart.draw(g, new Rectangle(0, 0, 640, 400));
        return g.getSVGElement();
    }
}
