package io.viommu.tour;

import java.awt.Color;
import java.awt.Font;
import java.awt.Rectangle;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.svg.SVGGraphics2D;

/**
 * A step's bar chart as inline SVG: drawn by JFreeChart, written by JFreeSVG (text as SVG text,
 * no script, no external reference), so the tour's page stays one self-contained file.
 */
final class CostChart {
    static final int WIDTH = 760;
    static final int HEIGHT = 360;

    private CostChart() {
    }

    static String svg(StepLog.Chart c) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (int s = 0; s < c.series().size(); s++) {
            for (int k = 0; k < c.categories().size(); k++) {
                data.addValue(c.values()[s][k], c.series().get(s), c.categories().get(k));
            }
        }
        JFreeChart chart = ChartFactory.createBarChart(c.title(), null, c.valueAxis(), data, PlotOrientation.VERTICAL,
                true, false, false);
        chart.setBackgroundPaint(Color.WHITE);
        chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        CategoryPlot plot = chart.getCategoryPlot();
        plot.setBackgroundPaint(new Color(0xf6, 0xf8, 0xfa));
        plot.setRangeGridlinePaint(new Color(0xcc, 0xcc, 0xcc));
        BarRenderer r = (BarRenderer) plot.getRenderer();
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        r.setSeriesPaint(0, new Color(0xb4, 0x23, 0x18));
        r.setSeriesPaint(1, new Color(0x1a, 0x7f, 0x37));
        SVGGraphics2D g = new SVGGraphics2D(WIDTH, HEIGHT);
        chart.draw(g, new Rectangle(0, 0, WIDTH, HEIGHT));
        return g.getSVGElement(c.id());
    }
}
