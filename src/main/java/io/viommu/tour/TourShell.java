package io.viommu.tour;

import io.viommu.linux.Kernel;
import io.viommu.linux.shell.RootShell;
import io.viommu.linux.sysfs.SysfsTree;
import java.util.ArrayList;
import java.util.List;

/**
 * A root shell on a booted kernel model as the tour types into it: the {@link RootShell} of
 * {@code --host-setup} (echo into /sys, cat, ls, modprobe, ...), and the three read-only commands
 * the walkthroughs use to look around, answered from the same kernel:
 * {@code dmesg | grep [-e PATTERN]...} (fixed strings, dmesg's {@code [    0.000000] } prefix),
 * {@code find DIR -type l} (sysfs links under DIR in the order real find prints them: kernfs's
 * readdir order, e.g. groups 5, 3, 1, 4, 2, 0) and {@code readlink PATH}.
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

    /** GNU find without sorting: depth first, each directory in readdir order (kernfs's), links not followed. */
    private String findLinks(String dir) {
        String base = dir.endsWith("/") ? dir.substring(0, dir.length() - 1) : dir;
        StringBuilder out = new StringBuilder();
        findLinks(kernel.sysfs(), base, out);
        return out.toString();
    }

    private static void findLinks(SysfsTree sys, String dir, StringBuilder out) {
        for (String name : sys.readdir(dir).orElse(List.of())) {
            String p = dir + "/" + name;
            switch (sys.kind(p)) {
                case SYMLINK -> out.append(p).append('\n');
                case DIRECTORY -> findLinks(sys, p, out);
                default -> { }
            }
        }
    }
}
