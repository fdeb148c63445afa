package io.viommu.linux.iommu;

import java.util.ArrayList;
import java.util.List;

/**
 * The kernel model's notion of time: nothing happens on its own, a scenario advances the clock
 * and the timers that fall due run, in deadline order (the flush queue's 10 ms timer is the one
 * user). Linux counts in jiffies (HZ 250 on Debian: a 10 ms timer fires after 8 to 12 ms); the
 * model keeps nanoseconds and fires exactly at the deadline.
 */
public final class VirtualClock {
    private long nanos;
    private final List<Timer> timers = new ArrayList<>();

    /** A one-shot timer (struct timer_list with mod_timer). */
    public final class Timer {
        private final Runnable action;
        private long deadline = -1;

        private Timer(Runnable action) {
            this.action = action;
        }

        /** mod_timer: (re)arms the timer to fire {@code delayNanos} from now. */
        public void arm(long delayNanos) {
            deadline = nanos + delayNanos;
        }

        public boolean pending() {
            return deadline >= 0;
        }

        public void cancel() {
            deadline = -1;
        }
    }

    public Timer timer(Runnable action) {
        Timer t = new Timer(action);
        timers.add(t);
        return t;
    }

    public long nanos() {
        return nanos;
    }

    /** Moves time forward, running every timer whose deadline is reached, earliest first. */
    public void advance(long deltaNanos) {
        if (deltaNanos < 0) {
            throw new IllegalArgumentException("time runs forward: " + deltaNanos);
        }
        long target = nanos + deltaNanos;
        while (true) {
            Timer next = null;
            for (Timer t : timers) {
                if (t.deadline >= 0 && t.deadline <= target && (next == null || t.deadline < next.deadline)) {
                    next = t;
                }
            }
            if (next == null) {
                break;
            }
            nanos = Math.max(nanos, next.deadline);
            next.deadline = -1;
            next.action.run();
        }
        nanos = target;
    }

    public void advanceMillis(long ms) {
        advance(ms * 1_000_000L);
    }
}
