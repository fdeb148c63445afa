package io.viommu.machine.config;

import io.viommu.machine.GuestOptions;
import io.viommu.machine.SmpTopology;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The part of a {@code qemu-system-x86_64} command line that describes a q35 machine, in order:
 * {@code -machine/-M q35[,accel=...][,kernel-irqchip=...]}, {@code -accel NAME}, {@code -smp ...}
 * (see {@link SmpTopology}), {@code -m SIZE}, {@code -device DRIVER[,prop=value...]},
 * the options that decide QEMU's default devices ({@code -nodefaults}, {@code -vga},
 * {@code -net}, {@code -netdev}, {@code -nic}), block backends devices refer to ({@code -blockdev
 * node-name=}, {@code -drive id=}), and options recorded for a guest model but without effect on
 * the machine ({@code -append -kernel -initrd -cpu -name -enable-kvm -nographic ...}).
 * {@code -bios FILE} is the firmware image, mapped as ROM (null when absent).
 * Options that only matter to a real QEMU process ({@code -display -monitor -serial -qtest
 * -d -D}) are accepted and ignored. Ignored options that would change the machine in QEMU
 * ({@code -global}, {@code -object}, {@code -usbdevice}) are kept in {@code warnings}, one
 * sentence each, for the command to print: nothing given may vanish without a word. Error
 * texts are QEMU 7.2's (checked against the binary), with its program-name prefix.
 */
