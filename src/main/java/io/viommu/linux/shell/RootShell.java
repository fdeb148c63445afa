package io.viommu.linux.shell;

import io.viommu.linux.Kernel;
import io.viommu.linux.block.BlockDevices;
import io.viommu.linux.driver.Drivers;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.net.NetworkInterfaces;
import io.viommu.linux.sysfs.SysfsRead;
import io.viommu.linux.sysfs.SysfsTree;
import io.viommu.linux.sysfs.SysfsWrite;
import io.viommu.linux.vfio.DevNode;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A root shell on a kernel model: what the host's root types before a VM starts, one command a
 * line, run as the lab captures' busybox {@code sh -c LINE} runs it, with the same output and exit
 * status (texts held against {@code src/test/resources/host-setup/*.log}, made on Debian's Linux
 * 6.1 by {@code shared/lab/capture}). Commands:
 * <ul>
 * <li>{@code echo [-n] [-e] WORDS [> FILE]}: a redirection into {@code /sys} is an open and one
 *     write through the kernel's {@link SysfsTree}: a missing directory "sh: can't create F:
 *     nonexistent directory", a file sysfs does not have (or cannot write) "Permission denied"
 *     (kernfs has no create), a directory "Is a directory"; the store's errno as "sh: write
 *     error: TEXT". Outside /sys the file system is not modelled: the write is accepted.</li>
 * <li>{@code cat FILE...} of sysfs files and of the kernel's /proc files ({@link Kernel#procFiles});
 *     {@code ls [-l] DIR} of /sys and /dev/vfio.</li>
 * <li>{@code modprobe NAME [param=value ...]} (dependencies first, a loaded module is left alone),
 *     {@code rmmod NAME}.</li>
 * <li>{@code ip link set [dev] IF up|down}, {@code ip addr add ADDR[/N] dev IF},
 *     {@code ip link}, {@code ip addr}, {@code ip route}: the kernel's {@link NetworkInterfaces}.</li>
 * <li>{@code mount DEV DIR}: the kernel's {@link BlockDevices}.</li>
 * </ul>
 * Other command names end as "sh: NAME: not found", exit 127. Several commands on one line are
 * separated by {@code ;}; the line's status is the last one's.
 */
public final class RootShell {
    /** What one line printed and its exit status. */
    public record Result(String stdout, String stderr, String output, int status) {
        public boolean ok() {
            return status == 0;
        }
    }

    /** One output stream of the line; everything also goes to the line's combined output ({@code 2>&1}). */
    static final class Stream {
        private final StringBuilder own = new StringBuilder();
        private final StringBuilder both;

        Stream(StringBuilder both) {
            this.both = both;
        }

        Stream append(Object o) {
            own.append(o);
            both.append(o);
            return this;
        }

        @Override
        public String toString() {
            return own.toString();
        }
    }

    /** A setup run: the result of each line run (blank and comment lines included), and whether all succeeded. */
    public record Run(List<String> lines, List<Result> results) {
        public boolean ok() {
            return results.stream().allMatch(Result::ok);
        }

        /** The line that failed, or null. */
        public String failedLine() {
            for (int i = 0; i < results.size(); i++) {
                if (!results.get(i).ok()) {
                    return lines.get(i);
                }
            }
            return null;
        }
    }

    private final Kernel kernel;
    private Stream out;
    private Stream err;

    public RootShell(Kernel kernel) {
        this.kernel = kernel;
    }

    /**
     * Runs the lines in order, as {@code --host-setup} does: blank lines and comments are
     * skipped, and the first line that fails ends the run (the kernel keeps what the lines
     * before it did).
     */
    public Run runScript(List<String> lines) {
        List<String> ran = new ArrayList<>();
        List<Result> results = new ArrayList<>();
        for (String l : lines) {
            Result r = run(l);
            ran.add(l);
            results.add(r);
            if (!r.ok()) {
                break;
            }
        }
        return new Run(ran, results);
    }

    /** Runs one line: {@code sh -c LINE}. */
    public Result run(String line) {
        StringBuilder both = new StringBuilder();
        out = new Stream(both);
        err = new Stream(both);
        int status;
        try {
            status = 0;
            for (ShellLine cmd : ShellLine.parse(line)) {
                status = command(cmd);
            }
        } catch (ShellLine.SyntaxError e) {
            err.append(e.getMessage()).append('\n');
            status = 2;
        }
        return new Result(out.toString(), err.toString(), both.toString(), status);
    }

    private int command(ShellLine c) {
        if (c.words().isEmpty()) {
            return redirectOnly(c);
        }
        List<String> args = c.words().subList(1, c.words().size());
        return switch (c.words().get(0)) {
            case "echo" -> echo(args, c);
            case "cat" -> c.redirect() == null ? cat(args) : unsupported(c);
            case "ls" -> ls(args);
            case "modprobe" -> modprobe(args);
            case "rmmod" -> rmmod(args);
            case "ip" -> ip(args);
            case "mount" -> mount(args);
            case "true", ":" -> 0;
            case "false" -> 1;
            default -> {
                err.append("sh: ").append(c.words().get(0)).append(": not found\n");
                yield 127;
            }
        };
    }

    /** {@code > FILE} alone opens (and truncates) the file: an empty write. */
    private int redirectOnly(ShellLine c) {
        return write(c.redirect(), "") ? 0 : 1;
    }

    private int unsupported(ShellLine c) {
        err.append("sh: ").append(c.words().get(0)).append(": redirection of its output is not modelled\n");
        return 2;
    }

    // ---------------------------------------------------------------- echo, cat, ls

    /** busybox {@code echo}: -n, -e, -E as leading options; words joined by one space. */
    private int echo(List<String> args, ShellLine c) {
        boolean newline = true;
        boolean escapes = false;
        int i = 0;
        for (; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.matches("-[neE]+")) {
                break;
            }
            for (char f : a.substring(1).toCharArray()) {
                switch (f) {
                    case 'n' -> newline = false;
                    case 'e' -> escapes = true;
                    default -> escapes = false;
                }
            }
        }
        String text = String.join(" ", args.subList(i, args.size()));
        if (escapes) {
            text = text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\");
        }
        if (newline) {
            text += "\n";
        }
        if (c.redirect() == null) {
            out.append(text);
            return 0;
        }
        return write(c.redirect(), text) ? 0 : 1;
    }

    /**
     * Opening {@code path} for writing (O_WRONLY|O_CREAT|O_TRUNC), then one write of {@code text}:
     * ash's "can't create" for the open, the echo builtin's "write error" for the write.
     */
    private boolean write(String path, String text) {
        if (!path.startsWith("/sys/") && !path.equals("/sys")) {
            return true; // a scratch file outside the kernel's files: not modelled
        }
        SysfsTree sys = kernel.sysfs();
        Errno open = openForWrite(sys, path);
        if (open != null) {
            // ash's errmsg(): ENOENT and ENOTDIR read "nonexistent directory"
            String why = open == Errno.ENOENT || open == Errno.ENOTDIR ? "nonexistent directory" : open.strerror;
            err.append("sh: can't create ").append(path).append(": ").append(why).append('\n');
            return false;
        }
        SysfsWrite w = sys.write(path, text);
        if (!w.ok()) {
            err.append("sh: write error: ").append(w.error().strerror).append('\n');
            return false;
        }
        return true;
    }

    /**
     * The errno of {@code open(path, O_WRONLY|O_CREAT|O_TRUNC)} on sysfs as root: a missing
     * name in an existing directory EACCES (kernfs directories cannot create files), a missing
     * directory ENOENT, a directory EISDIR, a file without a store EACCES.
     */
    private static Errno openForWrite(SysfsTree sys, String path) {
        if (!sys.exists(path)) {
            String parent = path.substring(0, Math.max(path.lastIndexOf('/'), 1));
            Errno p = sys.listError(parent);
            return p == null ? Errno.EACCES : p;
        }
        if (sys.listError(path) == null) {
            return Errno.EISDIR;
        }
        SysfsWrite probe = sys.write(path, new byte[0]); // checks the mode only: no store is called
        return probe.ok() ? null : probe.error();
    }

    /** busybox {@code cat}: each file in turn; a failing one is reported and the status is 1. */
    private int cat(List<String> files) {
        int status = 0;
        for (String f : files) {
            String proc = kernel.procFiles().get(f); // /proc/cmdline, /proc/cpuinfo, osrelease, /boot/config-*
            if (proc != null) {
                out.append(proc);
                continue;
            }
            if (!f.startsWith("/sys/")) {
                err.append("cat: can't open '").append(f).append("': No such file or directory\n");
                status = 1;
                continue;
            }
            SysfsTree sys = kernel.sysfs();
            if (sys.exists(f) && sys.listError(f) == null) {
                err.append("cat: read error: Is a directory\n");
                status = 1;
                continue;
            }
            SysfsRead r = sys.read(f);
            if (!r.ok()) {
                err.append("cat: can't open '").append(f).append("': ").append(r.error().strerror).append('\n');
                status = 1;
                continue;
            }
            out.append(new String(r.data(), StandardCharsets.ISO_8859_1));
        }
        return status;
    }

    private static final DateTimeFormatter LS_DATE = DateTimeFormatter.ofPattern("MMM ppd HH:mm", Locale.ROOT);

    /** busybox {@code ls [-l] DIR...} of sysfs directories and /dev/vfio. */
    private int ls(List<String> args) {
        boolean longFormat = false;
        List<String> dirs = new ArrayList<>();
        for (String a : args) {
            if (a.startsWith("-")) {
                longFormat |= a.contains("l");
            } else {
                dirs.add(a);
            }
        }
        int status = 0;
        Map<String, List<String>> listed = new LinkedHashMap<>();
        for (String d : dirs) {
            if (d.equals("/dev/vfio") || d.equals("/dev/vfio/")) {
                List<DevNode> nodes = kernel.vfio().map(v -> v.devNodes()).orElse(null);
                if (nodes == null) {
                    err.append("ls: ").append(d).append(": No such file or directory\n");
                    status = 1;
                    continue;
                }
                List<String> lines = new ArrayList<>();
                if (longFormat) {
                    lines.add("total 0");
                }
                String date = LocalDateTime.now().format(LS_DATE);
                for (DevNode n : nodes) {
                    lines.add(longFormat ? String.format("%-10s %4d %-8s %-8s %4d, %3d %s %s", n.mode(), 1, "root",
                            "0", n.major(), n.minor(), date, n.name()) : n.name());
                }
                listed.put(d, lines);
                continue;
            }
            var names = d.startsWith("/sys") ? kernel.sysfs().list(d) : Optional.<List<String>>empty();
            if (names.isEmpty()) {
                err.append("ls: ").append(d).append(": No such file or directory\n");
                status = 1;
                continue;
            }
            listed.put(d, names.get());
        }
        boolean headers = dirs.size() > 1;
        boolean first = true;
        for (Map.Entry<String, List<String>> e : listed.entrySet()) {
            if (headers) {
                out.append(first ? "" : "\n").append(e.getKey()).append(":\n");
            }
            first = false;
            for (String l : e.getValue()) {
                out.append(l).append('\n');
            }
        }
        return status;
    }

    // ---------------------------------------------------------------- modules

    /**
     * {@code modprobe NAME [param=value ...]}, as the captures' modprobe (insmod over
     * modules.dep, kmod's FATAL text): a module the kernel does not have exits 1.
     */
    private int modprobe(List<String> args) {
        List<String> words = args.stream().filter(a -> !a.startsWith("-")).toList();
        if (words.isEmpty()) {
            err.append("modprobe: missing module name\n");
            return 1;
        }
        String name = Drivers.moduleName(words.get(0));
        Map<String, String> params = new HashMap<>();
        for (String p : words.subList(1, words.size())) {
            int eq = p.indexOf('=');
            params.put(eq < 0 ? p : p.substring(0, eq), eq < 0 ? "" : p.substring(eq + 1));
        }
        int rc = kernel.drivers().loadModule(name, params);
        if (rc == Errno.ENOENT.negative()) {
            err.append("modprobe: FATAL: Module ").append(name).append(" not found in directory /lib/modules/")
                    .append(kernel.config().release()).append('\n');
            return 1;
        }
        if (rc < 0) {
            err.append("modprobe: ERROR: could not insert '").append(name).append("': ")
                    .append(Errno.fromReturn(rc).strerror).append('\n');
            return 1;
        }
        return 0;
    }

    /**
     * busybox {@code rmmod NAME}: delete_module's errno. A module in use is -EWOULDBLOCK
     * ("Resource temporarily unavailable"), a built-in one is not in the module list (ENOENT).
     */
    private int rmmod(List<String> args) {
        int status = 0;
        for (String a : args) {
            if (a.startsWith("-")) {
                continue;
            }
            String name = Drivers.moduleName(a);
            int rc = kernel.drivers().unloadModule(name);
            if (rc < 0) {
                Errno e = Errno.fromReturn(rc);
                e = e == Errno.EBUSY ? Errno.EAGAIN : e == Errno.EPERM ? Errno.ENOENT : e;
                err.append("rmmod: can't unload module '").append(name).append("': ").append(e.strerror).append('\n');
                status = 1;
            }
        }
        return status;
    }

    // ---------------------------------------------------------------- ip, mount

    private int ip(List<String> args) {
        return new IpCommand(kernel.network(), out, err).run(args);
    }

    /** busybox {@code mount DEV DIR}: "mount: mounting DEV on DIR failed: TEXT", exit 255. */
    private int mount(List<String> args) {
        List<String> words = args.stream().filter(a -> !a.startsWith("-")).toList();
        if (words.size() != 2) {
            for (BlockDevices.Disk d : kernel.blockDevices().disks()) {
                if (d.mountPoint() != null) {
                    out.append("/dev/").append(d.name()).append(" on ").append(d.mountPoint()).append('\n');
                }
            }
            return 0;
        }
        int rc = kernel.blockDevices().mount(words.get(0), words.get(1));
        if (rc < 0) {
            err.append("mount: mounting ").append(words.get(0)).append(" on ").append(words.get(1))
                    .append(" failed: ").append(Errno.fromReturn(rc).strerror).append('\n');
            return 255;
        }
        return 0;
    }
}
