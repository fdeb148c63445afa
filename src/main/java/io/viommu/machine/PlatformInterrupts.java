package io.viommu.machine;

import io.viommu.machine.device.LocalApicSink;
import io.viommu.pci.MsiSink;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.InterruptRemapping;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Where the platform's interrupts end: the I/O APIC's 24 input lines (GSIs) with their
 * levels, and every MSI write towards the local APICs, recorded in order. Nothing here runs a
 * CPU; the record is what tests and the qtest server look at.
 *
 * <p>Shared lines are wired-OR, as QEMU's {@code pci_bus_change_irq_level} counts asserting
 * sources per PIRQ. A listener sees each change of a line's level (qtest
 * {@code irq_intercept_in ioapic} prints them as {@code IRQ raise N} / {@code IRQ lower N}).
 */
public final class PlatformInterrupts implements MsiSink {
    public static final int IOAPIC_PINS = 24;

    /** One MSI as it left its source (before any interrupt remapping). */
    public record MsiMessage(long address, int data, RequesterId source) {
        @Override
        public String toString() {
            return String.format("MSI addr=0x%x data=0x%x from %s", address, data, source);
        }
    }

    /** Observes line level changes. */
    @FunctionalInterface
    public interface LineListener {
        void levelChanged(int gsi, boolean level);
    }

    private final int[] assertCount = new int[IOAPIC_PINS];
    private final boolean[] external = new boolean[IOAPIC_PINS];
    private final List<MsiMessage> msis = new ArrayList<>();
    private LineListener listener = (g, l) -> { };
    private final LocalApicSink apic = new LocalApicSink();
    private InterruptRemapping remapping; // null: no VT-d unit on the platform
    private long blockedMsis;

    public void setListener(LineListener listener) {
        this.listener = listener == null ? (g, l) -> { } : listener;
    }

    /** One source raising or lowering its contribution to line {@code gsi}. */
    public void sourceLevel(int gsi, boolean level) {
        if (gsi < 0 || gsi >= IOAPIC_PINS) {
            return;
        }
        boolean before = assertCount[gsi] > 0;
        assertCount[gsi] = Math.max(0, assertCount[gsi] + (level ? 1 : -1));
        boolean after = assertCount[gsi] > 0;
        if (before != after) {
            listener.levelChanged(gsi, after);
        }
    }

    /**
     * Forces an external source's level on a line (qtest {@code set_irq_in}); counted like any
     * other source, and only its changes count.
     */
    public void setExternal(int gsi, boolean level) {
        if (gsi < 0 || gsi >= IOAPIC_PINS || external[gsi] == level) {
            return;
        }
        external[gsi] = level;
        sourceLevel(gsi, level);
    }

    public boolean lineLevel(int gsi) {
        return gsi >= 0 && gsi < IOAPIC_PINS && assertCount[gsi] > 0;
    }

    /**
     * An MSI that goes straight to the local APICs, never remapped: from a device no IOMMU
     * covers (QEMU: its bus-master space is system memory, whose 0xFEE00000 window is the
     * APIC's MSI region) and the VT-d unit's own fault and invalidation-completion events
     * (QEMU vtd_generate_interrupt calls the APIC directly).
     */
    @Override
    public void deliver(long address, int data, RequesterId source) {
        msis.add(new MsiMessage(address, data, source));
        apic.deliverMessage(address, data, source);
    }

    /**
     * An MSI from a device behind the VT-d unit: QEMU's vtd-ir region (vtd_mem_ir_write) passes
     * it through interrupt remapping; a blocked interrupt is dropped (the unit records the fault).
     */
    public void deliverRemappable(long address, int data, RequesterId source) {
        msis.add(new MsiMessage(address, data, source));
        if (remapping == null) {
            apic.deliverMessage(address, data, source);
            return;
        }
        int r = remapping.remap(address, data, source.value(), apic);
        if (r == InterruptRemapping.PASS_THROUGH) {
            apic.deliverMessage(address, data, source);
        } else if (r != InterruptRemapping.DELIVERED) {
            blockedMsis++;
        }
    }

    /** The sink for devices the VT-d unit covers. */
    public MsiSink remappingSink() {
        return this::deliverRemappable;
    }

    /** Connects the platform's VT-d unit (interrupt remapping for devices behind it). */
    public void attachInterruptRemapping(InterruptRemapping remapping) {
        this.remapping = remapping;
    }

    /** The local APICs: every interrupt that was delivered, after remapping. */
    public LocalApicSink apic() {
        return apic;
    }

    /** Device MSIs interrupt remapping refused. */
    public long blockedMsis() {
        return blockedMsis;
    }

    public List<MsiMessage> msiLog() {
        return Collections.unmodifiableList(msis);
    }
}
