package io.viommu.cli;

import io.viommu.linux.scenario.NicRingReport;
import io.viommu.linux.scenario.NicRingRun;
import io.viommu.linux.scenario.NicRingRun.Policy;
import io.viommu.linux.scenario.NicRingScenario;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code viommu scenario ...}: scenarios run on the model, with what they cost. */
@Command(name = "scenario", mixinStandardHelpOptions = true,
        description = "Run a scenario on the model (a booted guest with the kernel model) and report its costs.",
        subcommands = {ScenarioCommand.NicRing.class, ScenarioScale.class})
final class ScenarioCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Policy choices of --policy. */
    enum PolicyChoice {
        strict, lazy, all
    }

    /** Choices of --caching-mode. */
    enum CachingModeChoice {
        on, off, both
    }

    @Command(name = "nic-ring", mixinStandardHelpOptions = true,
            description = {"Compare the per-packet cost of dynamic (DMA API) and static (VFIO) DMA mappings on a"
                    + " NIC's receive ring.",
                    "A NIC (edu behind intel-iommu) receives packets into a ring of DMA buffers. Dynamic"
                    + " mappings: the guest driver maps each buffer on refill and unmaps it on completion through"
                    + " the DMA API (strict or lazy invalidation). Static mappings: a DPDK-style process maps the"
                    + " whole buffer area once through VFIO in the guest.",
                    "Reports per packet: maps, unmaps, IOTLB invalidations by kind, descriptors, wait descriptors,"
                    + " IOMMU register accesses (VM exits) and, with caching mode, the host IOMMU updates QEMU's"
                    + " shadowing makes. Every packet's bytes are checked in the buffer the driver reads."})
    static final class NicRing implements Callable<Integer> {
        @Option(names = "--packets", description = "Packets to receive (default: ${DEFAULT-VALUE}).")
        int packets = 2040;

        @Option(names = "--ring", description = "Ring slots, i.e. DMA buffers (default: ${DEFAULT-VALUE}).")
        int ring = 256;

        @Option(names = "--policy", description = "Guest invalidation policy: ${COMPLETION-CANDIDATES}"
                + " (default: ${DEFAULT-VALUE}).")
        PolicyChoice policy = PolicyChoice.all;

        @Option(names = "--caching-mode", description = "vIOMMU caching mode: ${COMPLETION-CANDIDATES}"
                + " (default: ${DEFAULT-VALUE}).")
        CachingModeChoice cachingMode = CachingModeChoice.both;

        @Option(names = "--json", description = "Print JSON instead of the table.")
        boolean json;

        @Override
        public Integer call() {
            if (packets < 1 || packets > 1_000_000 || ring < 1 || ring > 4096) {
                System.err.println("viommu scenario nic-ring: --packets must be 1..1000000 and --ring 1..4096");
                return 2;
            }
            List<Policy> policies = switch (policy) {
                case strict -> List.of(Policy.STRICT);
                case lazy -> List.of(Policy.LAZY);
                case all -> List.of(Policy.STRICT, Policy.LAZY);
            };
            List<Boolean> cms = switch (cachingMode) {
                case on -> List.of(true);
                case off -> List.of(false);
                case both -> List.of(false, true);
            };
            List<NicRingRun> runs = NicRingScenario.runAll(policies, cms, true, packets, ring);
            List<String> notes = List.of();
            System.out.print(json ? NicRingReport.json(runs, notes) + System.lineSeparator()
                    : NicRingReport.table(runs, notes));
            return runs.stream().allMatch(NicRingRun::allDelivered) ? 0 : 1;
        }
    }
}
