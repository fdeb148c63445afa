package io.viommu.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.viommu.vmm.scale.ScaleReport;
import io.viommu.vmm.scale.ScaleScenario;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code viommu scenario scale}: many VMs on one host ({@link ScaleScenario}). */
@Command(name = "scale", mixinStandardHelpOptions = true,
        description = {"Many VMs on one host: four nvme controllers with sriov_max_vfs=64 (256 VFs), N VMs each with"
                + " one VF and a vIOMMU in caching mode, M guest DMA mappings in total shadowed into the host's VFIO,"
                + " then every VF's DMA into its VM's buffers (one driver thread, round-robin over the VMs).",
                "Reports the counts, a check of every mapping's DMA (its VM's guest page, no other VM's frame),"
                + " the costs (CPU time of the driver thread; wall time on a shared machine includes everything else),"
                + " the Java heap after GC and the guest RAM held off-heap, and what broke first (Linux's errno,"
                + " QEMU's lines).",
                "--grid runs 1, 8 and 64 VMs with 10000, 100000 and 1000000 mappings and prints the table;"
                + " --html FILE writes it with its charts (JFreeChart, SVG) as one page."})
final class ScenarioScale implements Callable<Integer> {
    @Option(names = "--vms", description = "VMs, one VF each, 1..256 (default: ${DEFAULT-VALUE}).")
    int vms = 64;

    @Option(names = "--maps", description = "Guest DMA mappings in total (default: ${DEFAULT-VALUE}).")
    long maps = 1_000_000;

    @Option(names = "--memlock", paramLabel = "KIB", description = "Run each VMM unprivileged with this RLIMIT_MEMLOCK"
            + " in KiB (default: root, CAP_IPC_LOCK).")
    Long memlockKib;

    @Option(names = "--dma-entry-limit", paramLabel = "N", description = "vfio_iommu_type1.dma_entry_limit set by the"
            + " host's root first (default: the module's 65535).")
    Integer dmaEntryLimit;

    @Option(names = "--sweeps", description = "Times the DMA workload visits every mapping (default: ${DEFAULT-VALUE}).")
    int sweeps = 1;

    @Option(names = "--grid", description = "Run 1, 8, 64 VMs x 10000, 100000, 1000000 mappings and print the table.")
    boolean grid;

    @Option(names = "--json", description = "Print JSON instead of the report.")
    boolean json;

    @Option(names = "--html", paramLabel = "FILE", description = "Also write the report (with --grid: the table and"
            + " charts) as one HTML page.")
    Path html;

    private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    static final int[] GRID_VMS = {1, 8, 64};
    static final long[] GRID_MAPS = {10_000, 100_000, 1_000_000};

    @Override
    public Integer call() throws IOException {
        PrintStream out = System.out;
        List<ScaleScenario.Options> runs = new ArrayList<>();
        try {
            long memlock = memlockKib == null ? -1 : memlockKib * 1024;
            if (memlockKib != null && memlockKib < 0) {
                throw new IllegalArgumentException("--memlock must be at least 0 KiB, got " + memlockKib);
            }
            if (dmaEntryLimit != null && dmaEntryLimit < 0) {
                throw new IllegalArgumentException("--dma-entry-limit must be at least 0, got " + dmaEntryLimit);
            }
            int limit = dmaEntryLimit == null ? -1 : dmaEntryLimit;
            if (grid) {
                for (int v : GRID_VMS) {
                    for (long m : GRID_MAPS) {
                        runs.add(new ScaleScenario.Options(v, m, memlock, limit, sweeps));
                    }
                }
            } else {
                runs.add(new ScaleScenario.Options(vms, maps, memlock, limit, sweeps));
            }
        } catch (IllegalArgumentException e) {
            System.err.println("viommu scenario scale: " + e.getMessage());
            return 2;
        }
        boolean terminal = System.console() != null && System.console().isTerminal() && !json;
        List<ScaleReport> reports = new ArrayList<>();
        for (ScaleScenario.Options o : runs) {
            ScaleScenario.Progress progress = terminal ? new Bar(runs.size() > 1
                    ? o.vms() + " VMs, " + o.maps() + " maps: " : "") : ScaleScenario.Progress.NONE;
            ScaleReport r = ScaleScenario.run(o, progress);
            reports.add(r);
            if (!grid && !json) {
                out.print(ScaleText.report(r));
            }
        }
        if (json) {
            Object doc = grid ? Map.of("runs", reports) : reports.get(0);
            out.println(JSON.writeValueAsString(doc));
        } else if (grid) {
            out.print(ScaleText.table(reports));
        }
        if (html != null) {
            Files.writeString(html, ScalePage.html(reports));
            if (!json) {
                out.println("wrote " + html + ": " + reports.size() + " run(s)" + (reports.size() > 1 ? " and 2 charts" : ""));
            }
        }
        // a limit met is a result of the grid (1 VM cannot hold 100000 mappings); of a single run it is a failure
        return reports.stream().allMatch(r -> r.check().ok() && (grid || r.ok())) ? 0 : 1;
    }

    /** The progress bar on the terminal (me.tongfei:progressbar), one per phase. */
    private static final class Bar implements ScaleScenario.Progress {
        private final String prefix;
        private ProgressBar bar;

        Bar(String prefix) {
            this.prefix = prefix;
        }

        @Override
        public void phase(String name, long total) {
            done();
            bar = new ProgressBarBuilder().setTaskName(prefix + name).setInitialMax(total)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).continuousUpdate().build();
        }

        @Override
        public void advance(long n) {
            if (bar != null) {
                bar.stepBy(n);
            }
        }

        @Override
        public void done() {
            if (bar != null) {
                bar.close();
                bar = null;
            }
        }
    }
}
