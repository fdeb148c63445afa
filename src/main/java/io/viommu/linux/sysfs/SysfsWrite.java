package io.viommu.linux.sysfs;

import io.viommu.linux.driver.Errno;

/** The outcome of a write: bytes accepted, or the errno {@code write(2)}/{@code open(2)} fails with. */
public record SysfsWrite(long count, Errno error) {
    static SysfsWrite of(long count) {
        return new SysfsWrite(count, null);
    }

    static SysfsWrite failed(Errno e) {
        return new SysfsWrite(-1, e);
    }

    public boolean ok() {
        return error == null;
    }

    @Override
    public String toString() {
        return error != null ? error.name() : "wrote " + count;
    }
}
