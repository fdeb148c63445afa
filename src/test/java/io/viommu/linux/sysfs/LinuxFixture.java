package io.viommu.linux.sysfs;

import io.viommu.linux.Kernel;
import io.viommu.machine.Machine;
import io.viommu.machine.MachineLog;
import io.viommu.pci.RequesterId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One capture of ../shared/fixtures/linux: the QEMU command line, the boot's DEV lines (with
 * the groups Linux assigned) and the sections of the script output.
 */
record LinuxFixture(String name, List<String> qemuArgs, Map<RequesterId, Integer> bootGroups, List<String> lines) {
    static final Path DIR = Path.of("..", "shared", "fixtures", "linux");

    static LinuxFixture load(String file) throws IOException {
        List<String> lines = Files.readAllLines(DIR.resolve(file));
        String qemu = lines.stream().filter(l -> l.startsWith("=== QEMU ")).findFirst().orElseThrow();
        List<String> args = shellSplit(qemu.substring("=== QEMU ".length()));
        args = args.subList(1, args.size());
        Map<RequesterId, Integer> groups = new LinkedHashMap<>();
        for (String l : section(lines, "=== DEVICES")) {
            String[] w = l.split(" ");
            groups.put(RequesterId.parse(w[1].substring(5)), Integer.parseInt(w[5].substring("group=".length())));
        }
        return new LinuxFixture(file, args, groups, lines);
    }

    /** The lines after {@code header} up to the next "=== " line. */
    static List<String> section(List<String> lines, String header) {
        List<String> out = new ArrayList<>();
        boolean in = false;
        for (String l : lines) {
            if (l.startsWith("=== ")) {
                if (in) {
                    break;
                }
                in = l.equals(header);
                continue;
            }
            if (in) {
                out.add(l);
            }
        }
        return out;
    }

    List<String> section(String header) {
        return section(lines, header);
    }

    /** The capture's machine booted by the kernel model (its -append is the command line). */
    Kernel kernel() throws Exception {
        return Kernel.boot(Machine.fromCommandLine(qemuArgs, MachineLog.SILENT));
    }

    /** The booted kernel's sysfs. */
    SysfsTree boot() throws Exception {
        return kernel().sysfs();
    }

    /** Splits a shell-quoted command line (double quotes only, as the fixtures use). */
    static List<String> shellSplit(String s) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (char c : s.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
                any = true;
            } else if (Character.isWhitespace(c) && !quoted) {
                if (any) {
                    out.add(cur.toString());
                    cur.setLength(0);
                    any = false;
                }
            } else {
                cur.append(c);
                any = true;
            }
        }
        if (any) {
            out.add(cur.toString());
        }
        return out;
    }

    /** Drops the "[    9.431883] " timestamp of a dmesg line. */
    static String untimed(String l) {
        return l.startsWith("[") && l.indexOf("] ") > 0 ? l.substring(l.indexOf("] ") + 2) : l;
    }
}
