package io.viommu.tour;

import io.viommu.linux.Kernel;
import io.viommu.linux.shell.RootShell;
import io.viommu.linux.sysfs.SysfsTree;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A root shell on a booted kernel model as the tour types into it: the {@link RootShell} of
 * {@code --host-setup} (echo into /sys, cat, ls, modprobe, ...), and the three read-only commands
 * the walkthroughs use to look around, answered from the same kernel:
 * {@code dmesg | grep [-e PATTERN]...} (fixed strings, dmesg's {@code [    0.000000] } prefix),
 * {@code find DIR -type l} (sysfs links under DIR; in the order of the group numbers, where
 * real find prints directory order) and {@code readlink PATH}.
 */
public final class TourShell {
    private final Kernel kernel;
    private final String prompt;
    private final RootShell shell;

    public TourShell(Kernel kernel, String prompt) {
        this.kernel = kernel;
        this.prompt = prompt;
        this.shell = new RootShell(kernel);
    }

    public String prompt() {
        return prompt;
    }

    public Kernel kernel() {
        return kernel;
    }

    /** Runs one line; what it printed (stdout and stderr, as in a terminal). */
    public String run(String line) {
        String l = line.strip();
        if (l.startsWith("dmesg | grep ")) {
            return grepDmesg(l.substring("dmesg | grep ".length()).strip());
        }
        if (l.startsWith("find ") && l.endsWith(" -type l")) {
            return findLinks(l.substring(5, l.length() - " -type l".length()).strip());
        }
        if (l.startsWith("readlink ")) {
            String p = l.substring(9).strip();
            return kernel.sysfs().readlink(p).map(t -> t + "\n").orElse("");
        }
        return shell.run(l).output();
    }

    private String grepDmesg(String args) {
        List<String> patterns = new ArrayList<>();
        String[] words = args.split("\\s+");
        for (int i = 0; i < words.length; i++) {
            if (words[i].equals("-e") && i + 1 < words.length) {
                patterns.add(words[++i]);
            } else if (!words[i].startsWith("-")) {
                patterns.add(words[i]);
            }
        }
        StringBuilder out = new StringBuilder();
        for (String line : kernel.log().dmesgLines()) {
            if (patterns.stream().anyMatch(line::contains)) {
                out.append(line).append('\n');
            }
        }
        return out.toString();
    }

    private String findLinks(String dir) {
        String base = dir.endsWith("/") ? dir.substring(0, dir.length() - 1) : dir;
        SysfsTree sys = kernel.sysfs();
        List<String> links = new ArrayList<>();
        for (String p : sys.walk()) {
            if (p.startsWith(base + "/") && sys.kind(p) == SysfsTree.Kind.SYMLINK) {
                links.add(p);
            }
        }
        links.sort(Comparator.comparing(TourShell::numericKey));
        StringBuilder out = new StringBuilder();
        links.forEach(p -> out.append(p).append('\n'));
        return out.toString();
    }

    /** Paths compared with their numbers as numbers (groups 2 before 10). */
    private static String numericKey(String p) {
        return java.util.regex.Pattern.compile("\\d+").matcher(p).replaceAll(m -> String.format("%08d", Long.parseLong(
                m.group().length() > 9 ? m.group().substring(0, 9) : m.group())));
    }
}
