package io.viommu.host;

import io.viommu.host.BindPlan.Finding;
import io.viommu.host.BindPlan.Member;
import io.viommu.host.BindPlan.Severity;
import io.viommu.host.BindPlan.Step;
import io.viommu.host.BindPlan.Target;
import io.viommu.host.HostReport.Device;
import io.viommu.host.HostReport.Reason;
import io.viommu.host.HostSnapshot.HostDevice;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code viommu host plan}: for the devices asked for, their IOMMU groups, every function that must
 * leave its driver, the obstacles with their fixes, and the sysfs steps that hand them to
 * vfio-pci. The verdicts come from {@code host scan}'s {@link HostPlanner} (one place decides
 * assignability); this class adds what a change needs: what the host uses each member for right
 * now ({@link HostFacts}), the order of the writes, what each one must read back as, and how to
 * make it last.
 *
 * <p>The sysfs order is driverctl's (unbind, driver_override, drivers_probe), not libvirt's
 * (driver_override first): with it every step has an exact inverse that undo can write in reverse
 * order (the old driver's {@code bind} succeeds only once the override is cleared again).
 */
public final class BindPlanner {
    /** What the plan is for, and how hard it may push. */
    public record Request(List<String> devices, String use, boolean force, Integer vfs) {
        public Request {
            devices = List.copyOf(devices);
            use = use == null ? "qemu" : use;
        }
    }

    static final String SYS_DEVICES = "/sys/bus/pci/devices/";
    static final String PROBE = "/sys/bus/pci/drivers_probe";

    private BindPlanner() {
    }

    /** Reads the host through {@code fs} and plans. Reads only. */
    public static BindPlan plan(HostFiles fs, Request req) {
        HostSnapshot s = HostReader.read(fs);
        return plan(s, HostPlanner.plan(s), HostFacts.read(fs, s), HostIdentity.of(fs), req);
    }

    /** One read of the host, one plan per request ({@code viommu fleet} plans every device of every host). */
    public static List<BindPlan> planEach(HostFiles fs, List<Request> requests) {
        HostSnapshot s = HostReader.read(fs);
        HostReport report = HostPlanner.plan(s);
        HostFacts facts = HostFacts.read(fs, s);
        HostIdentity id = HostIdentity.of(fs);
        return requests.stream().map(r -> plan(s, report, facts, id, r)).toList();
    }

    /** The pure half: a snapshot, its scan report and the host's current uses in, the plan out. */
    static BindPlan plan(HostSnapshot s, HostReport report, HostFacts facts, HostIdentity id, Request req) {
        List<Finding> hostFindings = hostFindings(s, report, facts, req);
        List<Target> targets = new ArrayList<>();
        Map<PciAddress, HostDevice> members = new LinkedHashMap<>();
        for (String given : req.devices()) {
            List<HostDevice> found = resolve(s, facts, given);
            if (found.isEmpty()) {
                targets.add(new Target(null, given, null, null, List.of(), List.of(), List.of(new Finding(Severity.BLOCKER,
                        "no PCI device or network interface " + given + " on this host (" + s.source() + ")",
                        "name a device as `viommu host tree` lists it: a BDF (0000:01:00.0), vendor:device (8086:10c9)"
                                + " or an interface name (eth0)"))));
            }
            for (HostDevice d : found) {
                targets.add(target(s, report, facts, d, given, req, members));
            }
        }
        boolean ready = !targets.isEmpty() && hostFindings.stream().noneMatch(f -> f.severity() == Severity.BLOCKER)
                && targets.stream().flatMap(t -> t.findings().stream()).noneMatch(f -> f.severity() == Severity.BLOCKER);
        List<Step> steps = ready ? steps(s, unbindOrder(members, facts), req) : List.of();
        List<String> commands = new ArrayList<>(steps.stream().map(Step::command).toList());
        return new BindPlan(BindPlan.SCHEMA, id, s.source(), req.use(), req.force(), req.vfs(), req.devices(),
                List.copyOf(targets), hostFindings, steps, List.copyOf(commands),
                ready ? persistence(s, members, req) : List.of(), ready);
    }

    // ---------------------------------------------------------------- devices

    /** A BDF (full or bus:dev.fn), every function with vendor:device, or the function behind an interface. */
    static List<HostDevice> resolve(HostSnapshot s, HostFacts facts, String given) {
        String g = given.trim().toLowerCase();
        Optional<PciAddress> a = PciAddress.parse(g).or(() -> PciAddress.parse("0000:" + g));
        if (a.isPresent()) {
            return s.device(a.get()).stream().toList();
        }
        if (g.matches("[0-9a-f]{4}:[0-9a-f]{4}")) {
            int v = Integer.parseInt(g.substring(0, 4), 16);
            int d = Integer.parseInt(g.substring(5), 16);
            return s.devices().stream().filter(x -> x.vendor() == v && x.device() == d).toList();
        }
        return Optional.ofNullable(facts.interfaceOwner().get(given)).flatMap(s::device).stream().toList();
    }

    static Target target(HostSnapshot s, HostReport report, HostFacts facts, HostDevice d, String given, Request req,
                         Map<PciAddress, HostDevice> planned) {
        Device rd = report.devices().stream().filter(x -> x.address().equals(d.address().toString())).findFirst().orElseThrow();
        List<Finding> f = new ArrayList<>();
        if (d.isBridge()) {
            List<String> below = s.devices().stream().filter(x -> d.address().equals(x.parent()) && !x.isBridge())
                    .map(x -> x.address().toString()).toList();
            f.add(new Finding(Severity.BLOCKER, d.address() + " is a " + (rd.pcieType() == null ? "PCI bridge"
                    : rd.pcieType().replace('-', ' ')) + " (" + rd.description() + "): vfio-pci binds endpoints only,"
                    + " and the host needs its bridges to reach what is below them",
                    below.isEmpty() ? "nothing is below it" : "name the device(s) below it instead: " + String.join(" ", below)));
            return new Target(d.address().toString(), given, rd.description(), d.group(), List.of(), List.of(), f);
        }
        if (d.isBridgeClass()) {
            f.add(new Finding(Severity.BLOCKER, d.address() + " is a platform bridge function (" + rd.description()
                    + "), part of the chipset", "nothing: the host cannot give it away"));
            return new Target(d.address().toString(), given, rd.description(), d.group(), List.of(), List.of(), f);
        }
        List<HostDevice> members = new ArrayList<>();
        List<String> bridges = new ArrayList<>();
        if (req.vfs() != null && req.vfs() > 0) {
            sriov(s, d, req.vfs(), f);
        } else {
            members.add(d);
            for (String m : rd.assignment().mustGoWith()) {
                PciAddress.parse(m).flatMap(s::device).ifPresent(members::add);
            }
        }
        if (d.group() != null) {
            s.group(d.group()).ifPresent(g -> g.devices().stream().filter(a -> s.device(a).map(HostDevice::isBridge).orElse(false))
                    .forEach(a -> bridges.add(a.toString())));
        }
        for (Reason r : rd.assignment().reasons()) {
            String m = r.message();
            if (m.contains(" carries ") || m.contains(" holds the host's ") || m.contains("boot VGA")
                    || m.startsWith("interrupt remapping is") || m.contains(" is bound to ") || m.contains("already bound to vfio-pci")) {
                continue; // said below from the host's current uses, or once for the host, or in the member list
            }
            Severity sev = switch (r.severity()) {
                case BLOCKER -> Severity.BLOCKER;
                case ACTION -> Severity.ACTION;
                case WARNING -> Severity.WARNING;
                default -> Severity.INFO;
            };
            if (req.vfs() != null && (m.startsWith("IOMMU group") || m.startsWith("it is a function")
                    || m.startsWith("SR-IOV capable"))) {
                continue; // the PF stays; its group does not move; the VFs are what is planned
            }
            f.add(new Finding(sev, m, fixFor(m)));
        }
        if (members.size() > 1) {
            f.add(new Finding(Severity.INFO, "the group cannot be split by software that is part of Linux: pcie_acs_override"
                    + " is an out-of-tree patch that makes the kernel pretend the hardware isolates these functions;"
                    + " they can still reach each other peer-to-peer without passing the IOMMU, so it removes the check,"
                    + " not the risk", "assign the whole group (what this plan does), or move the device to a slot"
                    + " behind a port with ACS"));
        }
        List<Member> out = new ArrayList<>();
        for (HostDevice m : members) {
            List<String> uses = usage(facts, m, req, f);
            String action = "vfio-pci".equals(m.driver()) ? "already vfio-pci" : "bind vfio-pci";
            out.add(new Member(m.address().toString(), id(m), PciNames.describe(m.vendor(), m.device(), m.classCode()),
                    m.driver(), action, uses));
            planned.putIfAbsent(m.address(), m);
        }
        if (req.vfs() != null && req.vfs() > 0) {
            usage(facts, d, req, f); // the PF keeps its driver, but its root file system or console still matter
            out.add(new Member(d.address().toString(), id(d), rd.description(), d.driver(),
                    "stays (PF: creates " + req.vfs() + " VFs)", List.of()));
            planned.putIfAbsent(d.address(), d);
            for (PciAddress vf : vfAddresses(d, req.vfs())) {
                out.add(new Member(vf.toString(), d.sriov().vfDevice() == null ? "?" : String.format("%04x:%s",
                        d.vendor() & 0xffff, d.sriov().vfDevice()), "VF of " + d.address(), null, "create, bind vfio-pci", List.of()));
            }
        }
        return new Target(d.address().toString(), given, rd.description(), d.group(), out, bridges, f);
    }

    private static String fixFor(String message) {
        if (message.startsWith("no reset method")) {
            return "none in software: QEMU assigns it anyway with a warning; a device with FLR (or alone behind its"
                    + " own port, for a bus reset) avoids it";
        }
        if (message.contains("SR-IOV PF with")) {
            return "the plan writes 0 to sriov_numvfs first; VFs in use make that fail (EBUSY) and the plan is undone";
        }
        if (message.startsWith("the group holds ")) {
            return "none on this host: a group is assigned whole and this one cannot be made viable; use a device"
                    + " whose group holds no chipset function (a slot behind a root port or switch port with ACS)";
        }
        if (message.startsWith("no IOMMU group")) {
            return "enable the IOMMU (see the host findings)";
        }
        return "";
    }

    private static void sriov(HostSnapshot s, HostDevice pf, int n, List<Finding> f) {
        if (pf.sriov() == null || pf.sriov().totalVfs() == 0) {
            f.add(new Finding(Severity.BLOCKER, "--vfs " + n + ": " + pf.address() + " has no SR-IOV capability"
                    + " (no sriov_totalvfs)", "leave out --vfs to plan the function itself"));
            return;
        }
        if (n > pf.sriov().totalVfs()) {
            f.add(new Finding(Severity.BLOCKER, "--vfs " + n + ": " + pf.address() + " supports at most "
                    + pf.sriov().totalVfs() + " VFs (sriov_totalvfs); writing more to sriov_numvfs fails with ERANGE",
                    "--vfs " + pf.sriov().totalVfs() + " or fewer"));
        }
        if (pf.driver() == null || "vfio-pci".equals(pf.driver())) {
            f.add(new Finding(Severity.BLOCKER, "--vfs " + n + ": " + pf.address() + (pf.driver() == null
                    ? " has no driver, and its PF driver is what creates VFs (sriov_numvfs gives ENOENT without one)"
                    : " is bound to vfio-pci, which creates VFs only with enable_sriov=1 and a vf_token"),
                    "bind its own driver first (modprobe it), then plan again"));
        }
        if (pf.sriov().numVfs() != 0) {
            f.add(new Finding(Severity.BLOCKER, "--vfs " + n + ": " + pf.address() + " has " + pf.sriov().numVfs()
                    + " VFs already; the kernel refuses to change a non-zero count (EBUSY)",
                    "echo 0 > " + SYS_DEVICES + pf.address() + "/sriov_numvfs when they are unused, or plan the existing VFs"));
        }
        if (pf.sriov().offset() == null || pf.sriov().stride() == null) {
            f.add(new Finding(Severity.BLOCKER, "--vfs " + n + ": sriov_offset/sriov_stride unreadable, the VFs'"
                    + " addresses cannot be known in advance", "read the host as root"));
        }
        f.add(new Finding(Severity.INFO, "SR-IOV: the PF " + pf.address() + " stays with its driver (" + pf.driver()
                + "); " + n + " VFs are created (sriov_numvfs) with VF driver autoprobe off, each bound to vfio-pci;"
                + " their IOMMU groups exist only once they do, and apply checks that each holds VFs of this plan only", ""));
    }

    /** The VFs' addresses: routing id of the PF + First VF Offset + i * VF Stride (PCIe SR-IOV 9.3.3.9, 9.3.3.10). */
    static List<PciAddress> vfAddresses(HostDevice pf, int n) {
        List<PciAddress> out = new ArrayList<>();
        if (pf.sriov() == null || pf.sriov().offset() == null || pf.sriov().stride() == null) {
            return out;
        }
        for (int i = 0; i < n; i++) {
            int rid = pf.address().requesterId() + pf.sriov().offset() + i * pf.sriov().stride();
            out.add(new PciAddress(pf.address().segment(), (rid >> 8) & 0xff, (rid >> 3) & 0x1f, rid & 7));
        }
        return out;
    }

    /** What the host uses a member for, as findings: refused as dpdk-devbind refuses unless --force; root and console never. */
    static List<String> usage(HostFacts facts, HostDevice m, Request req, List<Finding> f) {
        List<String> uses = new ArrayList<>();
        String a = m.address().toString();
        if (m.hostUses().stream().anyMatch(u -> u.startsWith("root filesystem"))) {
            String u = m.hostUses().stream().filter(x -> x.startsWith("root filesystem")).findFirst().get();
            uses.add(u);
            f.add(new Finding(Severity.BLOCKER, a + " holds the host's " + u + ": unbinding it takes the host's own disk away",
                    "none: --force does not override this; pick another device"));
        }
        String console = facts.consoles().get(m.address());
        if (console != null) {
            uses.add("console " + console);
            f.add(new Finding(Severity.BLOCKER, a + " carries the host's console (" + console + "): unbinding it leaves"
                    + " the host without one", "none: --force does not override this; move the console first (console= on"
                    + " the kernel command line) and plan again"));
        }
        for (HostFacts.Nic nic : facts.nics().getOrDefault(m.address(), List.of())) {
            String state = nic.name() + " (" + nic.operstate() + (nic.routes().isEmpty() ? "" : ", routes "
                    + String.join(" ", nic.routes())) + (nic.addresses().isEmpty() ? "" : ", addresses "
                    + String.join(" ", nic.addresses())) + ")";
            uses.add("interface " + state);
            if (!nic.routes().isEmpty()) {
                if (req.force()) {
                    f.add(new Finding(Severity.WARNING, "--force: interface " + state + " is active and goes away with its"
                            + " driver; the host loses these routes", "undo brings it back up with its addresses"));
                } else {
                    f.add(new Finding(Severity.BLOCKER, "routing table indicates that interface " + nic.name() + " is active"
                            + " (" + a + "): the host would lose " + String.join(", ", nic.routes())
                            + " (dpdk-devbind: \"Warning: routing table indicates that interface " + nic.name()
                            + " is active. Not modifying\")", "stop using it (ip link set dev " + nic.name()
                            + " down) or pass --force, as dpdk-devbind --force"));
                }
            } else if (nic.operstate().equals("up")) {
                f.add(new Finding(Severity.WARNING, "interface " + state + " is up (no routes): it goes away with its driver",
                        "undo brings it back up"));
            }
        }
        for (HostFacts.Disk disk : facts.disks().getOrDefault(m.address(), List.of())) {
            if (disk.mounts().isEmpty()) {
                uses.add("disk " + disk.name());
                continue;
            }
            uses.add("disk " + disk.name() + " mounted on " + String.join(", ", disk.mounts()));
            if (req.force()) {
                f.add(new Finding(Severity.WARNING, "--force: disk " + disk.name() + " is mounted on " + String.join(", ",
                        disk.mounts()) + "; its file systems lose their device", "unmount it first if you can"));
            } else {
                f.add(new Finding(Severity.BLOCKER, "disk " + disk.name() + " of " + a + " is mounted on "
                        + String.join(", ", disk.mounts()) + ": unbinding its controller pulls the device from under"
                        + " mounted file systems", "umount " + String.join(" ", disk.mounts()) + " first, or pass --force"));
            }
        }
        return uses;
    }

    static String id(HostDevice d) {
        return String.format("%04x:%04x", d.vendor() & 0xffff, d.device() & 0xffff);
    }

    // ---------------------------------------------------------------- host

    static List<Finding> hostFindings(HostSnapshot s, HostReport r, HostFacts facts, Request req) {
        List<Finding> out = new ArrayList<>();
        if (!r.iommu().enabled()) {
            String vhv = s.cpu().intel() && s.iommuGroupsDir() ? " (virt-host-validate: \"IOMMU appears to be disabled in"
                    + " kernel. Add intel_iommu=on to kernel cmdline arguments\")" : "";
            out.add(new Finding(Severity.BLOCKER, "the IOMMU is off: " + r.iommu().cause() + vhv, iommuFix(s, facts)));
        } else {
            String ir = r.interruptRemapping().state();
            if (!ir.equals("enabled") && !r.interruptRemapping().vfioAllowsUnsafe()) {
                out.add(new Finding(Severity.ACTION, "interrupt remapping is " + ir + " ("
                        + String.join("; ", r.interruptRemapping().reasons()) + "): binding works, but VFIO's type1 backend"
                        + " refuses to attach the group (EPERM, \"No interrupt remapping support\") unless"
                        + " vfio_iommu_type1.allow_unsafe_interrupts=1",
                        "that option lets a device it was given send any MSI it likes: a guest (or a DPDK process) can"
                                + " then inject interrupts into the host. Acceptable only when you trust whoever gets the"
                                + " device: echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts, or"
                                + " `options vfio_iommu_type1 allow_unsafe_interrupts=1` in /etc/modprobe.d/vfio.conf"));
            }
        }
        Map<String, String> cfg = s.kernelConfig();
        boolean loaded = s.modules().containsKey("vfio_pci");
        if (!loaded && cfg != null && (cfg.getOrDefault("CONFIG_VFIO", "n").equals("n")
                || cfg.getOrDefault("CONFIG_VFIO_PCI", "n").equals("n"))) {
            out.add(new Finding(Severity.BLOCKER, "the kernel is built without VFIO (CONFIG_VFIO_PCI is not set)",
                    "a kernel with CONFIG_VFIO_PCI=m (every distribution kernel has it)"));
        } else if (!loaded) {
            out.add(new Finding(Severity.INFO, "vfio-pci is not loaded: the plan loads it first (modprobe vfio-pci)", ""));
        }
        if (req.use().equals("libvirt")) {
            out.add(new Finding(Severity.INFO, "libvirt with <hostdev managed='yes'> detaches the devices itself when the"
                    + " domain starts (virsh nodedev-detach does the same by hand); this plan is for managed='no' or to"
                    + " check the host first", ""));
        } else if (req.use().equals("dpdk")) {
            out.add(new Finding(Severity.INFO, "DPDK takes the devices from vfio-pci in user space; it needs hugepages"
                    + " (not planned here) and, with the IOMMU on, no vfio no-IOMMU mode", ""));
        }
        return out;
    }

    /** The exact kernel command-line change for this CPU vendor and boot loader, and the reboot. */
    static String iommuFix(HostSnapshot s, HostFacts facts) {
        List<String> add = new ArrayList<>();
        List<String> remove = new ArrayList<>();
        for (String a : s.cmdline().args()) {
            if (a.equals("iommu=off") || a.equals("intel_iommu=off") || a.equals("amd_iommu=off")) {
                remove.add(a);
            }
        }
        if (s.cpu().amd()) {
            // AMD-Vi is on by default when the firmware has an IVRS table; amd_iommu= has no "on" value.
        } else {
            add.add("intel_iommu=on");
        }
        add.add("iommu=pt");
        StringBuilder sb = new StringBuilder();
        if (s.firmware().dmarState() == HostSnapshot.TableState.ABSENT && s.firmware().ivrsState() == HostSnapshot.TableState.ABSENT) {
            sb.append(s.cpu().hypervisor() ? "give this VM a virtual IOMMU (QEMU: -machine q35,kernel-irqchip=split"
                    + " -device intel-iommu,intremap=on); then " : "enable VT-d / AMD-Vi in the firmware setup; then ");
        }
        Map<String, String> cfg = s.kernelConfig();
        if (cfg != null && cfg.getOrDefault("CONFIG_INTEL_IOMMU", "n").equals("n") && cfg.getOrDefault("CONFIG_AMD_IOMMU", "n").equals("n")) {
            sb.append("boot a kernel built with ").append(s.cpu().amd() ? "CONFIG_AMD_IOMMU=y" : "CONFIG_INTEL_IOMMU=y")
                    .append(" (every distribution kernel is); then ");
        }
        sb.append("on the kernel command line ");
        if (!remove.isEmpty()) {
            sb.append("remove ").append(String.join(" ", remove)).append(" and ");
        }
        sb.append("add ").append(String.join(" ", add)).append(" (iommu=pt: host devices keep identity mappings, only"
                + " assigned ones are translated; leave it out for full isolation)");
        if (s.cpu().amd()) {
            sb.append("; on AMD the IOMMU needs no switch of its own: amd_iommu=on is not a kernel option");
        }
        String current = facts.grubCmdline();
        String newValue = (current == null ? "" : Arrays.stream(current.split("\\s+")).filter(w -> !w.isEmpty() && !remove.contains(w))
                .reduce((x, y) -> x + " " + y).orElse("")).trim();
        for (String a : add) {
            if (!(" " + newValue + " ").contains(" " + a + " ")) {
                newValue = (newValue + " " + a).trim();
            }
        }
        if (current != null) {
            sb.append(". In /etc/default/grub: GRUB_CMDLINE_LINUX=\"").append(newValue).append("\" (now \"")
                    .append(current).append("\")");
        } else {
            sb.append(". In /etc/default/grub (not readable here): ").append(remove.isEmpty() ? "" : "remove "
                    + String.join(" ", remove) + " from GRUB_CMDLINE_LINUX and ").append("add ").append(String.join(" ", add))
                    .append(remove.isEmpty() ? " to GRUB_CMDLINE_LINUX" : "");
        }
        sb.append(", then ").append(switch (facts.distribution()) {
            case "debian" -> "update-grub";
            case "fedora" -> "grub2-mkconfig -o /boot/grub2/grub.cfg";
            default -> "update-grub (Debian, Ubuntu) or grub2-mkconfig -o /boot/grub2/grub.cfg (Fedora, RHEL)";
        });
        sb.append(", and reboot: the IOMMU is set up only at boot");
        return sb.toString();
    }

    // ---------------------------------------------------------------- steps

    /**
     * The members in the order their drivers are taken: those with network interfaces first, the
     * highest-numbered interface first. Undo rebinds in reverse order, and the kernel names a new
     * interface with the lowest free ethN, so each interface gets its old name back.
     */
    static Map<PciAddress, HostDevice> unbindOrder(Map<PciAddress, HostDevice> members, HostFacts facts) {
        List<HostDevice> order = new ArrayList<>(members.values());
        order.sort((x, y) -> Integer.compare(ifNumber(facts, y), ifNumber(facts, x)));
        Map<PciAddress, HostDevice> out = new LinkedHashMap<>();
        order.forEach(d -> out.put(d.address(), d));
        return out;
    }

    private static int ifNumber(HostFacts facts, HostDevice d) {
        int n = -1;
        for (HostFacts.Nic nic : facts.nics().getOrDefault(d.address(), List.of())) {
            String digits = nic.name().replaceAll("^.*?(\\d+)$", "$1");
            if (digits.matches("\\d+")) {
                n = Math.max(n, Integer.parseInt(digits));
            }
        }
        return n;
    }

    static List<Step> steps(HostSnapshot s, Map<PciAddress, HostDevice> members, Request req) {
        List<Step> out = new ArrayList<>();
        if (!s.modules().containsKey("vfio_pci")) {
            String mods = String.join(",", s.modules().keySet());
            out.add(new Step(out.size() + 1, "modprobe", null, null, "vfio-pci", mods.isEmpty() ? "(none)" : mods,
                    "/sys/module/vfio_pci", "modprobe vfio-pci"));
        }
        for (HostDevice m : members.values()) {
            String dir = SYS_DEVICES + m.address();
            if (req.vfs() != null && req.vfs() > 0 && m.sriov() != null) {
                boolean autoprobe = !Boolean.FALSE.equals(m.sriov().driversAutoprobe());
                if (autoprobe) {
                    out.add(write(out, m.address(), dir + "/sriov_drivers_autoprobe", "0", "1"));
                }
                out.add(write(out, m.address(), dir + "/sriov_numvfs", Integer.toString(req.vfs()), "0"));
                for (PciAddress vf : vfAddresses(m, req.vfs())) {
                    bind(out, vf, null, null);
                }
                if (autoprobe) {
                    out.add(write(out, m.address(), dir + "/sriov_drivers_autoprobe", "1", "0"));
                }
                continue;
            }
            if ("vfio-pci".equals(m.driver())) {
                continue;
            }
            if (m.sriov() != null && m.sriov().numVfs() > 0) {
                out.add(write(out, m.address(), dir + "/sriov_numvfs", "0", Integer.toString(m.sriov().numVfs())));
            }
            bind(out, m.address(), m.driver(), m.driverOverride());
        }
        return List.copyOf(out);
    }

    private static void bind(List<Step> out, PciAddress a, String driver, String override) {
        String dir = SYS_DEVICES + a;
        if (driver != null) {
            out.add(new Step(out.size() + 1, "unbind", a.toString(), dir + "/driver/unbind", a.toString(), driver, "none",
                    "echo " + a + " > " + dir + "/driver/unbind"));
        }
        out.add(write(out, a, dir + "/driver_override", "vfio-pci", override == null ? "(null)" : override));
        out.add(new Step(out.size() + 1, "probe", a.toString(), PROBE, a.toString(), "none", "vfio-pci",
                "echo " + a + " > " + PROBE));
    }

    private static Step write(List<Step> out, PciAddress a, String path, String value, String before) {
        return new Step(out.size() + 1, "write", a.toString(), path, value, before, value, "echo " + value + " > " + path);
    }

    // ---------------------------------------------------------------- persistence

    static List<String> persistence(HostSnapshot s, Map<PciAddress, HostDevice> members, Request req) {
        List<String> out = new ArrayList<>();
        if (req.vfs() != null && req.vfs() > 0) {
            for (HostDevice pf : members.values()) {
                out.add("VFs do not survive a reboot: a udev rule creates them at boot, e.g. in"
                        + " /etc/udev/rules.d/70-sriov.rules: ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\""
                        + pf.address() + "\", ATTR{sriov_drivers_autoprobe}=\"0\", ATTR{sriov_numvfs}=\"" + req.vfs() + "\"");
                out.add("then, per VF: driverctl set-override BDF vfio-pci (driverctl keeps the override in"
                        + " /etc/driverctl.d/pci-BDF and re-applies it when the VF appears)");
            }
            return out;
        }
        Set<String> ids = new LinkedHashSet<>();
        Map<String, String> drivers = new TreeMap<>();
        for (HostDevice m : members.values()) {
            ids.add(id(m));
            if (m.driver() != null && !m.driver().equals("vfio-pci")) {
                drivers.put(m.driver(), m.driver());
            }
        }
        List<String> others = s.devices().stream().filter(d -> ids.contains(id(d)) && !members.containsKey(d.address()))
                .map(d -> d.address().toString()).toList();
        String idList = String.join(",", ids);
        String caveat = others.isEmpty() ? "" : " (also takes " + String.join(", ", others)
                + ", which share these ids: prefer driverctl then)";
        out.add("kernel command line: vfio-pci.ids=" + idList + " (vfio-pci built in or loaded from the initramfs)" + caveat);
        for (HostDevice m : members.values()) {
            if (!"vfio-pci".equals(m.driver())) {
                out.add("driverctl set-override " + m.address() + " vfio-pci (saves /etc/driverctl.d/pci-" + m.address()
                        + "; one device, by address)");
            }
        }
        StringBuilder conf = new StringBuilder("/etc/modprobe.d/vfio.conf: options vfio-pci ids=" + idList);
        for (String d : drivers.keySet()) {
            conf.append("; softdep ").append(d.replace('-', '_')).append(" pre: vfio-pci");
        }
        out.add(conf + caveat + " (then update-initramfs -u or dracut -f)");
        return out;
    }

    /** Facts of the host the scan does not hold: interfaces and their routes, disks and their mounts, the console. */
    public record HostFacts(Map<PciAddress, List<Nic>> nics, Map<PciAddress, List<Disk>> disks,
                            Map<PciAddress, String> consoles, Map<String, PciAddress> interfaceOwner,
                            String grubCmdline, String distribution) {
        public record Nic(String name, String operstate, List<String> routes, List<String> addresses) {
        }

        public record Disk(String name, List<String> mounts) {
        }

        public static HostFacts read(HostFiles fs, HostSnapshot s) {
            Map<String, List<String>> routes = routes(fs.read(Path.of("/proc/net/route")).orElse(""));
            Map<PciAddress, List<Nic>> nics = new TreeMap<>();
            Map<String, PciAddress> owner = new TreeMap<>();
            for (String n : fs.list(HostReader.CLASS_NET)) {
                Optional<PciAddress> a = HostReader.lastPci(fs.resolveLink(HostReader.CLASS_NET.resolve(n)));
                if (a.isEmpty()) {
                    continue;
                }
                owner.put(n, a.get());
                List<String> addrs = fs instanceof HostSysfs h ? h.addresses(n) : List.of();
                nics.computeIfAbsent(a.get(), k -> new ArrayList<>()).add(new Nic(n,
                        fs.read(HostReader.CLASS_NET.resolve(n).resolve("operstate")).map(String::trim).orElse("unknown"),
                        routes.getOrDefault(n, List.of()), addrs));
            }
            List<String[]> mounts = fs.read(HostReader.MOUNTS).stream().flatMap(t -> Arrays.stream(t.split("\n")))
                    .map(l -> l.split("\\s+")).filter(w -> w.length > 1 && w[0].startsWith("/dev/")).toList();
            Map<PciAddress, List<Disk>> disks = new TreeMap<>();
            for (String b : fs.list(HostReader.CLASS_BLOCK)) {
                Path link = HostReader.CLASS_BLOCK.resolve(b);
                if (fs.exists(link.resolve("partition"))) {
                    continue;
                }
                Optional<PciAddress> a = HostReader.lastPci(fs.resolveLink(link));
                if (a.isEmpty()) {
                    continue;
                }
                List<String> on = new ArrayList<>();
                for (String[] w : mounts) {
                    String dev = w[0].substring(5);
                    if (dev.equals(b) || (dev.startsWith(b) && dev.substring(b.length()).matches("p?\\d+"))) {
                        on.add(w[1]);
                    }
                }
                disks.computeIfAbsent(a.get(), k -> new ArrayList<>()).add(new Disk(b, on));
            }
            Map<PciAddress, String> consoles = new TreeMap<>();
            for (HostDevice d : s.devices()) {
                if (d.hostUses().contains("boot VGA")) {
                    consoles.put(d.address(), "boot VGA: the framebuffer console");
                }
            }
            for (String c : s.cmdline().options("console")) {
                String tty = c.split(",")[0];
                HostReader.lastPci(fs.resolveLink(Path.of("/sys/class/tty", tty, "device")).or(() -> fs.resolveLink(Path.of("/sys/class/tty", tty))))
                        .ifPresent(a -> consoles.put(a, "console=" + c));
            }
            String grub = null;
            for (String l : fs.read(Path.of("/etc/default/grub")).orElse("").split("\n")) {
                if (l.startsWith("GRUB_CMDLINE_LINUX=")) {
                    grub = l.substring("GRUB_CMDLINE_LINUX=".length()).replace("\"", "").replace("'", "").trim();
                }
            }
            String os = fs.read(Path.of("/etc/os-release")).orElse("");
            String dist = os.matches("(?s).*\\b(ID|ID_LIKE)=\"?[^\\n]*\\b(debian|ubuntu)\\b.*") ? "debian"
                    : os.matches("(?s).*\\b(ID|ID_LIKE)=\"?[^\\n]*\\b(fedora|rhel|centos)\\b.*") ? "fedora" : "unknown";
            return new HostFacts(nics, disks, consoles, owner, grub, dist);
        }

        /** /proc/net/route by interface: destinations as A.B.C.D/N, link-local 169.254/16 left out (as dpdk-devbind). */
        static Map<String, List<String>> routes(String table) {
            Map<String, List<String>> out = new TreeMap<>();
            String[] lines = table.split("\n");
            for (int i = 1; i < lines.length; i++) {
                String[] w = lines[i].trim().split("\\s+");
                if (w.length < 8 || !w[1].matches("[0-9A-Fa-f]{8}")) {
                    continue;
                }
                int dst = Integer.reverseBytes((int) Long.parseLong(w[1], 16));
                int mask = Integer.reverseBytes((int) Long.parseLong(w[7], 16));
                String text = ((dst >>> 24) & 255) + "." + ((dst >>> 16) & 255) + "." + ((dst >>> 8) & 255) + "." + (dst & 255)
                        + "/" + Integer.bitCount(mask);
                if (!text.startsWith("169.254.")) {
                    out.computeIfAbsent(w[0], k -> new ArrayList<>()).add(text.equals("0.0.0.0/0") ? "default" : text);
                }
            }
            return out;
        }
    }
}
