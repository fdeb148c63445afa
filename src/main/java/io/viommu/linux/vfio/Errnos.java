package io.viommu.linux.vfio;

import io.viommu.linux.driver.Errno;

/** Small helpers to raise the kernel's errno convention as {@link VfioException}. */
final class Errnos {
    private Errnos() {
    }

    static VfioException fail(Errno e, String why) {
        return new VfioException(e, why);
    }

    /** A kernel return value: >= 0 passes through, negative throws its errno. */
    static long check(long rc, String what) {
        if (rc >= 0) {
            return rc;
        }
        Errno e = Errno.fromReturn(rc);
        throw new VfioException(e == null ? Errno.EIO : e, what);
    }
}
