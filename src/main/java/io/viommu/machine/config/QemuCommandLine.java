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
 * sentence each, for the command to print: nothing given may vanish without a word. Every
 * other option accepted without an effect on the model is named in {@code noEffect}, with why
 * (for a report that lists them; qtest and boot keep QEMU's quiet stderr). Error
 * texts are QEMU 7.2's (checked against the binary), with its program-name prefix.
 */
public record QemuCommandLine(long ramSize, List<DeviceOption> devices, Defaults defaults,
                              List<NicOption> nics, Map<String, String> netdevs, Set<String> blockNodes,
                              GuestOptions guest, SmpTopology smp, Accelerator accelerator, String bios,
                              List<String> warnings, List<String> tracePatterns, List<String> noEffect) {
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
            "-pidfile", "-qmp", "-vnc", "-k", "-audiodev", "-parallel", "-usbdevice", "-incoming", "-debugcon",
            "-overcommit", "-sandbox", "-msg", "-uuid", "-smbios", "-mon", "-cdrom", "-hda", "-hdb");
    private static final Set<String> IGNORED_FLAGS = Set.of("-no-reboot", "-no-shutdown", "-S", "-s",
            "-daemonize", "-no-hpet", "-snapshot", "-no-user-config", "-nodefconfig", "-no-acpi");
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
        String machineType = null; // the type of the -machine options seen so far
        String accel = null;
        String accelOption = null;
        String kernelIrqchip = null;
        String bios = null;
        List<String> warnings = new ArrayList<>();
        List<String> tracePatterns = new ArrayList<>();
        List<String> noEffect = new ArrayList<>();
        List<DeviceOption> driveDevices = new ArrayList<>();
        int virtioDrives = 0;
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
                    noEffect.add("-nographic: no display or serial console is modelled");
                    continue;
                }
                default -> {
                }
            }
            if (IGNORED_FLAGS.contains(norm)) {
                noEffect.add(opt + ": " + flagEffect(norm));
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
                    Map<String, String> mp = checkMachine(opt, arg, machineType);
                    String type = mp.get("type");
                    machineType = type;
                    machineName = type.equals("q35") ? "pc-q35-7.2" : type;
                    if (mp.containsKey("kernel-irqchip")) {
                        kernelIrqchip = mp.get("kernel-irqchip");
                    }
                    if (mp.containsKey("kernel_irqchip")) { // the legacy spelling (seeds, libvirt's argv)
                        kernelIrqchip = mp.get("kernel_irqchip");
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
                    Map<String, String> p = optionProps(opt, arg, "type");
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
                    Map<String, String> p = optionProps(opt, arg, "driver");
                    if (p.containsKey("node-name")) {
                        blockNodes.add(p.get("node-name"));
                    }
                    if (p.containsKey("filename")) {
                        noEffect.add(opt + " " + arg + ": the image " + p.get("filename") + " is not read or written (a"
                                + " virtio-blk-pci on it serves a disk of the model's own)");
                    }
                }
                case "-drive" -> {
                    Map<String, String> p = splitProps(arg, "file");
                    String driveId = p.get("id");
                    if ("virtio".equals(p.get("if"))) {
                        // blockdev.c drive_new: if=virtio adds "-device virtio-blk-pci,drive=ID" to
                        // the device options after the command line's own (checked with 7.2: it
                        // takes the first free slot after every -device); the default id is virtioN
                        if (driveId == null) {
                            driveId = "virtio" + virtioDrives;
                        }
                        virtioDrives++;
                        Map<String, String> dp = new LinkedHashMap<>();
                        dp.put("drive", driveId);
                        driveDevices.add(new DeviceOption("virtio-blk-pci", dp, "virtio-blk-pci,drive=" + driveId
                                + " (from -drive " + arg + ")"));
                    }
                    if (driveId != null) {
                        blockNodes.add(driveId);
                    }
                    if (p.containsKey("file")) {
                        noEffect.add(opt + " " + arg + ": the image " + p.get("file") + " is not read or written"
                                + ("virtio".equals(p.get("if")) ? "; its virtio-blk-pci is modelled, on a"
                                + " disk of the model's own" : ""));
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
                case "-global" -> {
                    if (arg.startsWith("isa-debugcon.") || arg.startsWith("isa-serial.") || arg.startsWith("kvm-pit.")) {
                        noEffect.add(opt + " " + arg + ": a property of a device the model does not have (no PCI"
                                + " function)");
                    } else {
                        warnings.add("viommu: warning: -global " + arg + " is ignored: viommu does"
                                + " not model -global; give the property on the -device option instead");
                    }
                }
                case "-object", "-usbdevice" -> warnings.add("viommu: warning: " + opt + " " + arg
                        + " is ignored: viommu does not model it");
                default -> { } // ignored option with its argument: it changes nothing the model shows
            }
            String why = argEffect(norm, arg);
            if (why != null) {
                noEffect.add(opt + " " + arg + ": " + why);
            }
        }
        devices.addAll(driveDevices);
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
                List.copyOf(warnings), List.copyOf(tracePatterns), List.copyOf(noEffect));
    }

    /** Why a flag QEMU accepts changes nothing in the model. */
    private static String flagEffect(String flag) {
        return switch (flag) {
            case "-S" -> "no vCPU runs in the model anyway (the guest kernel model runs to the end of its boot)";
            case "-s" -> "no gdb stub is modelled";
            case "-daemonize" -> "the model is not a daemon";
            case "-snapshot" -> "no disk is written";
            default -> "no effect on the model";
        };
    }

    /**
     * Why an option with an argument changes nothing in the model, or null when it does (or a
     * warning already names it).
     */
    private static String argEffect(String opt, String arg) {
        return switch (opt) {
            case "-monitor", "-qmp", "-mon", "-chardev", "-serial", "-parallel", "-display", "-vnc", "-k",
                 "-audiodev", "-pidfile", "-name", "-uuid", "-smbios", "-boot", "-rtc", "-L", "-incoming", "-d",
                 "-D", "-msg", "-sandbox", "-overcommit", "-qtest-log" -> "no effect on the model (a setting of the QEMU"
                    + " process, its consoles or its firmware, not of the PCI/IOMMU machine)";
            case "-cdrom", "-hda", "-hdb" -> "the image " + arg + " is not read (no block I/O is modelled); it"
                    + " attaches to the board's ICH9 AHCI controller (00:1f.2), so no PCI function is added";
            case "-debugcon" -> "QEMU adds an isa-debugcon (an ISA port, no PCI function): no effect on the model";
            case "-cpu" -> "the CPU model has no effect (no CPU is emulated; the kernel model runs on the -smp CPUs)";
            case "-kernel", "-initrd" -> "not read: the kernel model boots in its place";
            case "-netdev" -> arg.startsWith("tap") || arg.contains("\"tap\"") || arg.contains("vhost")
                    ? "the backend (tap, vhost" + (arg.contains("fd") ? "; the descriptor is not opened" : "")
                    + ") has no effect: no packet reaches the host; the NIC it feeds is modelled (a virtio-net-pci"
                    + " loops what it sends back to itself)"
                    : "the backend has no effect: no packet reaches the host or comes from it (hostfwd= included);"
                    + " the NIC it feeds is modelled (a virtio-net-pci loops what it sends back to itself)";
            default -> null;
        };
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

    /**
     * The q35 machine's properties in QEMU 7.2 ({@code -M q35,help}), and the accelerator options
     * -machine still takes (qemu_apply_legacy_machine_options).
     */
    private static final Set<String> MACHINE_PROPERTIES = Set.of("type", "accel", "kernel-irqchip", "kernel_irqchip",
            "kvm-shadow-mem", "acpi", "append", "boot", "bus-lock-ratelimit", "confidential-guest-support",
            "default-bus-bypass-iommu", "dt-compatible", "dtb", "dump-guest-core", "dumpdtb", "firmware", "graphics",
            "hpet", "i8042", "initrd", "kernel", "max-fw-size", "max-ram-below-4g", "mem-merge", "memory-backend",
            "memory-encryption", "memory", "phandle-start", "pic", "pit", "sata", "sgx-epc", "smbios-entry-point-type",
            "smbus", "smm", "smp", "suppress-vmdesc", "usb", "vmport", "x-oem-id", "x-oem-table-id");

    /**
     * One -machine option; {@code previousType} is the type an earlier -machine gave (QEMU 7.2
     * merges every -machine into one set of options, so {@code -M q35 -machine accel=kvm} is q35).
     */
    private static Map<String, String> checkMachine(String opt, String arg, String previousType)
            throws MachineConfigException {
        Map<String, String> props = splitProps(arg, "type");
        if (!props.containsKey("type") && previousType != null) {
            props.put("type", previousType);
        }
        String type = props.getOrDefault("type", "");
        if (!type.equals("q35") && !type.startsWith("pc-q35")) {
            throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg
                    + ": viommu models only the q35 machine (got '" + type + "')");
        }
        for (String k : props.keySet()) {
            if (!MACHINE_PROPERTIES.contains(k)) {
                // checked with 7.2: -machine q35,accl=kvm (the VT-d wiki's typo)
                throw new MachineConfigException(PROGRAM + ": Property '" + (type.equals("q35") ? "pc-q35-7.2" : type)
                        + "-machine." + k + "' not found");
            }
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
    public static long parseSize(String v, long defaultUnit) {
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

    /**
     * The properties of a {@code -netdev} or {@code -blockdev}: key=value, or a JSON object as
     * libvirt 9.0 writes them (QEMU 7.2 takes JSON when the argument starts with '{'; only the
     * top-level scalars matter here: type, id, node-name, driver).
     */
    private static Map<String, String> optionProps(String opt, String arg, String implied) throws MachineConfigException {
        if (!arg.startsWith("{")) {
            return splitProps(arg, implied);
        }
        Map<String, String> props = new LinkedHashMap<>();
        try {
            com.fasterxml.jackson.databind.JsonNode root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(arg);
            if (root == null || !root.isObject()) {
                throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg + ": JSON parse error, premature EOI");
            }
            for (Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> e : root.properties()) {
                if (e.getValue().isValueNode()) {
                    props.put(e.getKey(), e.getValue().asText());
                }
            }
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg + ": JSON parse error, premature EOI");
        }
        return props;
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
