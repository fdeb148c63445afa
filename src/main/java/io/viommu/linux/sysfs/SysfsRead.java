package io.viommu.linux.sysfs;

import io.viommu.linux.driver.Errno;
import java.nio.charset.StandardCharsets;

/** The outcome of a read: the bytes read, or the errno {@code read(2)}/{@code open(2)} fails with. */
public record SysfsRead(byte[] data, Errno error) {
    static SysfsRead of(byte[] data) {
        return new SysfsRead(data, null);
    }

    static SysfsRead failed(Errno e) {
        return new SysfsRead(new byte[0], e);
    }

    public boolean ok() {
        return error == null;
    }

    /** The bytes as text (one char per byte); throws when the read failed. */
    public String text() {
        if (error != null) {
            throw new IllegalStateException("read failed: " + error);
        }
        return new String(data, StandardCharsets.ISO_8859_1);
    }

    @Override
    public String toString() {
        return error != null ? error.name() : new String(data, StandardCharsets.ISO_8859_1);
    }
}
