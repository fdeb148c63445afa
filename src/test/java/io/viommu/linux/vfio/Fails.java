package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.linux.driver.Errno;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/** Test helper: asserts that an ioctl fails with a given errno. */
final class Fails {
    private Fails() {
    }

    static void with(Errno errno, ThrowingCallable call) {
        assertThatThrownBy(call).isInstanceOf(VfioException.class)
                .extracting(e -> ((VfioException) e).errno()).isEqualTo(errno);
    }
}
