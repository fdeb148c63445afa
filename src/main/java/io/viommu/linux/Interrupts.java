package io.viommu.linux;

import io.viommu.machine.PlatformInterrupts;
import io.viommu.machine.device.LocalApicSink;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;

/**
 * The boot CPU's side of interrupt delivery: request_irq's vector -> handler table and the local
 * APIC's request register. A message the platform delivers to this CPU on a vector with a handler
 * sets the vector pending (one bit per vector, as the IRR: a second message before the first was
 * taken merges with it). No CPU runs in the model, so nothing is taken on its own:
 * {@link #take} is the CPU enabling interrupts (common_interrupt for each pending vector, highest
 * first, as the APIC's priority order). The handlers see their device only through its registers.
 *
 * <p>Level-triggered I/O APIC lines (PCI INTx): while a line with actions is asserted, taking
 * interrupts runs its actions once ({@code handle_fasteoi_irq}: every action of a shared line,
 * then the EOI; a line still asserted after the EOI interrupts again, at the next
 * {@link #take}). Without interrupt remapping the line's level is read from the platform and no
 * redirection entry is programmed for it; with it, the kernel's IR I/O APIC path
 * ({@link PciIrqs}) programs the pin's remappable redirection entry and IRTE, the interrupt
 * arrives as a vector like an MSI, and the EOI to the I/O APIC is done at the next
 * {@link #take} ({@link #deferEoi}).
 */
final class Interrupts {
    private final int apicId;
    private final PlatformInterrupts platform;
    private final Map<Integer, Runnable> handlers = new HashMap<>();
    private final TreeSet<Integer> pending = new TreeSet<>();
    private final Map<Integer, Map<Object, BooleanSupplier>> lines = new LinkedHashMap<>();
    private final List<Runnable> eois = new ArrayList<>();

    Interrupts(PlatformInterrupts platform, int apicId) {
        this.apicId = apicId;
        this.platform = platform;
        platform.apic().addListener(this::delivered);
    }

    /** request_irq: {@code handler} runs when {@code vector} is taken. */
    void request(int vector, Runnable handler) {
        handlers.put(vector, handler);
    }

    /** free_irq of a vector's handler (a pending request is dropped with it). */
    void free(int vector) {
        handlers.remove(vector);
        pending.remove(vector);
    }

    boolean vectorInUse(int vector) {
        return handlers.containsKey(vector);
    }

    /** request_irq on level-triggered line {@code gsi}, shared: one action per owner. */
    void requestLine(int gsi, Object owner, BooleanSupplier action) {
        lines.computeIfAbsent(gsi, g -> new LinkedHashMap<>()).put(owner, action);
    }

    void freeLine(int gsi, Object owner) {
        Map<Object, BooleanSupplier> actions = lines.get(gsi);
        if (actions != null) {
            actions.remove(owner);
            if (actions.isEmpty()) {
                lines.remove(gsi);
            }
        }
    }

    private void delivered(LocalApicSink.ApicInterrupt i) {
        if (!i.logical() && i.destination() == apicId && handlers.containsKey(i.vector())) {
            pending.add(i.vector());
        }
    }

    /** An EOI to the I/O APIC, done when interrupts are next taken (the line may interrupt again then). */
    void deferEoi(Runnable eoi) {
        eois.add(eoi);
    }

    PlatformInterrupts platform() {
        return platform;
    }

    boolean anyPending() {
        return !eois.isEmpty() || !pending.isEmpty() || lines.keySet().stream().anyMatch(platform::lineLevel);
    }

    /**
     * Runs the pending vectors' handlers until none is pending, then the actions of each
     * asserted line once; returns how many handlers ran.
     */
    int take() {
        int n = 0;
        if (!eois.isEmpty()) {
            List<Runnable> due = List.copyOf(eois);
            eois.clear();
            due.forEach(Runnable::run);
        }
        while (!pending.isEmpty()) {
            int vector = pending.pollLast();
            handlers.get(vector).run();
            n++;
        }
        for (Map.Entry<Integer, Map<Object, BooleanSupplier>> line : List.copyOf(lines.entrySet())) {
            if (!platform.lineLevel(line.getKey())) {
                continue;
            }
            for (BooleanSupplier action : new ArrayList<>(line.getValue().values())) {
                action.getAsBoolean();
                n++;
            }
        }
        while (!pending.isEmpty()) { // what the line handlers caused (none of the modelled ones send MSIs)
            int vector = pending.pollLast();
            handlers.get(vector).run();
            n++;
        }
        return n;
    }
}
