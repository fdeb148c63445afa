package io.viommu.cli;

import io.viommu.host.BindApply;
import io.viommu.host.BindPlan;
import io.viommu.host.BindPlanText;
import io.viommu.host.BindPlanner;
import io.viommu.host.ConfigEmit;
import io.viommu.host.HostJournal;
import io.viommu.host.HostReportJson;
import io.viommu.host.HostSysfs;
import io.viommu.host.HostTree;
import io.viommu.host.ModelHost;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code viommu host plan|apply|undo|tree}: handing devices to vfio-pci, safely, on the live host or a model host. */
final class HostPlanCommand {
    private HostPlanCommand() {
    }

    /** PLAN.json read back, or null after printing why it is not a plan (WHO prefixes the message). */
    static BindPlan readPlan(String who, Path file) {
        BindPlan plan;
        try {
            plan = HostReportJson.mapper().readValue(Files.readString(file), BindPlan.class);
        } catch (IOException e) {
            System.err.println(who + ": not a plan (" + e.getMessage().lines().findFirst().orElse("")
                    + "); make one with `viommu host plan DEVICE --json > PLAN.json`");
            return null;
        }
        if (!BindPlan.SCHEMA.equals(plan.schema()) || plan.host() == null) {
            System.err.println(who + ": schema " + plan.schema() + ", expected " + BindPlan.SCHEMA);
            return null;
        }
        return plan;
    }

    static PrintStream out() {
        return new PrintStream(System.out, true, StandardCharsets.UTF_8);
    }

    /** Options shared by plan and apply: what the devices are for and how hard to push. */
    static final class PlanOptions {
        @Option(names = "--for", paramLabel = "USE", defaultValue = "qemu",
                description = "What the devices are for: qemu (default) or libvirt, a VM that gets them (with --emit: one"
                        + " without a vIOMMU), or dpdk, a DPDK process that takes them from vfio-pci (with --emit: DPDK"
                        + " in the VM, which then gets the vIOMMU with interrupt remapping and caching mode).")
        String use;

        @Option(names = "--force", description = "Take members in use (a NIC with routes, a mounted disk) anyway,"
                + " as dpdk-devbind --force; never the root file system's disk or the console.")
        boolean force;

        @Option(names = "--vfs", paramLabel = "N", description = "For an SR-IOV PF: create N VFs and hand the VFs"
                + " (not the PF) to vfio-pci.")
        Integer vfs;

        String check() {
            if (!List.of("qemu", "libvirt", "dpdk").contains(use)) {
                return "--for " + use + ": expected qemu, libvirt or dpdk";
            }
            if (vfs != null && vfs < 1) {
                return "--vfs " + vfs + ": expected 1 or more";
            }
            return null;
        }

        BindPlanner.Request request(List<String> devices) {
            return new BindPlanner.Request(devices, use, force, vfs);
        }
    }

