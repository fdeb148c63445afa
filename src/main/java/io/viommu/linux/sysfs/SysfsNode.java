package io.viommu.linux.sysfs;

import java.util.TreeMap;

/** A node of the in-memory sysfs: a directory, an attribute file, or a symbolic link. */
public sealed interface SysfsNode permits SysfsNode.Dir, SysfsNode.Attr, SysfsNode.Link {

    /** A directory; children sorted by name. */
    final class Dir implements SysfsNode {
        final TreeMap<String, SysfsNode> children = new TreeMap<>();
    }

    /** A symbolic link to an absolute path inside the tree (readlink shows it relative, as kernfs). */
    record Link(String target) implements SysfsNode {
    }

    /** Show of a text attribute: the whole file. */
    @FunctionalInterface
    interface Show {
        String show();
    }

    /**
     * Store of a text attribute: {@code buf} is the written bytes (one char per byte, at most a
     * page), returns the count consumed or a negative errno.
     */
    @FunctionalInterface
    interface Store {
        long store(String buf);
    }

    /** Read of a binary attribute at an offset; {@code count} already clipped to the size. */
    @FunctionalInterface
    interface BinRead {
        byte[] read(long offset, int count);
    }

    /** Write of a binary attribute at an offset; returns bytes written or a negative errno. */
    @FunctionalInterface
    interface BinWrite {
        long write(long offset, byte[] data);
    }

    /**
     * An attribute file with its permission bits (0444, 0644, 0200...). Text attributes have
     * show/store; binary ones ({@code config}) have a size and read/write.
     */
    record Attr(int mode, Show show, Store store, long size, BinRead binRead, BinWrite binWrite) implements SysfsNode {
        static Attr ro(Show show) {
            return new Attr(0444, show, null, 0, null, null);
        }

        static Attr rw(Show show, Store store) {
            return new Attr(0644, show, store, 0, null, null);
        }

        static Attr rw(int mode, Show show, Store store) {
            return new Attr(mode, show, store, 0, null, null);
        }

        static Attr wo(Store store) {
            return new Attr(0200, null, store, 0, null, null);
        }

        static Attr binary(int mode, long size, BinRead read, BinWrite write) {
            return new Attr(mode, null, null, size, read, write);
        }

        boolean isBinary() {
            return binRead != null || binWrite != null;
        }

        boolean readable() {
            return (mode & 0444) != 0 && (show != null || binRead != null);
        }

        boolean writable() {
            return (mode & 0222) != 0 && (store != null || binWrite != null);
        }
    }
}
