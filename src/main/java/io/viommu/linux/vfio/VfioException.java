package io.viommu.linux.vfio;

import io.viommu.linux.driver.Errno;

/**
 * An ioctl (or open) that failed: the errno Linux returns for the same call, as the driver core's
 * {@link Errno}; {@link #getMessage()} says which rule refused it. User space sees only the errno.
 */
public final class VfioException extends RuntimeException {
    private final Errno errno;

    public VfioException(Errno errno, String why) {
        super(errno.name() + " (" + errno.strerror + "): " + why);
        this.errno = errno;
    }

    public Errno errno() {
        return errno;
    }
}