    @Command(name = "plan", mixinStandardHelpOptions = true,
            description = {"Plan handing DEVICE(s) to vfio-pci: per device its IOMMU group, every function that must"
                    + " leave its driver (bridges stay), what each is bound to and used for now, every blocker with its"
                    + " fix, then the commands in order and how to make them last. Reads only.",
                    "DEVICE: a PCI address (0000:01:00.0 or 01:00.0), vendor:device (8086:10c9, every match) or a"
                            + " network interface name (eth0).",
                    "With --emit qemu|libvirt it prints instead the VM configuration that goes with the plan (QEMU"
                            + " arguments or libvirt elements) on stdout, and the plan on stderr.",
                    "Exit status: 0 ready to apply, 1 refused (blockers), 2 usage error."})
    static final class Plan implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "DEVICE")
        List<String> devices = new ArrayList<>();

        @Mixin
        PlanOptions options = new PlanOptions();

        @Option(names = "--json", description = "Print the plan as JSON (schema viommu.host-plan/1): the PLAN.json"
                + " that `host apply` reads; it carries the host's identity, so it is refused on another host.")
        boolean json;

        @Option(names = "--emit", paramLabel = "qemu|libvirt", description = {"Print the VM configuration that goes"
                + " with the plan instead of the plan, which then goes to stderr with every note: stdout holds only"
                + " the configuration. qemu: the QEMU arguments, one a line, shell-quoted where needed:"
                + " -machine q35,accel=kvm, -m and -device vfio-pci,host=BDF for each device asked (the VFs with"
                + " --vfs); for a guest that uses VFIO itself (--for dpdk, --guest-vfio) or with --virtio, also"
                + " kernel-irqchip=split and -device intel-iommu,intremap=on,caching-mode=on before every other -device.",
                "libvirt: the same as <devices> elements to merge into a domain (a <hostdev> per device; with the vIOMMU"
                + " also <features><ioapic driver='qemu'/></features> and <iommu model='intel'> with intremap and"
                + " caching_mode). What is printed runs unchanged with `viommu run` on the same host once the plan is"
                + " applied (or with --managed / managed='yes'). Nothing is printed on stdout when the plan is refused."})
        String emit;

        @Option(names = "--memory", paramLabel = "SIZE", description = "With --emit qemu: the VM's -m (e.g. 512M, 2G);"
                + " default a quarter of the host's RAM (MemTotal of /proc/meminfo), between 128M and 4G, 1G when"
                + " unknown. VFIO pins all of it.")
        String memory;

        @Option(names = "--guest-vfio", description = "With --emit: the guest hands the devices on through VFIO itself"
                + " (a nested VM; --for dpdk implies it): give the VM the vIOMMU, with interrupt remapping and caching mode.")
        boolean guestVfio;

        @Option(names = "--virtio", paramLabel = "KIND", split = ",", description = "With --emit: also give the VM"
                + " virtio devices whose DMA goes through the vIOMMU (implies it), KIND net (user networking), blk (the"
                + " image --disk names) or rng, comma-separated or repeated: each behind a pcie-root-port of its own with"
                + " disable-legacy=on,iommu_platform=on,ats=on, and device-iotlb=on on the vIOMMU (libvirt: <driver"
                + " iommu='on' ats='on'/>, iotlb='on'; rng is for --emit qemu only: viommu's libvirt translator has no"
                + " <rng>).")
        List<String> virtio = new ArrayList<>();

        @Option(names = "--disk", paramLabel = "FILE", description = "With --virtio blk: the guest's disk image (raw),"
                + " as the VMM opens it (libvirt: made absolute). viommu run does not read it.")
        String disk;

        @Mixin
        HostView view = new HostView();

        @Override
        public Integer call() throws JsonProcessingException {
            String cmd = "viommu host plan";
            String bad = options.check();
            if (bad == null && emit != null && !List.of("qemu", "libvirt").contains(emit)) {
                bad = "--emit " + emit + ": expected qemu or libvirt";
            }
            if (bad == null && emit != null && json) {
                bad = "--emit and --json are alternatives: --emit prints the VM configuration, --json the plan";
            }
            if (bad == null && emit == null && (memory != null || guestVfio || !virtio.isEmpty() || disk != null)) {
                bad = (memory != null ? "--memory" : guestVfio ? "--guest-vfio" : !virtio.isEmpty() ? "--virtio" : "--disk")
                        + " shapes what --emit prints: give --emit qemu|libvirt";
            }
            java.util.Set<ConfigEmit.Virtio> kinds = java.util.EnumSet.noneOf(ConfigEmit.Virtio.class);
            for (String k : virtio) {
                if (bad == null) {
                    bad = virtioKind(k, kinds);
                }
            }
            if (bad == null) {
                bad = diskCheck(kinds);
            }
            long mem = 0;
            if (bad == null && memory != null) {
                mem = io.viommu.machine.config.QemuCommandLine.parseSize(memory, 1L << 20);
                if (mem < (16L << 20) || mem > (1L << 40)) {
                    bad = "--memory " + memory + ": expected a size from 16M to 1T (e.g. 512M, 2G)";
                } else if ("libvirt".equals(emit)) {
                    bad = "--memory is for --emit qemu: the libvirt elements go into a domain that has its own <memory>";
                }
            }
            if (bad != null) {
                System.err.println(cmd + ": " + bad);
                return 2;
            }
            HostSysfs fs = view.open(cmd);
            if (fs == null) {
                return 2;
            }
            BindPlan p = BindPlanner.plan(fs, options.request(devices));
            PrintStream out = out();
            if (emit != null) {
                return emit(p, fs, new ConfigEmit.Options(mem, guestVfio, kinds, disk == null ? null
                        : "libvirt".equals(emit) ? Path.of(disk).toAbsolutePath().normalize().toString() : disk), out);
            }
            out.print(json ? HostReportJson.mapper().writeValueAsString(p) + "\n" : BindPlanText.format(p));
            return p.ready() ? 0 : 1;
        }

        /** --emit: the plan and the notes on stderr, only the configuration on stdout (nothing when refused). */
        /** One --virtio word into {@code kinds}; the refusal, or null. */
        private String virtioKind(String k, java.util.Set<ConfigEmit.Virtio> kinds) {
            ConfigEmit.Virtio v = java.util.Arrays.stream(ConfigEmit.Virtio.values()).filter(x -> x.word().equals(k))
                    .findFirst().orElse(null);
            if (v == null) {
                return "--virtio " + k + ": expected net, blk or rng (the virtio devices the machine model has"
                        + " with iommu_platform and ats: virtio-net-pci, virtio-blk-pci, virtio-rng-pci)";
            }
            if (v == ConfigEmit.Virtio.RNG && "libvirt".equals(emit)) {
                return "--virtio rng is for --emit qemu: viommu's libvirt translator has no <rng> element, so `viommu run"
                        + " --domain` could not run what would be printed";
            }
            kinds.add(v);
            return null;
        }

        private String diskCheck(java.util.Set<ConfigEmit.Virtio> kinds) {
            boolean blk = kinds.contains(ConfigEmit.Virtio.BLK);
            if (blk && (disk == null || disk.isBlank())) {
                return "--virtio blk: name the guest's disk image with --disk FILE";
            }
            if (!blk && disk != null) {
                return "--disk is the image of --virtio blk: give --virtio blk too";
            }
            if (disk != null && (disk.contains(",") || disk.chars().anyMatch(c -> c < 0x20))) {
                return "--disk " + disk + ": a comma or control character in the path (QEMU needs a comma"
                        + " doubled, which viommu's command-line parser does not read): rename or link the image";
            }
            return null;
        }

        private int emit(BindPlan p, HostSysfs fs, ConfigEmit.Options o, PrintStream out) {
            PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
            err.print(BindPlanText.format(p));
            if (!p.ready()) {
                err.println("viommu host plan: --emit " + emit + ": nothing emitted: the plan is refused (above)");
                return 1;
            }
            long size = o.memory() > 0 ? o.memory() : ConfigEmit.memoryFor(ConfigEmit.hostRam(fs));
            ConfigEmit.Config c = ConfigEmit.of(p, new ConfigEmit.Options(size, o.guestVfio(), o.virtio(), o.disk()));
            c.notes().stream().filter(n -> emit.equals("libvirt") || !n.startsWith("libvirt: "))
                    .forEach(n -> err.println("viommu host plan: note: " + n));
            if (emit.equals("qemu")) {
                c.qemu().forEach(a -> out.println(ConfigEmit.shellQuote(a)));
            } else {
                out.print(c.libvirt());
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "apply", mixinStandardHelpOptions = true,
            description = {"Do a plan through sysfs: load vfio-pci if absent, then per function unbind,"
                    + " driver_override, drivers_probe (and sriov_numvfs for --vfs), reading back after every step.",
                    "Without --yes it only prints the writes it would make (dry run).",
                    "Each step goes to the journal (JSON lines: file, value, state before) before it is done; a failure"
                            + " at any step undoes the earlier ones in reverse, so the host ends as it started.",
                    "The live host needs root and --yes; only the plan's devices are touched.",
                    "Exit status: 0 applied (or dry run printed), 1 refused or failed and undone, 2 usage error,"
                            + " 3 failed and the undo failed too (the journal says what is left)."})
    static final class Apply implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "PLAN.json|DEVICE")
        List<String> args = new ArrayList<>();

        @Option(names = "--yes", description = "Really write (default: dry run).")
        boolean yes;

        @Option(names = "--journal", paramLabel = "FILE",
                description = "Journal file to create (default: viommu-host-journal-DATE.jsonl in the current directory).")
        Path journal;

        @Option(names = "--inject-fault", paramLabel = "N",
                description = "Model hosts only: make step N fail (as an EIO write) to see the undo.")
        int injectFault;

        @Mixin
        PlanOptions options = new PlanOptions();

        @Mixin
        HostView view = new HostView();

        @Override
        public Integer call() {
            String cmd = "viommu host apply";
            String bad = options.check();
            if (bad != null) {
                System.err.println(cmd + ": " + bad);
                return 2;
            }
            if (injectFault < 0) {
                System.err.println(cmd + ": --inject-fault " + injectFault + ": expected a step number (1 or more)");
                return 2;
            }
            BindPlan plan = null;
            boolean fromFile = args.size() == 1 && args.get(0).endsWith(".json");
            if (fromFile) {
                plan = readPlan(cmd + ": " + args.get(0), Path.of(args.get(0)));
                if (plan == null) {
                    return 2;
                }
            }
            HostSysfs fs = view.open(cmd);
            if (fs == null) {
                return 2;
            }
            if (injectFault > 0 && !(fs instanceof ModelHost)) {
                System.err.println(cmd + ": --inject-fault is for model hosts (--model) only");
                return 2;
            }
            if (plan == null) {
                plan = BindPlanner.plan(fs, options.request(args));
                if (!plan.ready()) {
                    out().print(BindPlanText.format(plan));
                }
            }
            PrintStream out = out();
            String refusal = BindApply.refusal(plan, fs);
            if (refusal != null && (yes || !refusal.equals(fs.writeRefusal().orElse(null)))) {
                System.err.println(cmd + ": refused, nothing written: " + refusal);
                return 1;
            }
            if (!yes) {
                out.println("dry run on " + fs.describe() + ": the writes `--yes` would make, in order:");
                BindApply.dryRun(plan).forEach(out::println);
                if (plan.steps().isEmpty()) {
                    out.println("  (none: every function is on vfio-pci already)");
                }
                refusalNote(fs, out);
                return 0;
            }
            Path file = journal != null ? journal : Path.of("viommu-host-journal-"
                    + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".jsonl");
            HostJournal j;
            try {
                j = HostJournal.create(file);
            } catch (IOException e) {
                System.err.println(cmd + ": --journal " + file + ": cannot create it (" + e.getMessage()
                        + "); an existing journal is never overwritten");
                return 2;
            }
            out.println("applying on " + fs.describe() + ", journal " + file + ":");
            BindApply.Result r = BindApply.apply(plan, fs, j, injectFault, out::println);
            out.println(r.ok() ? "applied: " + plan.steps().size() + " steps, " + fs.writes() + " writes; give the devices"
                    + " back with: viommu host undo " + file + " --yes"
                    : r.restored() ? "failed and undone, the host is as it was (" + fs.writes() + " writes): " + r.error()
                    : "FAILED: " + r.error());
            return r.ok() ? 0 : r.restored() ? 1 : 3;
        }

        private static void refusalNote(HostSysfs fs, PrintStream out) {
            fs.writeRefusal().ifPresent(w -> out.println("note: --yes would be refused here: " + w));
        }
    }

    @Command(name = "undo", mixinStandardHelpOptions = true,
            description = {"Give the devices of an apply back (as virsh nodedev-reattach): the journal's steps undone"
                    + " in reverse through sysfs, after checking the host is still as apply left it (refused with the"
                    + " difference otherwise). Without --yes it only prints what it would undo.",
                    "Exit status: 0 undone (or dry run printed), 1 refused or an inverse failed, 2 usage error."})
    static final class Undo implements Callable<Integer> {
        @Parameters(paramLabel = "JOURNAL")
        Path journal;

        @Option(names = "--yes", description = "Really write (default: dry run).")
        boolean yes;

        @Mixin
        HostView view = new HostView();

        @Override
        public Integer call() {
            String cmd = "viommu host undo";
            if (!Files.isRegularFile(journal)) {
                System.err.println(cmd + ": " + journal + ": no such journal file");
                return 2;
            }
            HostSysfs fs = view.open(cmd);
            if (fs == null) {
                return 2;
            }
            BindApply.UndoCheck c = BindApply.check(journal, fs);
            if (c.refusal() != null) {
                System.err.println(cmd + ": refused, nothing written: " + c.refusal());
                return 1;
            }
            PrintStream out = out();
            if (!yes) {
                out.println("dry run on " + fs.describe() + ": `--yes` would undo, in this order:");
                for (int i = c.steps().size() - 1; i >= 0; i--) {
                    out.println("  step " + c.steps().get(i).step().n() + ", the inverse of: " + c.steps().get(i).step().command());
                }
                fs.writeRefusal().ifPresent(w -> out.println("note: --yes would be refused here: " + w));
                return 0;
            }
            if (fs.writeRefusal().isPresent()) {
                System.err.println(cmd + ": refused, nothing written: " + fs.writeRefusal().get());
                return 1;
            }
            List<String> failures = BindApply.undo(c, fs, HostJournal.open(journal), out::println);
            out.println(failures.isEmpty() ? "undone: " + c.steps().size() + " steps, " + fs.writes() + " writes"
                    : "undo INCOMPLETE: " + String.join("; ", failures));
            return failures.isEmpty() ? 0 : 1;
        }
    }

    @Command(name = "tree", mixinStandardHelpOptions = true,
            description = {"The PCI tree as `virsh nodedev-list --tree` draws it, each device with its IOMMU group,"
                    + " driver, ACS, SR-IOV state and whether it can be assigned. Reads only.",
                    "Exit status: 0 printed, 2 usage error."})
    static final class Tree implements Callable<Integer> {
        @Mixin
        HostView view = new HostView();

        @Override
        public Integer call() {
            HostSysfs fs = view.open("viommu host tree");
            if (fs == null) {
                return 2;
            }
            out().print(HostTree.format(fs));
            return 0;
        }
    }
}
