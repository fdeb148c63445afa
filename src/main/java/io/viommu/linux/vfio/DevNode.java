package io.viommu.linux.vfio;

/**
 * A character device node under /dev as {@code ls -l} shows it: mode string, major, minor,
 * name. Owner and group are root (0) as in the captures.
 */
public record DevNode(String name, String mode, int major, int minor) {
    /**
     * The busybox {@code ls -l} line the fixtures captured, without its date:
     * {@code "crw-------    1 0        0         246,   0 2"}.
     */
    public String lsLine() {
        return String.format("%-10s %4d %-8s %-8s %4d, %3d %s", mode, 1, "0", "0", major, minor, name);
    }
}
