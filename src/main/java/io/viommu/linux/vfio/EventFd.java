package io.viommu.linux.vfio;

/**
 * An eventfd (fs/eventfd.c) as the VMM and VFIO share one: a 64-bit counter that
 * {@code eventfd_signal} adds to and a {@code read} returns and clears. VFIO signals it from the
 * device's interrupt handler; the VMM's main loop polls it ({@link #readable}) and reads it
 * (QEMU's {@code event_notifier_test_and_clear}).
 */
public final class EventFd {
    private long count;

    /** {@code eventfd_signal(ctx, 1)}. */
    public void signal() {
        count++;
    }

    /** Whether poll reports POLLIN. */
    public boolean readable() {
        return count != 0;
    }

    /** {@code event_notifier_test_and_clear}: a read of the counter; true when it was non-zero. */
    public boolean testAndClear() {
        boolean was = count != 0;
        count = 0;
        return was;
    }

    /** Signals not read yet. */
    public long count() {
        return count;
    }
}