public record QemuCommandLine(long ramSize, List<DeviceOption> devices, Defaults defaults,
                              List<NicOption> nics, Map<String, String> netdevs, Set<String> blockNodes,
                              GuestOptions guest, SmpTopology smp, Accelerator accelerator, String bios,
                              List<String> warnings, List<String> tracePatterns) {
    public static final String PROGRAM = "qemu-system-x86_64";
    /** QEMU's default -m for x86 (checked: RAM ends at 128 MiB without -m). */
    public static final long DEFAULT_RAM = 128L << 20;
    /** QEMU's default NIC model on q35. */
    public static final String DEFAULT_NIC_MODEL = "e1000e";

    /** One {@code -device} option: the driver, its properties in order, and the raw argument. */
    public record DeviceOption(String driver, Map<String, String> properties, String argument) {
    }

    /**
     * Which default devices QEMU 7.2 adds (vl.c): the std VGA unless -nodefaults, -vga none or
     * a display device given with -device; the default NIC (-net nic -net user) unless
     * -nodefaults or any -net/-netdev/-nic.
     */
    public record Defaults(boolean noDefaults, String vga, boolean defaultNic) {
    }

    /** A NIC QEMU creates at machine init from -nic or -net nic (model defaults to e1000e). */
    public record NicOption(String model, String mac, String argument) {
    }

    private static final Set<String> IGNORED_WITH_ARG = Set.of("-display", "-monitor", "-serial", "-bios",
            "-qtest", "-qtest-log", "-d", "-D", "-chardev", "-object", "-global", "-boot", "-rtc", "-L",
            "-pidfile", "-qmp", "-vnc", "-k", "-audiodev", "-parallel", "-usbdevice", "-incoming");
    private static final Set<String> IGNORED_FLAGS = Set.of("-no-reboot", "-no-shutdown", "-S", "-s",
            "-daemonize", "-no-hpet", "-snapshot", "-no-user-config");
    private static final Set<String> WITH_ARG = Set.of("-machine", "-M", "-m", "-device", "-vga", "-net",
            "-netdev", "-nic", "-blockdev", "-drive", "-smp", "-append", "-kernel", "-initrd", "-cpu", "-name", "-accel", "-trace");
    private static final Set<String> DISPLAY_DEVICES = Set.of("VGA", "secondary-vga", "bochs-display",
            "cirrus-vga", "qxl-vga", "virtio-vga", "virtio-vga-gl", "ramfb", "vmware-svga", "virtio-gpu-pci");

    public static QemuCommandLine parse(List<String> args) throws MachineConfigException {
        long ram = DEFAULT_RAM;
        List<DeviceOption> devices = new ArrayList<>();
        List<DeviceOption> jsonDevices = new ArrayList<>();
        List<NicOption> nics = new ArrayList<>();
        Map<String, String> netdevs = new LinkedHashMap<>();
        Set<String> blockNodes = new LinkedHashSet<>();
        boolean noDefaults = false;
        boolean anyNet = false;
        String vga = null;
        String append = null;
        String kernel = null;
        String initrd = null;
        String cpu = null;
        String name = null;
        boolean kvm = false;
        boolean nographic = false;
        String smpArg = null;
        String machineName = "pc-q35-7.2";
        String accel = null;
        String accelOption = null;
        String kernelIrqchip = null;
        String bios = null;
        List<String> warnings = new ArrayList<>();
        List<String> tracePatterns = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String opt = args.get(i);
            String norm = opt.startsWith("--") ? opt.substring(1) : opt;
            switch (norm) {
                case "-nodefaults" -> {
                    noDefaults = true;
                    continue;
                }
                case "-enable-kvm" -> {
                    kvm = true;
                    continue;
                }
                case "-nographic" -> {
                    nographic = true;
                    continue;
                }
                default -> {
                }
            }
            if (IGNORED_FLAGS.contains(norm)) {
                continue;
            }
            boolean takesArg = IGNORED_WITH_ARG.contains(norm) || WITH_ARG.contains(norm);
            if (!takesArg) {
                throw new MachineConfigException(PROGRAM + ": " + opt + ": invalid option");
            }
            if (i + 1 >= args.size()) {
                throw new MachineConfigException(PROGRAM + ": " + opt + ": requires an argument");
            }
            String arg = args.get(++i);
            switch (norm) {
                case "-machine", "-M" -> {
                    Map<String, String> mp = checkMachine(opt, arg);
                    String type = mp.get("type");
                    machineName = type.equals("q35") ? "pc-q35-7.2" : type;
                    if (mp.containsKey("kernel-irqchip")) {
                        kernelIrqchip = mp.get("kernel-irqchip");
                    }
                    if (mp.containsKey("accel") && accel == null) {
                        accel = mp.get("accel");
                    }
                }
                case "-accel" -> {
                    Map<String, String> ap = splitProps(arg, "accel");
                    accel = ap.get("accel");
                    accelOption = opt + " " + arg;
                    if (ap.containsKey("kernel-irqchip")) {
                        kernelIrqchip = ap.get("kernel-irqchip");
                    }
                }
                case "-smp" -> smpArg = arg;
                case "-m" -> ram = parseRam(opt, arg);
                // vl.c: qemu_create_cli_devices creates every key=value -device first, then the
                // JSON ones (device_opts vs the JSON list filled by device_option_parse)
                case "-device" -> {
                    if (arg.startsWith("{")) {
                        jsonDevices.add(JsonDevice.parse(opt, arg));
                    } else {
                        devices.add(parseDevice(opt, arg));
                    }
                }
                case "-vga" -> vga = arg;
                case "-netdev" -> {
                    anyNet = true;
                    Map<String, String> p = splitProps(arg, "type");
                    String id = p.get("id");
                    if (id == null) {
                        throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg + ": Parameter 'id' is missing");
                    }
                    if (netdevs.containsKey(id)) {
                        throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg + ": Duplicate ID '" + id + "' for netdev");
                    }
                    netdevs.put(id, p.getOrDefault("type", ""));
                }
                case "-nic" -> {
                    anyNet = true;
                    Map<String, String> p = splitProps(arg, "type");
                    if (!"none".equals(p.get("type"))) {
                        nics.add(new NicOption(p.getOrDefault("model", DEFAULT_NIC_MODEL), p.get("mac"), arg));
                    }
                }
                case "-net" -> {
                    anyNet = true;
                    Map<String, String> p = splitProps(arg, "type");
                    if ("nic".equals(p.get("type"))) {
                        nics.add(new NicOption(p.getOrDefault("model", DEFAULT_NIC_MODEL), p.get("mac"), arg));
                    }
                }
                case "-blockdev" -> {
                    Map<String, String> p = splitProps(arg, "driver");
                    if (p.containsKey("node-name")) {
                        blockNodes.add(p.get("node-name"));
                    }
                }
                case "-drive" -> {
                    Map<String, String> p = splitProps(arg, "file");
                    if (p.containsKey("id")) {
                        blockNodes.add(p.get("id"));
                    }
                }
                case "-append" -> append = arg;
                case "-kernel" -> kernel = arg;
                case "-initrd" -> initrd = arg;
                case "-cpu" -> cpu = arg;
                case "-name" -> name = arg;
                case "-trace" -> {
                    // trace/control.c trace_opt_parse: PATTERN, enable=, events=FILE, file=
                    Map<String, String> tp = splitProps(arg, "enable");
                    for (String k : tp.keySet()) {
                        if (!Set.of("enable", "events", "file").contains(k)) {
                            throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg
                                    + ": Invalid parameter '" + k + "'");
                        }
                    }
                    String events = tp.get("events");
                    if (events != null && !java.nio.file.Files.isReadable(java.nio.file.Path.of(events))) {
                        throw new MachineConfigException(PROGRAM + ":" + events + ": No such file or directory");
                    }
                    if (events != null) {
                        try {
                            for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of(events))) {
                                if (!l.isBlank() && !l.trim().startsWith("#")) {
                                    tracePatterns.add(l.trim());
                                }
                            }
                        } catch (java.io.IOException e) {
                            throw new MachineConfigException(PROGRAM + ":" + events + ": No such file or directory");
                        }
                    }
                    if (tp.get("enable") != null) {
                        tracePatterns.add(tp.get("enable"));
                    }
                    if (tp.get("file") != null) {
                        warnings.add("viommu: note: -trace file=" + tp.get("file") + " is not honoured: trace"
                                + " events go to stderr");
                    }
                    String note = QemuTrace.NOTE;
                    if (!warnings.contains(note)) {
                        warnings.add(note);
                    }
                }
                case "-bios" -> bios = arg; // the last one counts, as in QEMU
                case "-global" -> warnings.add("viommu: warning: -global " + arg + " is ignored: viommu does"
                        + " not model -global; give the property on the -device option instead");
                case "-object", "-usbdevice" -> warnings.add("viommu: warning: " + opt + " " + arg
                        + " is ignored: viommu does not model it");
                default -> { } // ignored option with its argument: it changes nothing the model shows
            }
        }
        devices.addAll(jsonDevices);
        boolean displayDevice = devices.stream().anyMatch(d -> DISPLAY_DEVICES.contains(d.driver()));
        String vgaType = vga != null ? vga : noDefaults || displayDevice ? "none" : "std";
        boolean defaultNic = !noDefaults && !anyNet;
        if (defaultNic) {
            nics.add(new NicOption(DEFAULT_NIC_MODEL, null, "(default)"));
        }
        if (kvm && accel == null) {
            accel = "kvm";
        }
        Accelerator accelerator = Accelerator.of(accel, kernelIrqchip,
                PROGRAM + ": " + (accelOption == null ? "" : accelOption + ": "));
        SmpTopology smp = SmpTopology.SINGLE;
        if (smpArg != null) {
            try {
                smp = SmpConfig.parse(smpArg, machineName, preferSockets(machineName));
            } catch (MachineConfigException e) {
                throw new MachineConfigException(PROGRAM + ": " + e.getMessage());
            }
        }
        return new QemuCommandLine(ram, List.copyOf(devices), new Defaults(noDefaults, vgaType, defaultNic),
                List.copyOf(nics), Collections.unmodifiableMap(netdevs), Collections.unmodifiableSet(blockNodes),
                new GuestOptions(smp.cpus(), append, kernel, initrd, cpu, kvm, nographic, name), smp, accelerator, bios,
                List.copyOf(warnings), List.copyOf(tracePatterns));
    }

    /** Machine types before 6.2 fill a missing -smp value with sockets, later ones with cores. */
    static boolean preferSockets(String machineName) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("pc-q35-(\\d+)\\.(\\d+)").matcher(machineName);
        if (!m.matches()) {
            return false;
        }
        int major = Integer.parseInt(m.group(1));
        int minor = Integer.parseInt(m.group(2));
        return major < 6 || (major == 6 && minor < 2);
    }

    private static Map<String, String> checkMachine(String opt, String arg) throws MachineConfigException {
        Map<String, String> props = splitProps(arg, "type");
        String type = props.getOrDefault("type", "");
        if (!type.equals("q35") && !type.startsWith("pc-q35")) {
            throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg
                    + ": viommu models only the q35 machine (got '" + type + "')");
        }
        return props;
    }

    /** QEMU's -m: a size with optional suffix (no suffix means MiB); 0 means the default. */
    static long parseRam(String opt, String arg) throws MachineConfigException {
        String v = arg.startsWith("size=") ? arg.substring(5) : arg;
        long size = parseSize(v, 1L << 20);
        if (size < 0) {
            throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg
                    + ": Parameter 'size' expects a non-negative number below 2^64\n"
                    + "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                    + "and exabytes, respectively.");
        }
        if (size == 0) {
            return DEFAULT_RAM;
        }
        if (size > (1L << 40)) {
            throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg
                    + ": viommu supports at most 1 TiB of RAM");
        }
        return size;
    }

    /** Parses {@code 256}, {@code 256M}, {@code 1.5G}; -1 when malformed. */
    static long parseSize(String v, long defaultUnit) {
        if (v.isEmpty()) {
            return -1;
        }
        char last = Character.toUpperCase(v.charAt(v.length() - 1));
        long unit = defaultUnit;
        String num = v;
        int shift = "BKMGTPE".indexOf(last);
        if (shift >= 0) {
            unit = last == 'B' ? 1 : 1L << (10 * shift);
            num = v.substring(0, v.length() - 1);
        }
        if (num.isEmpty() || !num.matches("[0-9]+(\\.[0-9]+)?")) {
            return -1;
        }
        try {
            BigDecimal b = new BigDecimal(num).multiply(BigDecimal.valueOf(unit));
            return b.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0 ? -1 : b.longValue();
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static DeviceOption parseDevice(String opt, String arg) throws MachineConfigException {
        Map<String, String> props = splitProps(arg, "driver");
        String driver = props.remove("driver");
        if (driver == null || driver.isEmpty()) {
            throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg
                    + ": Parameter 'driver' is missing");
        }
        return new DeviceOption(driver, props, arg);
    }

    /** Splits {@code first,key=value,...}; a bare first element is the implied key. */
    private static Map<String, String> splitProps(String arg, String implied) {
        Map<String, String> props = new LinkedHashMap<>();
        String[] parts = arg.split(",", -1);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            int eq = p.indexOf('=');
            if (i == 0 && eq < 0) {
                props.put(implied, p);
            } else if (eq < 0) {
                props.put(p, "on"); // QEMU's "flag" shorthand
            } else {
                props.put(p.substring(0, eq), p.substring(eq + 1));
            }
        }
        return props;
    }

    /** strtoull with base 0 (decimal, 0x hex, 0 octal), whole string; null when malformed. */
    public static Long parseUnsigned(String s) {
        if (s == null || s.isEmpty()) {
            return null;
        }
        String t = s;
        boolean neg = false;
        if (t.startsWith("-") || t.startsWith("+")) {
            neg = t.charAt(0) == '-';
            t = t.substring(1);
        }
        int radix = 10;
        if (t.toLowerCase(Locale.ROOT).startsWith("0x")) {
            radix = 16;
            t = t.substring(2);
        } else if (t.length() > 1 && t.charAt(0) == '0') {
            radix = 8;
            t = t.substring(1);
        }
        if (t.isEmpty()) {
            return null;
        }
        try {
            long v = Long.parseUnsignedLong(t, radix);
            return neg ? -v : v;
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
