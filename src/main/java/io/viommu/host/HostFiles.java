package io.viommu.host;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The only way {@code host scan} touches an operating system: read-only access to a Linux
 * filesystem view (/sys, /proc, /dev). Paths are absolute as on the host ({@code /sys/bus/pci/devices});
 * an implementation decides what they are rooted at. No method throws for a missing or unreadable
 * file: absence is an answer ({@link Optional#empty()}, an empty list, {@code false}).
 *
 * <p>Two implementations: {@link RealHost} (the running kernel's own /sys and /proc) and
 * {@link SavedTree} (a directory laid out like a chroot: {@code DIR/sys/...}, {@code DIR/proc/...},
 * as written by {@code viommu host snapshot} or exported from the sysfs model).
 */
public interface HostFiles {
    /** The file's bytes, or empty when it does not exist or cannot be read (e.g. root-only ACPI tables). */
    Optional<byte[]> readBytes(Path path);

    /** Directory entry names, sorted; empty when not a directory. Follows symlinks, like {@code ls DIR/}. */
    List<String> list(Path path);

    /** The target of a symlink exactly as stored (usually relative, as sysfs writes them). */
    Optional<Path> readlink(Path path);

    /** Whether the path exists (following symlinks), readable or not. */
    boolean exists(Path path);

    /** The canonical host path (every symlink followed), like {@code realpath}; empty if it does not exist. */
    Optional<Path> realPath(Path path);

    /** What this view is, for reports: "live host" or "saved tree DIR". */
    String describe();

    /** The file as text with the trailing newline removed (sysfs attributes end in one newline). */
    default Optional<String> read(Path path) {
        return readBytes(path).map(b -> {
            String s = new String(b, StandardCharsets.UTF_8);
            return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
        });
    }

    /** The last path component of a symlink's target ({@code driver -> ../../bus/pci/drivers/virtio-pci}). */
    default Optional<String> linkName(Path path) {
        return readlink(path).map(t -> t.getFileName() == null ? t.toString() : t.getFileName().toString());
    }

    /**
     * The absolute host path a symlink resolves to, normalised, without following further links:
     * {@code /sys/bus/pci/devices/0000:00:01.0 -> /sys/devices/pci0000:00/0000:00:01.0}.
     */
    default Optional<Path> resolveLink(Path link) {
        return readlink(link).map(t -> t.isAbsolute() ? t.normalize() : link.getParent().resolve(t).normalize());
    }
}
