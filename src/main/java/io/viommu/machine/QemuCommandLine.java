package io.viommu.machine;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The part of a {@code qemu-system-x86_64} command line that describes a q35 machine:
 * {@code -machine/-M q35[,prop=...]}, {@code -m SIZE}, {@code -device DRIVER[,prop=value...]}
 * in order, and {@code -bios FILE} (the firmware image, mapped as ROM; null when absent).
 * Options that only matter to a real QEMU process ({@code -display -nodefaults -monitor
 * -serial -qtest -d -D -accel}) are accepted and ignored. Error texts are QEMU 7.2's (checked
 * against the binary), with its program-name prefix.
 */
public record QemuCommandLine(long ramSize, List<DeviceOption> devices, String bios) {
    public static final String PROGRAM = "qemu-system-x86_64";
    /** QEMU's default -m for x86 (checked: RAM ends at 128 MiB without -m). */
    public static final long DEFAULT_RAM = 128L << 20;

    /** Without {@code -bios}. */
    public QemuCommandLine(long ramSize, List<DeviceOption> devices) {
        this(ramSize, devices, null);
    }

    /** One {@code -device} option: the driver, its properties in order, and the raw argument. */
    public record DeviceOption(String driver, Map<String, String> properties, String argument) {
    }

    private static final Set<String> IGNORED_WITH_ARG =
            Set.of("-display", "-monitor", "-serial", "-bios", "-qtest", "-d", "-D", "-accel");
    private static final Set<String> IGNORED_FLAGS = Set.of("-nodefaults");

    public static QemuCommandLine parse(List<String> args) throws MachineConfigException {
        long ram = DEFAULT_RAM;
        List<DeviceOption> devices = new ArrayList<>();
        String bios = null;
        for (int i = 0; i < args.size(); i++) {
            String opt = args.get(i);
            String norm = opt.startsWith("--") ? opt.substring(1) : opt;
            if (IGNORED_FLAGS.contains(norm)) {
                continue;
            }
            boolean takesArg = IGNORED_WITH_ARG.contains(norm) || norm.equals("-machine")
                    || norm.equals("-M") || norm.equals("-m") || norm.equals("-device");
            if (!takesArg) {
                throw new MachineConfigException(PROGRAM + ": " + opt + ": invalid option");
            }
            if (i + 1 >= args.size()) {
                throw new MachineConfigException(PROGRAM + ": " + opt + ": requires an argument");
            }
            String arg = args.get(++i);
            switch (norm) {
                case "-machine", "-M" -> checkMachine(opt, arg);
                case "-m" -> ram = parseRam(opt, arg);
                case "-device" -> devices.add(parseDevice(opt, arg));
                case "-bios" -> bios = arg; // the last one counts, as in QEMU
                default -> { } // ignored option with its argument
            }
        }
        return new QemuCommandLine(ram, List.copyOf(devices), bios);
    }

    private static void checkMachine(String opt, String arg) throws MachineConfigException {
        Map<String, String> props = splitProps(arg, "type");
        String type = props.getOrDefault("type", "");
        if (!type.equals("q35") && !type.startsWith("pc-q35")) {
            throw new MachineConfigException(PROGRAM + ": " + opt + " " + arg
                    + ": viommu models only the q35 machine (got '" + type + "')");
        }
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
