package io.viommu.linux.iommu;

import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * struct ratelimit_state and ___ratelimit (lib/ratelimit.c, Linux 6.1), on the kernel model's
 * clock: at most {@code burst} callers pass per interval; the interval starts at the first call
 * and restarts at the first call after it has passed (time_is_before_jiffies: strictly later),
 * which first prints "FUNC: N callbacks suppressed" (printk_deferred, KERN_WARNING, no pr_fmt
 * prefix) when calls were refused in the interval before.
 */
final class Ratelimit {
    /** DEFAULT_RATELIMIT_INTERVAL (5 * HZ) and DEFAULT_RATELIMIT_BURST. */
    static final long DEFAULT_INTERVAL_NANOS = 5_000_000_000L;
    static final int DEFAULT_BURST = 10;

    private final String func;
    private final long intervalNanos;
    private final int burst;
    private final LongSupplier now;
    private boolean begun;
    private long begin;
    private int printed;
    private int missed;

    Ratelimit(String func, long intervalNanos, int burst, LongSupplier now) {
        this.func = func;
        this.intervalNanos = intervalNanos;
        this.burst = burst;
        this.now = now;
    }

    /** __ratelimit: true when the caller may print; the "suppressed" line goes to {@code log}. */
    boolean pass(Consumer<String> log) {
        long t = now.getAsLong();
        if (!begun) {
            begun = true;
            begin = t;
        }
        if (t > begin + intervalNanos) {
            if (missed != 0) {
                log.accept(func + ": " + missed + " callbacks suppressed");
                missed = 0;
            }
            begin = t;
            printed = 0;
        }
        if (burst > printed) {
            printed++;
            return true;
        }
        missed++;
        return false;
    }
}
