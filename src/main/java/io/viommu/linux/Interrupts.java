package io.viommu.linux;

import io.viommu.machine.device.LocalApicSink;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * The boot CPU's side of interrupt delivery: request_irq's vector -> handler table and the local
 * APIC's request register. A message the platform delivers to this CPU on a vector with a handler
 * sets the vector pending (one bit per vector, as the IRR: a second message before the first was
 * taken merges with it). No CPU runs in the model, so nothing is taken on its own:
 * {@link #take} is the CPU enabling interrupts (common_interrupt for each pending vector, highest
 * first, as the APIC's priority order). The handlers see their device only through its registers.
 */
final class Interrupts {
    private final int apicId;
    private final Map<Integer, Runnable> handlers = new HashMap<>();
    private final TreeSet<Integer> pending = new TreeSet<>();

    Interrupts(LocalApicSink apic, int apicId) {
        this.apicId = apicId;
        apic.addListener(this::delivered);
    }

    /** request_irq: {@code handler} runs when {@code vector} is taken. */
    void request(int vector, Runnable handler) {
        handlers.put(vector, handler);
    }

    private void delivered(LocalApicSink.ApicInterrupt i) {
        if (!i.logical() && i.destination() == apicId && handlers.containsKey(i.vector())) {
            pending.add(i.vector());
        }
    }

    boolean anyPending() {
        return !pending.isEmpty();
    }

    /** Runs the pending vectors' handlers until none is pending; returns how many ran. */
    int take() {
        int n = 0;
        while (!pending.isEmpty()) {
            int vector = pending.pollLast();
            handlers.get(vector).run();
            n++;
        }
        return n;
    }
}
