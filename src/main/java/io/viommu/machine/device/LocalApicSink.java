package io.viommu.machine.device;

import io.viommu.pci.RequesterId;
import io.viommu.vtd.InterruptTarget;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Where every interrupt message ends: the local APICs, modelled as a record of what they were
 * sent (no CPU runs). An entry is either an interrupt that interrupt remapping resolved from an
 * IRTE ({@code irteIndex >= 0}) or a message delivered as it was written, decoded in
 * compatibility format the way QEMU 7.2's TCG APIC does ({@code apic_send_msi}):
 * <pre>
 *  address 19:12 destination id, 3 redirection hint, 2 destination mode (1 = logical)
 *  data    7:0 vector, 10:8 delivery mode, 15 trigger mode (1 = level)
 * </pre>
 *
 * <p>qtest: QEMU 7.2 reports no line for an MSI under any interception (checked:
 * {@code irq_intercept_in ioapic} shows only I/O APIC pins, and intercepting the CPU's
 * {@code lapic} or the device shows nothing), so the qtest server shows nothing for these
 * either; tests read this record instead.
 */
public final class LocalApicSink implements InterruptTarget {
    /** One interrupt as the APIC bus saw it. */
    public record ApicInterrupt(int vector, int destination, boolean logical, int deliveryMode,
                                boolean levelTriggered, boolean redirectionHint, RequesterId source,
                                int irteIndex) {
        public boolean remapped() {
            return irteIndex >= 0;
        }

        @Override
        public String toString() {
            return String.format("vector 0x%02x -> %s %d dlm=%d %s%s from %s%s", vector,
                    logical ? "logical" : "physical", destination, deliveryMode, levelTriggered ? "level" : "edge",
                    redirectionHint ? " RH" : "", source, remapped() ? " via IRTE " + irteIndex : "");
        }
    }

    /** Observes deliveries. */
    @FunctionalInterface
    public interface Listener {
        void delivered(ApicInterrupt interrupt);
    }

    private final List<ApicInterrupt> log = new ArrayList<>();
    private Listener listener = i -> { };
    private final List<Listener> cpus = new ArrayList<>();

    public void setListener(Listener listener) {
        this.listener = listener == null ? i -> { } : listener;
    }

    /** A CPU side that takes interrupts (a kernel model's IRQ table), told after the listener. */
    public void addListener(Listener cpu) {
        cpus.add(cpu);
    }

    /** A message delivered as written (no remapping, or a compatibility-format message allowed through). */
    public void deliverMessage(long address, int data, RequesterId source) {
        record(new ApicInterrupt(data & 0xff, (int) (address >>> 12) & 0xff, (address & (1L << 2)) != 0,
                (data >>> 8) & 7, (data & (1 << 15)) != 0, (address & (1L << 3)) != 0, source, -1));
    }

    @Override
    public void remapped(int vector, int destination, boolean logical, int deliveryMode, boolean levelTriggered,
                         boolean redirectionHint, int sourceId, int index) {
        record(new ApicInterrupt(vector, destination, logical, deliveryMode, levelTriggered, redirectionHint,
                new RequesterId(sourceId & 0xffff), index));
    }

    private void record(ApicInterrupt i) {
        log.add(i);
        listener.delivered(i);
        for (Listener cpu : List.copyOf(cpus)) {
            cpu.delivered(i);
        }
    }

    public List<ApicInterrupt> log() {
        return Collections.unmodifiableList(log);
    }

    public void clear() {
        log.clear();
    }
}
