package io.viommu.cli;

import io.viommu.tour.Tour;
import io.viommu.tour.TourHtml;
import io.viommu.tour.TourInputs;
import io.viommu.tour.TourText;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code viommu tour [STEP...] [--html FILE]}: the seeds' walkthroughs run on model hosts ({@link Tour}). */
@Command(name = "tour", mixinStandardHelpOptions = true,
        description = {
            "Run the walkthroughs people follow to give a VM a device, step by step, on a model host: the commands"
                    + " they type and what the model prints for them (dmesg, sysfs, QEMU's messages, the VM's view),"
                    + " each step checking that the outcome is what the walkthrough promises.",
            "Steps: 1 the IOMMU off and on; 2 a device's IOMMU group and companions; 3 a NIC to vfio-pci through sysfs"
                    + " and the forgotten second function; 4 SR-IOV VFs, one into a VM; 5 e1000 behind intel-iommu with"
                    + " intremap (kernel-irqchip split vs on); 6 vfio-pci with and without caching mode; 7 guest DPDK:"
                    + " VFIO vs UIO, the same bad DMA, per-packet cost; 8 virtio with iommu_platform and ATS;"
                    + " 9 nested: L1 with a vIOMMU hands the host's device on to L2; 10 the same VM from libvirt XML.",
            "Exit status: 0 every step as expected, 1 a step failed, 2 usage error (no such step)."})
public final class TourCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "STEP", description = "Step numbers to run (default: all).")
    List<String> steps = new ArrayList<>();

    @Option(names = "--html", paramLabel = "FILE", description = "Also write the tour as one self-contained HTML page"
            + " (each step, its topology drawn with IOMMU groups as boxes and the DMA path, the cost charts of steps 7 and 9).")
    Path html;

    @Override
    public Integer call() {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        List<Integer> wanted = new ArrayList<>();
        for (String s : steps) {
            try {
                wanted.add(Integer.parseInt(s));
            } catch (NumberFormatException e) {
                System.err.println("viommu tour: " + s + ": not a step number");
                return 2;
            }
        }
        Tour.Selection sel = Tour.select(wanted);
        if (sel.error() != null) {
            System.err.println("viommu tour: " + sel.error());
            return 2;
        }
        Tour.Result r = Tour.run(sel.steps(), TourInputs.DEFAULT, s -> out.print(TourText.step(s)));
        out.print(TourText.summary(r));
        if (html != null) {
            try {
                Files.writeString(html, TourHtml.format(r));
                out.println("wrote " + html);
            } catch (IOException e) {
                System.err.println("viommu tour: cannot write " + html + ": " + e.getMessage());
                return 1;
            }
        }
        return r.ok() ? 0 : 1;
    }
}
