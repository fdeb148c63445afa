package io.viommu.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A saved host: a directory {@code DIR} holding {@code sys/...}, {@code proc/...} and {@code dev/...}
 * like a chroot, so host path {@code /sys/bus/pci/devices} is {@code DIR/sys/bus/pci/devices}.
 *
 * <p>Symlinks are resolved by this class, one component at a time, never by the OS: a relative
 * link (as sysfs writes them, {@code ../../../devices/pci0000:00/0000:00:01.0}) resolves inside the
 * tree, and an absolute link ({@code /sys/devices/...}, as a careless copy may store) is re-rooted
 * at {@code DIR} instead of escaping to the machine that reads the tree. A link that climbs above
 * the root stops at the root, as {@code ..} does at {@code /}.
 *
 * <p>Conventions of saved trees (documented in docs/host-scan.md): names starting with a dot are not
 * listed (an empty directory such as {@code sys/kernel/iommu_groups} carries a {@code .keep} file so
 * that git keeps it, and its existence matters); a present but empty ACPI table
 * file means "present on the host but unreadable when saved"; a regular file under {@code dev/}
 * stands for a device node that existed.
 */
public final class SavedTree implements HostSysfs {
    private static final int MAX_LINKS = 40; // Linux's MAXSYMLINKS: loops end as "not found"
    private final Path root;

    public SavedTree(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /** The file in the tree that host path {@code p} names, following every symlink; empty if dangling. */
    Optional<Path> locate(Path hostPath) {
        return walk(hostPath, true);
    }

    private Optional<Path> walk(Path hostPath, boolean followLast) {
        Path rel = Path.of("/").relativize(Path.of("/").resolve(hostPath).normalize());
        // cur is a host path (absolute, normalised); components still to visit are in todo.
        java.util.ArrayDeque<String> todo = new java.util.ArrayDeque<>();
        for (Path c : rel) {
            if (!c.toString().isEmpty()) {
                todo.add(c.toString());
            }
        }
        Path cur = Path.of("/");
        int links = 0;
        while (!todo.isEmpty()) {
            String name = todo.poll();
            if (name.equals("..")) {
                cur = cur.getParent() == null ? cur : cur.getParent();
                continue;
            }
            if (name.equals(".")) {
                continue;
            }
            Path next = cur.resolve(name);
            Path inTree = inTree(next);
            if (Files.isSymbolicLink(inTree) && (followLast || !todo.isEmpty())) {
                if (++links > MAX_LINKS) {
                    return Optional.empty();
                }
                Path target;
                try {
                    target = Files.readSymbolicLink(inTree);
                } catch (IOException e) {
                    return Optional.empty();
                }
                java.util.ArrayDeque<String> expanded = new java.util.ArrayDeque<>();
                for (Path c : target) {
                    expanded.add(c.toString());
                }
                expanded.addAll(todo);
                todo = expanded;
                if (target.isAbsolute()) {
                    cur = Path.of("/");
                }
                continue;
            }
            if (!Files.exists(inTree, LinkOption.NOFOLLOW_LINKS)) {
                return Optional.empty();
            }
            cur = next;
        }
        return Optional.of(inTree(cur));
    }

    private Path inTree(Path hostPath) {
        Path rel = Path.of("/").relativize(hostPath);
        return rel.toString().isEmpty() ? root : root.resolve(rel.toString());
    }

    @Override
    public Optional<byte[]> readBytes(Path path) {
        return locate(path).filter(Files::isRegularFile).flatMap(p -> {
            try {
                return Optional.of(Files.readAllBytes(p));
            } catch (IOException e) {
                return Optional.empty();
            }
        });
    }

    @Override
    public List<String> list(Path path) {
        return locate(path).filter(Files::isDirectory).map(p -> {
            try (Stream<Path> s = Files.list(p)) {
                // sysfs has no dot-files; a saved tree may carry .keep files so that git keeps empty directories.
                return s.map(c -> c.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
            } catch (IOException e) {
                return List.<String>of();
            }
        }).orElse(List.of());
    }

    @Override
    public Optional<Path> readlink(Path path) {
        return walk(path, false).filter(Files::isSymbolicLink).flatMap(p -> {
            try {
                return Optional.of(Files.readSymbolicLink(p));
            } catch (IOException e) {
                return Optional.empty();
            }
        });
    }

    @Override
    public boolean exists(Path path) {
        return locate(path).isPresent();
    }

    @Override
    public Optional<Path> realPath(Path path) {
        return locate(path).map(p -> Path.of("/").resolve(root.relativize(p).toString()));
    }

    @Override
    public String describe() {
        return "saved tree " + root;
    }

    // A saved tree is a record of a host, not a host: every effect is refused and none is counted.

    @Override
    public Outcome write(Path path, String value) {
        return refused();
    }

    @Override
    public Outcome modprobe(String module) {
        return refused();
    }

    @Override
    public Outcome rmmod(String module) {
        return refused();
    }

    @Override
    public Outcome setLink(String ifname, boolean up) {
        return refused();
    }

    @Override
    public Outcome addAddress(String ifname, String cidr) {
        return refused();
    }

    @Override
    public List<String> addresses(String ifname) {
        return List.of();
    }

    @Override
    public long writes() {
        return 0;
    }

    @Override
    public Optional<String> writeRefusal() {
        return Optional.of(describe() + " is a saved record of a host, read-only: plan works on it, apply and"
                + " undo need the live host (or --model)");
    }

    private Outcome refused() {
        return Outcome.failed(io.viommu.linux.driver.Errno.EPERM, writeRefusal().get());
    }
}
