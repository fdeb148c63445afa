package io.viommu.cli;

import io.viommu.vmm.scale.ScaleReport;
import java.util.List;
import java.util.Locale;

/** {@code scenario scale}'s report as text, and the grid's table. */
final class ScaleText {
    private ScaleText() {
    }

    static String report(ScaleReport r) {
        StringBuilder b = new StringBuilder();
        var c = r.counts();
        var k = r.check();
        var cost = r.costs();
        var m = r.memory();
        line(b, "viommu scenario scale: %d VM(s) on one host, %,d guest DMA mappings in total, every VF's DMA at once",
                r.options().vms(), r.options().maps());
        b.append('\n');
        line(b, "HOST  %s", String.join(" ", r.hostArgs()));
        line(b, "  %d VFs (4 nvme controllers, sriov_max_vfs=64) in %d IOMMU groups; %d bound to vfio-pci by the root's lines:",
                c.hostVfs(), c.vfGroups(), r.options().vms());
        List<String> s = r.hostSetup();
        for (int i = 0; i < s.size(); i++) {
            if (i < 12 || i == s.size() - 1) {
                line(b, "    %s", s.get(i));
            } else if (i == 12) {
                line(b, "    ... (%d more lines)", s.size() - 13);
            }
        }
        line(b, "VMS   %d x %s", c.vmsAsked(), String.join(" ", r.vmArgs()));
        line(b, "  running: %d; guest RAM %s each", c.vmsRunning(), mib(m.guestRamEach()));
        b.append('\n');
        line(b, "MAPPINGS");
        line(b, "  guest dma_map_single, live                %,d (up to %,d per VM) over %,d distinct guest pages (%,d per VM)",
                c.guestMappings(), (r.options().maps() + r.options().vms() - 1) / r.options().vms(),
                c.distinctGuestPages(), c.pagesPerVm());
        line(b, "  host VFIO MAP_DMA entries (type1)         %,d in %d containers", c.hostVfioEntries(), c.vmsRunning());
        line(b, "  locked_vm of the VMM processes            %,d pages (%s)%s", c.lockedPages(), mib(c.lockedPages() * 4096),
                r.options().memlockBytes() < 0 ? "; root: RLIMIT_MEMLOCK does not bind (CAP_IPC_LOCK)"
                        : String.format(Locale.ROOT, "; RLIMIT_MEMLOCK %d KiB per VMM", r.options().memlockBytes() >> 10));
        line(b, "  errors the VMMs reported while shadowing  %,d", c.mapErrors());
        b.append('\n');
        line(b, "CHECK  one 8-byte DMA write per live mapping by the VM's VF (host requester id), read back in guest RAM");
        line(b, "  landed at the mapping's guest page        %,d of %,d", k.landed(), k.dmas());
        line(b, "  host frame not the VM's own page          %,d", k.wrongFrame());
        line(b, "  host frame reached by two VMs             %,d", k.crossVm());
        line(b, "  stopped in the host unit (not shadowed)   %,d", k.faulted());
        line(b, "  DMA to an IOVA no guest mapped, stopped   %d of %d VMs", k.probesFaulted(), c.vmsRunning());
        b.append('\n');
        line(b, "COSTS  (CPU time of the one driver thread; wall time includes whatever else the machine runs)");
        line(b, "  VMM start + guest boot                    %s CPU per VM (wall %s)",
                time(cost.vmStartCpuNs() / Math.max(1, c.vmsAsked())), time(cost.vmStartWallNs() / Math.max(1, c.vmsAsked())));
        line(b, "  guest map -> trapped -> host MAP_DMA      %s CPU per mapping (wall %s)",
                time(cost.mapCpuNs() / Math.max(1, c.guestMappings())), time(cost.mapWallNs() / Math.max(1, c.guestMappings())));
        line(b, "  DMA: %,d translations (4 KiB buffers as %d-byte TLPs), %,d faulted", cost.translations(), 256, cost.dmaFaults());
        line(b, "       %.1f M translations/s (CPU), %.1f M/s (wall)", cost.translationsPerCpuSecond() / 1e6,
                cost.translationsPerWallSecond() / 1e6);
        line(b, "  whole run                                 %s wall", time(cost.totalWallNs()));
        b.append('\n');
        line(b, "MEMORY");
        line(b, "  Java heap after GC                        %s", mib(m.javaHeapAfterGc()));
        line(b, "  off-heap (RAM chunks touched)             %s (guest RAM resident in the VMMs: %s)", mib(m.offHeap()),
                mib(m.guestRamResident()));
        b.append('\n');
        if (r.breaksFirst() != null) {
            line(b, "BREAKS FIRST  %s", r.breaksFirst());
            for (ScaleReport.VmLine f : r.failures().subList(0, Math.min(3, r.failures().size()))) {
                line(b, "  VM %d (%s): %s", f.vm(), f.vf(), f.what());
                f.lines().forEach(l -> line(b, "    %s", l));
            }
            if (r.failures().size() > 3) {
                line(b, "  ... %d more VM(s)", r.failures().size() - 3);
            }
            r.hostLog().forEach(l -> line(b, "  host: %s", l));
            b.append('\n');
        }
        line(b, "RESULT  %s", r.ok() ? "ok" : r.check().ok() ? "a limit was met (above)" : "FAILED: DMA check");
        return b.toString();
    }

    /** The grid: one row per run. */
    static String table(List<ScaleReport> runs) {
        StringBuilder b = new StringBuilder();
        line(b, "| VMs | mappings | live VFIO entries | map CPU µs | translations/s (CPU) | heap after GC | off-heap | breaks first |");
        line(b, "|---:|---:|---:|---:|---:|---:|---:|---|");
        for (ScaleReport r : runs) {
            line(b, "| %d | %,d | %,d | %.1f | %.1f M | %s | %s | %s |", r.options().vms(), r.options().maps(),
                    r.counts().hostVfioEntries(), r.costs().mapCpuNs() / 1e3 / Math.max(1, r.counts().guestMappings()),
                    r.costs().translationsPerCpuSecond() / 1e6, mib(r.memory().javaHeapAfterGc()), mib(r.memory().offHeap()),
                    r.breaksFirst() == null ? "-" : shortBreak(r.breaksFirst()));
        }
        return b.toString();
    }

    static String shortBreak(String s) {
        int colon = s.indexOf(':');
        return colon < 0 ? s : s.substring(0, colon);
    }

    private static void line(StringBuilder b, String fmt, Object... args) {
        b.append(String.format(Locale.ROOT, fmt, args)).append('\n');
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }

    static String time(long ns) {
        if (ns >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2f s", ns / 1e9);
        }
        if (ns >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.1f ms", ns / 1e6);
        }
        return String.format(Locale.ROOT, "%.2f µs", ns / 1e3);
    }
}
