package io.viommu.linux.sysfs;

import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.ModuleParameter;
import io.viommu.memory.Page;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The kernel model's sysfs, addressed by path like the real one: {@link #read}, {@link #write},
 * {@link #list}, {@link #readlink}, with the errnos the system calls return as root
 * (ENOENT, ENOTDIR, EISDIR, EACCES for a file without the read or write permission or
 * operation, ELOOP), kernfs's write handling (at most one page reaches the store function, an
 * empty write returns 0 without calling it) and binary attributes clipped to their size.
 * Symbolic links are followed in every component, and in the last one except for
 * {@link #readlink} and {@link #kind}.
 *
 * <p>The tree is rebuilt from the kernel's state whenever that changed
 * ({@link DriverCore#generation}); {@link #exportTo} writes it out as real files and symlinks.
 * Nothing here throws on bad input: a failing store or show ends as EIO.
 *
 * <pre>
 *   Kernel k = Kernel.boot(MachineBuilder.fromCommandLine(args, MachineLog.SILENT));
 *   SysfsTree sys = k.sysfs();                                    // the kernel's one sysfs
 *   sys.drivers().loadModule("nvme");                             // driver appears, probes
 *   sys.write("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", "2\n");
 *   sys.exportTo(Path.of("/tmp/tree"));                           // /tmp/tree/sys/...
 * </pre>
 *
 * <p>Besides the PCI, driver and IOMMU group files ({@link PciSysfsLayout}) the tree holds the
 * firmware's ACPI tables ({@code /sys/firmware/acpi/tables/NAME}, root-only binary files) and
 * {@code /sys/module/NAME} for each loaded module.
 */
public final class SysfsTree {
    /** What a path names, without following a final symlink ({@code lstat}). */
    public enum Kind { DIRECTORY, FILE, SYMLINK, MISSING }

    private static final int MAX_LINKS = 40;

    static final String ACPI_TABLES = "/sys/firmware/acpi/tables";
    static final String MODULES = "/sys/module";

    private final DriverCore core;
    private final Map<String, byte[]> acpiTables;
    private SysfsNode.Dir root;
    private long builtAt = Long.MIN_VALUE;
    private final List<ClassDevices> classDevices = new ArrayList<>();
    private long classBuiltAt = Long.MIN_VALUE;

    /**
     * The sysfs of a kernel whose driver core is {@code core}, on firmware that provides
     * {@code acpiTables} (signature to the table's bytes, e.g. "DMAR"). Built by the kernel at boot.
     */
    public SysfsTree(DriverCore core, Map<String, byte[]> acpiTables) {
        this.core = core;
        this.acpiTables = new LinkedHashMap<>();
        acpiTables.forEach((k, v) -> this.acpiTables.put(k, v.clone()));
    }

    private java.util.function.Function<io.viommu.pci.RequesterId, String> resources;

    /**
     * The text of each device's {@code resource} file (pci_resource... "start end flags" lines, as
     * resource_show prints them), from whoever knows the BARs (the kernel, over its machine).
     */
    public void setResources(java.util.function.Function<io.viommu.pci.RequesterId, String> resources) {
        this.resources = resources;
        root = null;
    }

    /** The driver core behind the tree (modules, devices, bindings, ownership). */
    public DriverCore drivers() {
        return core;
    }

    private SysfsNode.Dir root() {
        core.flushWork(); // work queued by the previous operation has run by now
        long classGen = classGeneration();
        if (root == null || builtAt != core.generation() || classBuiltAt != classGen) {
            root = PciSysfsLayout.build(core, resources);
            firmware(root);
            modules(root);
            classDevices(root);
            builtAt = core.generation();
            classBuiltAt = classGen;
        }
        return root;
    }

    /** Adds a subsystem's class devices (net, block) to the tree. */
    public void addClassDevices(ClassDevices source) {
        classDevices.add(source);
        root = null;
    }

    private long classGeneration() {
        long g = 0;
        for (ClassDevices c : classDevices) {
            g = g * 31 + c.generation();
        }
        return g;
    }

    /** device_add of a class device: its directory below the PCI device, and /sys/class/CLASS/NAME. */
    private void classDevices(SysfsNode.Dir top) {
        for (ClassDevices source : classDevices) {
            for (ClassDevices.Entry e : source.classDevices()) {
                var dev = core.device(e.pciDevice());
                if (dev.isEmpty()) {
                    continue;
                }
                String path = PciSysfsLayout.devicePath(dev.get()) + "/" + e.path();
                SysfsNode.Dir d = mkdirs(top, path);
                e.attributes().forEach((name, show) -> d.children.put(name, SysfsNode.Attr.ro(() -> show.get() + "\n")));
                mkdirs(top, "/sys/class/" + e.className()).children.put(e.name(), new SysfsNode.Link(path));
            }
        }
    }

    /** /sys/firmware/acpi/tables/NAME: the table's bytes, mode 0400 (acpi_table_attr_init). */
    private void firmware(SysfsNode.Dir top) {
        SysfsNode.Dir dir = mkdirs(top, ACPI_TABLES);
        for (Map.Entry<String, byte[]> t : acpiTables.entrySet()) {
            byte[] b = t.getValue();
            dir.children.put(t.getKey(), SysfsNode.Attr.binary(0400, b.length,
                    (off, n) -> Arrays.copyOfRange(b, (int) off, (int) off + n), null));
        }
    }

    /**
     * /sys/module/NAME for every loaded module (the module's kobject) and its
     * {@code parameters/P} files ({@link ModuleParameter}: param_attr_show / param_attr_store,
     * -EINVAL when the value does not parse, as {@code param_set_bool} says).
     */
    private void modules(SysfsNode.Dir top) {
        SysfsNode.Dir dir = mkdirs(top, MODULES);
        for (String m : core.modules()) {
            SysfsNode.Dir mod = mkdirs(dir, m);
            List<ModuleParameter> params = ModuleParameter.of(m);
            if (params.isEmpty()) {
                continue;
            }
            SysfsNode.Dir pd = mkdirs(mod, "parameters");
            for (ModuleParameter p : params) {
                SysfsNode.Store store = (p.mode() & 0222) == 0 ? null : buf -> {
                    String v = p.parse(buf);
                    if (v == null) {
                        return Errno.EINVAL.negative();
                    }
                    core.setModuleParameter(m, p.name(), v);
                    return buf.length();
                };
                pd.children.put(p.name(), SysfsNode.Attr.rw(p.mode(),
                        () -> p.show(core.moduleParameter(m, p.name())), store));
            }
        }
    }

    private static SysfsNode.Dir mkdirs(SysfsNode.Dir from, String path) {
        SysfsNode.Dir d = from;
        for (String c : split(path)) {
            SysfsNode n = d.children.get(c);
            if (n instanceof SysfsNode.Dir sub) {
                d = sub;
            } else {
                SysfsNode.Dir sub = new SysfsNode.Dir();
                d.children.put(c, sub);
                d = sub;
            }
        }
        return d;
    }

    // ---------------------------------------------------------------- path resolution

    private record Resolved(SysfsNode node, List<String> path, Errno error) {
    }

    private static List<String> split(String path) {
        List<String> out = new ArrayList<>();
        for (String c : path.split("/")) {
            if (!c.isEmpty()) {
                out.add(c);
            }
        }
        return out;
    }

    private Resolved resolve(String path, boolean followLast) {
        if (path == null || !path.startsWith("/")) {
            return new Resolved(null, List.of(), Errno.ENOENT);
        }
        Deque<String> todo = new ArrayDeque<>(split(path));
        List<String> cur = new ArrayList<>();
        SysfsNode node = root();
        int links = 0;
        while (!todo.isEmpty()) {
            String c = todo.pollFirst();
            if (c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                if (!cur.isEmpty()) {
                    cur.remove(cur.size() - 1);
                }
                node = lookup(cur);
                continue;
            }
            if (!(node instanceof SysfsNode.Dir dir)) {
                return new Resolved(null, cur, Errno.ENOTDIR);
            }
            SysfsNode child = dir.children.get(c);
            if (child == null) {
                return new Resolved(null, cur, Errno.ENOENT);
            }
            if (child instanceof SysfsNode.Link link && (!todo.isEmpty() || followLast)) {
                if (++links > MAX_LINKS) {
                    return new Resolved(null, cur, Errno.ELOOP);
                }
                List<String> target = split(link.target());
                for (int i = target.size() - 1; i >= 0; i--) {
                    todo.addFirst(target.get(i));
                }
                cur.clear();
                node = root();
                continue;
            }
            cur.add(c);
            node = child;
        }
        return new Resolved(node, cur, null);
    }

    private SysfsNode lookup(List<String> path) {
        SysfsNode n = root();
        for (String c : path) {
            if (!(n instanceof SysfsNode.Dir d) || (n = d.children.get(c)) == null) {
                return null;
            }
        }
        return n;
    }

    /** {@code lstat}: what the path names, the final component not followed. */
    public Kind kind(String path) {
        Resolved r = resolve(path, false);
        if (r.error() != null) {
            return Kind.MISSING;
        }
        return switch (r.node()) {
            case SysfsNode.Dir d -> Kind.DIRECTORY;
            case SysfsNode.Link l -> Kind.SYMLINK;
            case SysfsNode.Attr a -> Kind.FILE;
        };
    }

    public boolean exists(String path) {
        return resolve(path, true).error() == null;
    }

    /** The names in a directory, sorted; ENOENT or ENOTDIR as the system call says. */
    public Optional<List<String>> list(String dir) {
        Resolved r = resolve(dir, true);
        if (r.error() != null || !(r.node() instanceof SysfsNode.Dir d)) {
            return Optional.empty();
        }
        return Optional.of(List.copyOf(d.children.keySet()));
    }

    /**
     * The names in a directory in the order {@code getdents} returns them: kernfs keeps a
     * directory's children in a red-black tree ordered by {@link #kernfsNameHash} and then by name
     * ({@code kernfs_name_compare}) and readdir walks it in order, so {@code ls -f} and {@code
     * find} list sysfs in this order (e.g. iommu_groups 5, 3, 1, 4, 2, 0), not sorted.
     */
    public Optional<List<String>> readdir(String dir) {
        return list(dir).map(names -> names.stream()
                .sorted(java.util.Comparator.comparingLong(SysfsTree::kernfsNameHash).thenComparing(n -> n))
                .toList());
    }

    /**
     * kernfs_name_hash (fs/kernfs/dir.c) of a name without a namespace: the dcache's
     * partial_name_hash over its (signed) chars from 0, end_name_hash (hash_long to 32 bits, the
     * 64-bit golden ratio multiply), then 31 bits with 0, 1 and INT_MAX kept for "." / ".." /
     * the end marker.
     */
    static long kernfsNameHash(String name) {
        long h = 0;
        for (byte c : name.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            long ch = c; // char is signed on x86: sign-extended to unsigned long
            h = (h + (ch << 4) + (ch >>> 4)) * 11; // unsigned long arithmetic: >>> and wrapping
        }
        long hash = ((h * 0x61C8_8646_80B5_83EBL) >>> 32) & 0x7fff_ffffL;
        if (hash < 2) {
            hash += 2;
        }
        if (hash >= 0x7fff_ffffL) {
            hash = 0x7fff_ffffL - 1;
        }
        return hash;
    }

    /** The errno {@code opendir} would fail with, or null when {@code dir} is a directory. */
    public Errno listError(String dir) {
        Resolved r = resolve(dir, true);
        if (r.error() != null) {
            return r.error();
        }
        return r.node() instanceof SysfsNode.Dir ? null : Errno.ENOTDIR;
    }

    /** The link's target relative to its directory, as kernfs shows it ({@code ../../..}); empty if not a link. */
    public Optional<String> readlink(String path) {
        Resolved r = resolve(path, false);
        if (r.error() != null || !(r.node() instanceof SysfsNode.Link link)) {
            return Optional.empty();
        }
        return Optional.of(relative(r.path().subList(0, r.path().size() - 1), split(link.target())));
    }

    /** The absolute path a symlink (or any path) resolves to, as {@code realpath}. */
    public Optional<String> realpath(String path) {
        Resolved r = resolve(path, true);
        return r.error() != null ? Optional.empty() : Optional.of("/" + String.join("/", r.path()));
    }

    /** kernfs_get_target_path: up from the link's directory to the common ancestor, then down. */
    static String relative(List<String> fromDir, List<String> target) {
        int common = 0;
        while (common < fromDir.size() && common < target.size() && fromDir.get(common).equals(target.get(common))) {
            common++;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = common; i < fromDir.size(); i++) {
            sb.append("../");
        }
        sb.append(String.join("/", target.subList(common, target.size())));
        return sb.toString();
    }

    // ---------------------------------------------------------------- read / write

    /** Reads a whole file. */
    public SysfsRead read(String path) {
        return read(path, 0, Integer.MAX_VALUE);
    }

    /** {@code pread}: up to {@code count} bytes from {@code offset}; 0 bytes past the end. */
    public SysfsRead read(String path, long offset, int count) {
        Resolved r = resolve(path, true);
        if (r.error() != null) {
            return SysfsRead.failed(r.error());
        }
        if (r.node() instanceof SysfsNode.Dir) {
            return SysfsRead.failed(Errno.EISDIR);
        }
        if (!(r.node() instanceof SysfsNode.Attr a) || !a.readable()) {
            return SysfsRead.failed(Errno.EACCES); // kernfs's extra open permission check
        }
        if (offset < 0 || count < 0) {
            return SysfsRead.failed(Errno.EINVAL);
        }
        try {
            if (a.isBinary()) {
                // sysfs_kf_bin_read
                if (count == 0 || offset >= a.size()) {
                    return SysfsRead.of(new byte[0]);
                }
                int n = (int) Math.min(count, a.size() - offset);
                return SysfsRead.of(a.binRead().read(offset, n));
            }
            byte[] all = a.show().show().getBytes(StandardCharsets.ISO_8859_1);
            if (offset >= all.length) {
                return SysfsRead.of(new byte[0]);
            }
            int n = (int) Math.min(count, all.length - offset);
            return SysfsRead.of(Arrays.copyOfRange(all, (int) offset, (int) offset + n));
        } catch (RuntimeException e) {
            return SysfsRead.failed(Errno.EIO);
        }
    }

    /** Writes text (one byte per char, as {@code echo} would send it). */
    public SysfsWrite write(String path, String text) {
        return write(path, 0, text.getBytes(StandardCharsets.ISO_8859_1));
    }

    public SysfsWrite write(String path, byte[] data) {
        return write(path, 0, data);
    }

    /**
     * {@code pwrite}: text attributes see at most one page ({@code kernfs_fop_write_iter}) and an
     * empty write returns 0 without calling the store ({@code sysfs_kf_write}); binary
     * attributes are clipped to their size (-EFBIG at or past the end).
     */
    public SysfsWrite write(String path, long offset, byte[] data) {
        Resolved r = resolve(path, true);
        if (r.error() != null) {
            return SysfsWrite.failed(r.error());
        }
        if (r.node() instanceof SysfsNode.Dir) {
            return SysfsWrite.failed(Errno.EISDIR);
        }
        if (!(r.node() instanceof SysfsNode.Attr a) || !a.writable()) {
            return SysfsWrite.failed(Errno.EACCES);
        }
        if (data == null || offset < 0) {
            return SysfsWrite.failed(Errno.EINVAL);
        }
        long rc;
        try {
            if (a.isBinary()) {
                if (offset >= a.size()) {
                    return data.length == 0 ? SysfsWrite.of(0) : SysfsWrite.failed(Errno.EFBIG);
                }
                int n = (int) Math.min(data.length, a.size() - offset);
                if (n == 0) {
                    return SysfsWrite.of(0);
                }
                rc = a.binWrite().write(offset, Arrays.copyOf(data, n));
            } else {
                int n = (int) Math.min(data.length, Page.SIZE); // sysfs hands a store at most one page
                if (n == 0) {
                    return SysfsWrite.of(0);
                }
                rc = a.store().store(new String(data, 0, n, StandardCharsets.ISO_8859_1));
            }
        } catch (RuntimeException e) {
            rc = Errno.EIO.negative();
        }
        if (rc < 0) {
            Errno e = Errno.fromReturn(rc);
            return SysfsWrite.failed(e == null ? Errno.EIO : e);
        }
        return SysfsWrite.of(rc);
    }

    /** Every path in the tree (directories, files, links), depth first, sorted. */
    public List<String> walk() {
        List<String> out = new ArrayList<>();
        walk(root(), "", out);
        return out;
    }

    private static void walk(SysfsNode.Dir d, String prefix, List<String> out) {
        for (Map.Entry<String, SysfsNode> e : d.children.entrySet()) {
            String p = prefix + "/" + e.getKey();
            out.add(p);
            if (e.getValue() instanceof SysfsNode.Dir sub) {
                walk(sub, p, out);
            }
        }
    }

    // ---------------------------------------------------------------- export

    /**
     * Writes the tree below {@code dir} ({@code dir/sys/...}) as Linux lays it out: directories,
     * regular files holding what a read returns now (write-only files empty; {@code config} its
     * cfg_size bytes), relative symbolic links, sysfs's permission bits where the file system
     * has POSIX permissions.
     */
    public void exportTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix")
                && dir.getFileSystem().equals(FileSystems.getDefault());
        export(root(), dir, List.of(), posix);
    }

    private void export(SysfsNode.Dir d, Path out, List<String> at, boolean posix) throws IOException {
        for (Map.Entry<String, SysfsNode> e : d.children.entrySet()) {
            Path p = out.resolve(e.getKey());
            List<String> here = new ArrayList<>(at);
            here.add(e.getKey());
            switch (e.getValue()) {
                case SysfsNode.Dir sub -> {
                    Files.createDirectories(p);
                    export(sub, p, here, posix);
                }
                case SysfsNode.Link link -> {
                    Files.deleteIfExists(p);
                    Files.createSymbolicLink(p, Path.of(relative(at, split(link.target()))));
                }
                case SysfsNode.Attr a -> {
                    byte[] content = new byte[0];
                    if (a.readable()) {
                        SysfsRead r = read("/" + String.join("/", here));
                        content = r.ok() ? r.data() : new byte[0];
                    }
                    Files.deleteIfExists(p);
                    Files.write(p, content);
                    if (posix) {
                        Files.setPosixFilePermissions(p, permissions(a.mode()));
                    }
                }
            }
        }
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] bits = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ,
        };
        for (int i = 0; i < bits.length; i++) {
            if ((mode & (1 << i)) != 0) {
                s.add(bits[i]);
            }
        }
        return s;
    }
}
