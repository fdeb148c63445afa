package io.viommu.linux.driver;

/**
 * The Linux errno values the kernel model returns, with their x86-64 numbers and glibc's
 * {@code strerror} text (what a shell prints as {@code sh: write error: <text>}).
 * Kernel code in this package follows the kernel's convention: an {@code int} that is 0 or
 * positive on success and {@code -errno} on failure; {@link #fromReturn} turns it back.
 */
public enum Errno {
    EPERM(1, "Operation not permitted"),
    ENOENT(2, "No such file or directory"),
    EIO(5, "Input/output error"),
    ENXIO(6, "No such device or address"),
    E2BIG(7, "Argument list too long"),
    EBADF(9, "Bad file descriptor"),
    EAGAIN(11, "Resource temporarily unavailable"),
    ENOMEM(12, "Cannot allocate memory"),
    EACCES(13, "Permission denied"),
    EFAULT(14, "Bad address"),
    EBUSY(16, "Device or resource busy"),
    EEXIST(17, "File exists"),
    ENODEV(19, "No such device"),
    ENOTDIR(20, "Not a directory"),
    EISDIR(21, "Is a directory"),
    EINVAL(22, "Invalid argument"),
    ENOTTY(25, "Inappropriate ioctl for device"),
    EFBIG(27, "File too large"),
    ENOSPC(28, "No space left on device"),
    ERANGE(34, "Numerical result out of range"),
    ENOSYS(38, "Function not implemented"),
    ELOOP(40, "Too many levels of symbolic links"),
    EOPNOTSUPP(95, "Operation not supported");

    public final int code;
    public final String strerror;

    Errno(int code, String strerror) {
        this.code = code;
        this.strerror = strerror;
    }

    /** {@code -code}, the kernel's return value for this error. */
    public int negative() {
        return -code;
    }

    /** The errno a negative kernel return value stands for; null for success (>= 0) or an unknown code. */
    public static Errno fromReturn(long rc) {
        if (rc >= 0) {
            return null;
        }
        for (Errno e : values()) {
            if (e.code == -rc) {
                return e;
            }
        }
        return null;
    }
}
