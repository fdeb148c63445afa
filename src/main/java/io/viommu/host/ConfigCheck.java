package io.viommu.host;

import io.viommu.machine.config.Accelerator;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.config.QemuCommandLine;
import io.viommu.machine.config.QemuCommandLine.DeviceOption;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.ConfigSpace;
import io.viommu.pci.PciFunction;
import io.viommu.vmm.VfioPciDevice;
import io.viommu.vmm.libvirt.Domain;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code viommu check}: an existing VM configuration (QEMU arguments, or a libvirt domain through
 * the translator libvirt 9.0 would apply) held against a host, without running it. The command line
 * is read by the VMM's own parser ({@link QemuCommandLine}) and the emulated part is built by the
 * one {@link MachineBuilder} (every refusal of it is QEMU 7.2's text); the assigned devices are held
 * against what the host shows now ({@link HostSnapshot}: drivers, groups).
 *
 * <p>Errors are what QEMU 7.2 (or libvirt) refuses, each with QEMU's message: a vfio-pci without
 * caching mode on the vIOMMU, interrupt remapping with the in-kernel I/O APIC, a host device that
 * does not exist, has no group, is not on vfio-pci, whose group is not viable, given twice, or a
 * group split over two address spaces; and one QEMU 7.2 starts silently though the device cannot
 * work: a vfio-pci created before intel-iommu (it keeps system memory while the guest hands its
 * driver vIOMMU addresses; an emulated device does not have the problem: it binds its address space
 * at machine done). Warnings are configurations that run but do not do what a vIOMMU is for: a
 * virtio device without iommu_platform=on, ats=on without device-IOTLB or off a PCIe port.
 */
public final class ConfigCheck {
    public static final String SCHEMA = "viommu.check/1";

    public enum Severity { ERROR, WARNING }

    /**
     * One finding.
     *
     * @param device the device it is about: {@code driver id} or the {@code -device} text
     * @param qemu   what QEMU 7.2 (or libvirt 9.0) prints for it, or null when it accepts it silently
     * @param fix    the corrected option (or XML), or the command that fixes the host
     */
    public record Finding(Severity severity, String device, String what, String qemu, String fix) {
    }

    /** The verdict: {@code ok} when no finding is an error. */
    public record Result(String schema, String host, String configuration, boolean ok, int errors, int warnings,
                         List<Finding> findings) {
    }

    private static final Set<String> PCIE_PORTS = Set.of("pcie-root-port", "ioh3420", "xio3130-downstream");
    private static final String VIOMMU = "intel-iommu";
    private static final String NOT_VIABLE_HINT =
            "Please ensure all devices within the iommu_group are bound to their vfio bus driver.";

    private final List<Finding> out = new ArrayList<>();
    private final boolean libvirt;
    private final Set<String> managed;

    private ConfigCheck(boolean libvirt, Set<String> managed) {
        this.libvirt = libvirt;
        this.managed = managed;
    }

    /** Checks QEMU arguments against the host {@code s}. */
    public static Result check(HostSnapshot s, List<String> args) {
        ConfigCheck c = new ConfigCheck(false, Set.of());
        c.run(s, args);
        return c.result(s, "QEMU arguments");
    }

    /**
     * Checks a libvirt domain against the host: its QEMU argv as libvirt builds it, with the
     * {@code managed='yes'} hostdevs counted as detached by libvirt at the start (that device only).
     */
    public static Result check(HostSnapshot s, Domain d) {
        Set<String> m = new LinkedHashSet<>();
        d.managedHostdevs().forEach(h -> m.add(h.source().bdf()));
        ConfigCheck c = new ConfigCheck(true, m);
        c.run(s, d.toQemuArgv());
        return c.result(s, "libvirt domain " + d.name());
    }

    /** A configuration that could not be read (libvirt's refusal, an unreadable file): one error. */
    public static Result refused(HostSnapshot s, String configuration, String who, String message) {
        ConfigCheck c = new ConfigCheck(true, Set.of());
        c.add(Severity.ERROR, who, "the configuration is refused before any device is created", message,
                "correct the configuration as the message says");
        return c.result(s, configuration);
    }

    private Result result(HostSnapshot s, String configuration) {
        int errors = (int) out.stream().filter(f -> f.severity() == Severity.ERROR).count();
        return new Result(SCHEMA, s.source(), configuration, errors == 0, errors, out.size() - errors, List.copyOf(out));
    }

    private void add(Severity sev, String device, String what, String qemu, String fix) {
        out.add(new Finding(sev, device, what, qemu, fix));
    }

    // ---------------------------------------------------------------- the checks

    private void run(HostSnapshot s, List<String> args) {
        QemuCommandLine cl;
        try {
            cl = QemuCommandLine.parse(args);
        } catch (MachineConfigException e) {
            add(Severity.ERROR, "(command line)", "QEMU 7.2 refuses the command line", e.getMessage(),
                    "correct the option the message names");
            return;
        }
        List<DeviceOption> devs = cl.devices(); // creation order: key=value first, then JSON (vl.c)
        Map<String, DeviceOption> byId = new HashMap<>();
        devs.forEach(d -> {
            if (d.properties().get("id") != null) {
                byId.putIfAbsent(d.properties().get("id"), d);
            }
        });
        int iommuAt = -1;
        for (int i = 0; i < devs.size(); i++) {
            if (devs.get(i).driver().equals(VIOMMU)) {
                iommuAt = i;
                break;
            }
        }
        DeviceOption iommu = iommuAt < 0 ? null : devs.get(iommuAt);
        if (iommu != null) {
            interruptRemapping(args, cl, iommu);
        }
        assigned(s, devs, iommu, iommuAt);
        if (iommu != null) {
            virtio(cl, devs, byId, iommu);
        }
        build(args);
    }

    /** x86_iommu_realize under KVM: intremap=on needs the I/O APIC in QEMU (kernel-irqchip=split). */
    private void interruptRemapping(List<String> args, QemuCommandLine cl, DeviceOption iommu) {
        try {
            cl.accelerator().iommuProperties(iommu.properties());
        } catch (IllegalArgumentException e) {
            String fix = libvirt ? "<features><ioapic driver='qemu'/></features>" : irqchipFix(args);
            add(Severity.ERROR, label(iommu), "interrupt remapping (intremap=on) needs the I/O APIC emulated in QEMU,"
                    + " and KVM's default kernel-irqchip=on keeps it in the kernel", prefix(iommu) + e.getMessage(), fix);
        }
    }

    /** The -machine (or -accel) option with kernel-irqchip=split, as given otherwise. */
    private static String irqchipFix(List<String> args) {
        for (int i = args.size() - 2; i >= 0; i--) {
            String o = args.get(i).replaceFirst("^--", "-");
            if (o.equals("-accel") && args.get(i + 1).startsWith("kvm")) {
                return "-accel " + withProp(stripProp(args.get(i + 1), "kernel_irqchip"), "kernel-irqchip", "split");
            }
        }
        for (int i = args.size() - 2; i >= 0; i--) {
            String o = args.get(i).replaceFirst("^--", "-");
            if (o.equals("-machine") || o.equals("-M")) {
                return "-machine " + withProp(stripProp(args.get(i + 1), "kernel_irqchip"), "kernel-irqchip", "split");
            }
        }
        return "-machine q35,kernel-irqchip=split";
    }

    /** The vfio-pci devices: order against the vIOMMU, caching mode, and the host device's state. */
    private void assigned(HostSnapshot s, List<DeviceOption> devs, DeviceOption iommu, int iommuAt) {
        HostReport report = HostPlanner.plan(s);
        Map<String, String> seen = new LinkedHashMap<>(); // host device -> address space
        Map<Integer, String> groupSpace = new HashMap<>();
        boolean anyVfio = false;
        for (int i = 0; i < devs.size(); i++) {
            DeviceOption d = devs.get(i);
            if (!d.driver().equals(VfioPciDevice.DRIVER)) {
                continue;
            }
            anyVfio = true;
            String host = hostName(d);
            if (host == null) {
                String given = d.properties().get("host");
                add(Severity.ERROR, label(d), given != null ? "host=" + given + " is not a PCI address"
                        : "no host device named", prefix(d) + (given != null ? "Property 'vfio-pci.host' doesn't take"
                        + " value '" + given + "'" : "No provided host device\nUse -device vfio-pci,host=DDDD:BB:DD.F"
                        + " or -device vfio-pci,sysfsdev=PATH_TO_DEVICE"), "-device vfio-pci,host=DDDD:BB:DD.F, the"
                        + " address `viommu host tree` shows");
                continue;
            }
            boolean before = iommu != null && i < iommuAt;
            // QEMU 7.2: behind the vIOMMU each device has an address space of its own (vtd_find_add_as,
            // per bus and devfn); without it, or created before it, all share system memory
            String space = iommu == null || before ? SYSTEM : "vtd#" + i;
            if (before) {
                bypass(d, iommu);
            }
            if (seen.containsKey(host)) {
                add(Severity.ERROR, label(d), "host device " + host + " is given to the VM twice: a device has one"
                        + " owner", prefix(d) + "vfio " + host + ": " + (seen.get(host).equals(space)
                        ? "device is already attached" : "group " + group(s, host) + " used in multiple address spaces"),
                        libvirt ? "remove the second <hostdev> with this <source> address" : "remove the second -device "
                                + d.argument());
                continue;
            }
            seen.put(host, space);
            hostDevice(s, report, d, host, space, groupSpace);
        }
        if (iommu != null && anyVfio && !on(iommu.properties().get("caching-mode"))) {
            add(Severity.ERROR, label(iommu), "a vfio-pci device with a vIOMMU needs caching mode: without it QEMU"
                    + " cannot see the guest's new mappings to mirror them into the host's VFIO",
                    QemuCommandLine.PROGRAM + ": We need to set caching-mode=on for intel-iommu to enable device"
                            + " assignment with IOMMU protection.",
                    libvirt ? "<iommu model='intel'><driver caching_mode='on'" + libvirtIommuRest(iommu) + "/></iommu>"
                            : "-device " + corrected(iommu, "caching-mode", "on"));
        }
    }

    private void bypass(DeviceOption vfio, DeviceOption iommu) {
        boolean json = iommu.argument().startsWith("{") && !vfio.argument().startsWith("{");
        add(Severity.ERROR, label(vfio), "listed before -device intel-iommu: its DMA bypasses the vIOMMU (all guest"
                + " RAM mapped at its guest-physical address); QEMU 7.2 does not warn and starts the VM."
                + " vfio-pci takes its DMA address space when it is"
                + " realized, so it keeps system memory, while the guest, which sees the vIOMMU cover every device,"
                + " gives its driver vIOMMU addresses: the device's DMA lands at the wrong guest page or faults in the"
                + " host IOMMU, as `viommu run` shows (an emulated device listed before intel-iommu is still"
                + " translated)", null,
                json ? "QEMU creates every key=value -device before every JSON one: write -device " + iommu.argument()
                        + " in the key=value form (-device intel-iommu," + keyValues(iommu) + ") before -device "
                        + vfio.argument()
                        : "list -device " + iommu.argument() + " before -device " + vfio.argument());
    }

    /** What QEMU 7.2's vfio_realize meets on the host for device {@code host}. */
    private void hostDevice(HostSnapshot s, HostReport report, DeviceOption d, String host, String space,
                            Map<Integer, String> groupSpace) {
        PciAddress a = PciAddress.parse(host).orElseThrow();
        HostSnapshot.HostDevice hd = s.device(a).orElse(null);
        String fail = prefix(d) + "vfio " + host + ": ";
        if (hd == null) {
            add(Severity.ERROR, label(d), "host device " + host + " does not exist on " + s.source(),
                    prefix(d) + "vfio /sys/bus/pci/devices/" + host + ": no such host device: No such file or directory",
                    "name a device of this host (viommu host tree lists them)");
            return;
        }
        if (hd.group() == null) {
            add(Severity.ERROR, label(d), "host device " + host + " has no IOMMU group: the host's IOMMU is off",
                    fail + "no iommu_group found: No such file or directory",
                    "turn the host's IOMMU on (viommu host plan " + host + " gives the kernel command line and boot"
                            + " loader change)");
            return;
        }
        int g = hd.group();
        String other = groupSpace.putIfAbsent(g, space);
        if (other != null && !other.equals(space)) {
            add(Severity.ERROR, label(d), "host device " + host + " shares IOMMU group " + g + " with another"
                    + " assigned device whose DMA goes through " + spaceText(other) + ", and its own through "
                    + spaceText(space) + ": a group's VFIO container has one set of mappings", fail + "group " + g
                    + " used in multiple address spaces", other.equals(SYSTEM) || space.equals(SYSTEM)
                    ? "list -device intel-iommu before every -device vfio-pci"
                    : "give this VM one device of IOMMU group " + g + " (behind a vIOMMU QEMU 7.2 gives each device an"
                    + " address space of its own)");
            return;
        }
        HostReport.Group grp = report.groups().stream().filter(x -> x.id() == g).findFirst().orElse(null);
        List<String> members = grp == null ? List.of(host) : grp.endpoints();
        boolean libvirtBinds = managed.contains(host);
        List<String> onHost = new ArrayList<>();
        boolean anyVfio = false;
        for (String m : members) {
            String drv = PciAddress.parse(m).flatMap(s::device).map(HostSnapshot.HostDevice::driver).orElse(null);
            if (libvirtBinds && m.equals(host)) {
                drv = "vfio-pci";
            }
            if ("vfio-pci".equals(drv)) {
                anyVfio = true;
            } else if (drv != null && !drv.equals("pci-stub")) {
                onHost.add(m + " (" + drv + ")");
            }
        }
        String fix = "viommu host apply " + host + " --yes (binds IOMMU group " + g + " to vfio-pci: "
                + String.join(" ", members) + ")" + (libvirt ? "" : ", or viommu run --managed");
        if (!anyVfio) {
            add(Severity.ERROR, label(d), "host device " + host + (hd.driver() == null ? " has no driver"
                    : " is bound to " + hd.driver()) + " and no device of IOMMU group " + g + " is on vfio-pci, so"
                    + " /dev/vfio/" + g + " does not exist", fail + "failed to open /dev/vfio/" + g
                    + ": No such file or directory", fix);
        } else if (!onHost.isEmpty()) {
            add(Severity.ERROR, label(d), "IOMMU group " + g + " of " + host + " is not viable: "
                    + String.join(", ", onHost) + (onHost.size() == 1 ? " is" : " are") + " still on a host driver"
                    + (libvirtBinds ? " (libvirt's managed='yes' detaches only the <hostdev> device itself)" : ""),
                    fail + "group " + g + " is not viable\n" + NOT_VIABLE_HINT, fix);
        } else if (!libvirtBinds && !"vfio-pci".equals(hd.driver())) {
            add(Severity.ERROR, label(d), "host device " + host + " is not bound to vfio-pci ("
                    + (hd.driver() == null ? "no driver" : hd.driver()) + "), though its group is viable",
                    fail + "error getting device from group " + g + ": No such device\nVerify all devices in group " + g
                            + " are bound to vfio-pci or pci-stub and not already in use", fix);
        }
    }

    /** virtio devices under a vIOMMU: iommu_platform, legacy, ATS. */
    private void virtio(QemuCommandLine cl, List<DeviceOption> devs, Map<String, DeviceOption> byId, DeviceOption iommu) {
        boolean iotlb = on(iommu.properties().get("device-iotlb"));
        for (DeviceOption d : devs) {
            if (!d.driver().startsWith("virtio-") || !d.driver().endsWith("-pci")) {
                continue;
            }
            Map<String, String> p = d.properties();
            DeviceOption port = byId.get(p.getOrDefault("bus", ""));
            boolean onPort = port != null && PCIE_PORTS.contains(port.driver());
            String dl = p.getOrDefault("disable-legacy", "auto");
            boolean legacy = dl.equals("auto") ? !onPort : !on(dl);
            boolean fromDrive = d.argument().contains(" (from -drive ");
            if (!on(p.get("iommu_platform"))) {
                String fix;
                if (libvirt) {
                    fix = "<driver iommu='on'/> in its " + (d.driver().equals("virtio-balloon-pci") ? "<memballoon>"
                            : d.driver().equals("virtio-net-pci") ? "<interface>" : "<disk>") + " element";
                } else if (fromDrive) {
                    String id = p.get("drive");
                    fix = "-drive ...,if=none,id=" + id + " and -device virtio-blk-pci,drive=" + id
                            + (legacy ? ",disable-legacy=on" : "") + ",iommu_platform=on";
                } else {
                    String c = corrected(d, "iommu_platform", "on");
                    fix = "-device " + (legacy ? withOption(c, d, "disable-legacy", "on") : c);
                }
                add(Severity.WARNING, label(d), "its DMA bypasses the vIOMMU: without iommu_platform=on the device does"
                        + " not offer VIRTIO_F_ACCESS_PLATFORM, the guest's driver gives it guest-physical addresses and"
                        + " QEMU reaches guest memory directly (QEMU 7.2 accepts this silently)", null, fix);
            } else if (legacy) {
                add(Severity.ERROR, label(d), "iommu_platform=on on a transitional device: virtio-pci on " + (onPort
                        ? "a PCIe port" : "the root bus") + " keeps its legacy interface unless disable-legacy=on",
                        prefix(d) + "VIRTIO_F_IOMMU_PLATFORM was supported by neither legacy nor transitional device",
                        libvirt ? "put the device on a pcie-root-port (libvirt does this unless an <address> pins it"
                                + " to bus 0)" : "-device " + corrected(d, "disable-legacy", "on"));
            }
            if (on(p.get("ats"))) {
                if (!onPort) {
                    add(Severity.WARNING, label(d), "ats=on is ignored: QEMU 7.2 adds the ATS capability only to a"
                            + " device on a PCIe port, and this one is on " + (p.containsKey("bus") ? "bus "
                            + p.get("bus") : "the root bus pcie.0"), null, libvirt ? "remove its <address> on bus 0,"
                            + " so that libvirt puts it on a pcie-root-port" : "-device pcie-root-port,id=rp-"
                            + (p.getOrDefault("id", "ats")) + ",chassis=N before it, and -device "
                            + corrected(d, "bus", "rp-" + p.getOrDefault("id", "ats")));
                }
                if (!iotlb) {
                    add(Severity.WARNING, label(d), "ats=on without device-iotlb=on on the vIOMMU: the guest sees no"
                            + " ATS support in the DMAR table (no ATSR) and never enables the device's ATS, so the"
                            + " option does nothing (QEMU 7.2 accepts this silently)", null,
                            libvirt ? "<iommu model='intel'><driver iotlb='on'" + libvirtIommuRest(iommu) + "/></iommu>"
                                    : "-device " + corrected(iommu, "device-iotlb", "on"));
                }
            }
        }
        for (QemuCommandLine.NicOption n : cl.nics()) {
            if (n.model().startsWith("virtio")) {
                add(Severity.WARNING, "-nic " + n.argument(), "a virtio NIC made by -nic/-net cannot take"
                        + " iommu_platform=on: its DMA bypasses the vIOMMU", null,
                        "-netdev user,id=net0 and -device virtio-net-pci,netdev=net0,disable-legacy=on,iommu_platform=on");
            }
        }
    }

    /**
     * The emulated machine built by the one builder (a placeholder for each vfio-pci, whose host
     * side is checked above): any other refusal of QEMU 7.2, with its text.
     */
    private void build(List<String> args) {
        MachineBuilder.DeviceFactory placeholder = (m, bus, devfn, prefix, id, props) ->
                new PciFunction(VfioPciDevice.DRIVER, 0xffff, 0xffff, 0, 0, false, ConfigSpace.PCIE_SIZE) { };
        try {
            MachineBuilder.build(args, MachineLog.SILENT,
                    new MachineBuilder.Extensions(null, Map.of(VfioPciDevice.DRIVER, placeholder)));
        } catch (MachineConfigException e) {
            String msg = e.getMessage();
            if (out.stream().noneMatch(f -> f.qemu() != null && (f.qemu().contains(msg) || msg.contains(f.qemu())))) {
                add(Severity.ERROR, device(msg), "QEMU 7.2 refuses it", msg, "correct the option the message names");
            }
        } catch (RuntimeException e) {
            add(Severity.ERROR, "(command line)", "the model could not build this machine (" + e + ")", null, "");
        }
    }

    // ---------------------------------------------------------------- helpers

    private static final String SYSTEM = "system memory";

    private static String spaceText(String key) {
        return key.equals(SYSTEM) ? SYSTEM : "an address space of its own behind the vIOMMU";
    }

    private static String device(String qemuMessage) {
        String p = QemuCommandLine.PROGRAM + ": -device ";
        if (qemuMessage.startsWith(p)) {
            int end = qemuMessage.indexOf(": ", p.length());
            return "-device " + (end < 0 ? qemuMessage.substring(p.length()) : qemuMessage.substring(p.length(), end));
        }
        return "(command line)";
    }

    /** {@code vfio-pci hostdev0} when it has an id, else {@code -device ARG}. */
    private static String label(DeviceOption d) {
        String id = d.properties().get("id");
        return id != null ? d.driver() + " " + id : "-device " + d.argument();
    }

    /** QEMU's error location for a -device option. */
    private static String prefix(DeviceOption d) {
        return QemuCommandLine.PROGRAM + ": -device " + d.argument() + ": ";
    }

    private static String hostName(DeviceOption d) {
        String h = d.properties().get("host");
        if (h != null) {
            return VfioPciDevice.parseHost(h);
        }
        String sysfs = d.properties().get("sysfsdev");
        return sysfs == null ? null : PciAddress.parse(sysfs.substring(sysfs.lastIndexOf('/') + 1)).map(Object::toString)
                .orElse(null);
    }

    private static Object group(HostSnapshot s, String host) {
        return PciAddress.parse(host).flatMap(s::device).map(HostSnapshot.HostDevice::group).map(Object.class::cast)
                .orElse("?");
    }

    static boolean on(String v) {
        return v != null && (v.equals("on") || v.equals("true") || v.equals("yes") || v.equals("y"));
    }

    /** The option as given with {@code key=value} set (replaced where present, else appended), in its own syntax. */
    static String corrected(DeviceOption d, String key, String value) {
        return withOption(d.argument(), d, key, value);
    }

    private static String withOption(String arg, DeviceOption d, String key, String value) {
        if (arg.startsWith("{")) {
            String v = value.equals("on") ? "true" : value.equals("off") ? "false" : "\"" + value + "\"";
            String re = "\"" + java.util.regex.Pattern.quote(key) + "\"\\s*:\\s*(\"[^\"]*\"|true|false|[0-9]+)";
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(re).matcher(arg);
            if (m.find()) {
                return arg.substring(0, m.start()) + "\"" + key + "\":" + v + arg.substring(m.end());
            }
            int end = arg.lastIndexOf('}');
            return arg.substring(0, end) + ",\"" + key + "\":" + v + arg.substring(end);
        }
        return withProp(arg, key, value);
    }

    /** key=value options: set {@code key}, keeping every other part in place. */
    static String withProp(String arg, String key, String value) {
        String[] parts = arg.split(",", -1);
        StringBuilder sb = new StringBuilder();
        boolean done = false;
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            String k = i == 0 && !p.contains("=") ? null : p.contains("=") ? p.substring(0, p.indexOf('=')) : p;
            if (key.equals(k)) {
                if (done) {
                    continue;
                }
                p = key + "=" + value;
                done = true;
            }
            sb.append(sb.length() > 0 || i > 0 ? "," : "").append(p);
        }
        if (!done) {
            sb.append(',').append(key).append('=').append(value);
        }
        return sb.toString();
    }

    private static String stripProp(String arg, String key) {
        StringBuilder sb = new StringBuilder();
        String[] parts = arg.split(",", -1);
        for (int i = 0; i < parts.length; i++) {
            if (i > 0 && (parts[i].equals(key) || parts[i].startsWith(key + "="))) {
                continue;
            }
            sb.append(i > 0 ? "," : "").append(parts[i]);
        }
        return sb.toString();
    }

    /** intel-iommu's properties as key=value (from a JSON -device). */
    private static String keyValues(DeviceOption d) {
        List<String> kv = new ArrayList<>();
        d.properties().forEach((k, v) -> kv.add(k + "=" + v));
        return String.join(",", kv);
    }

    /** The other libvirt <driver> attributes of an intel iommu, for a corrected element. */
    private static String libvirtIommuRest(DeviceOption iommu) {
        StringBuilder sb = new StringBuilder();
        Map<String, String> p = iommu.properties();
        if (p.containsKey("intremap")) {
            sb.append(" intremap='").append(p.get("intremap")).append('\'');
        }
        if (on(p.get("caching-mode"))) {
            sb.append(" caching_mode='on'");
        }
        if (p.containsKey("eim")) {
            sb.append(" eim='").append(p.get("eim")).append('\'');
        }
        if (on(p.get("device-iotlb"))) {
            sb.append(" iotlb='on'");
        }
        if (p.containsKey("aw-bits")) {
            sb.append(" aw_bits='").append(p.get("aw-bits")).append('\'');
        }
        return sb.toString();
    }
}
