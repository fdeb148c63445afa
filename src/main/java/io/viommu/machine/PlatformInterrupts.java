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

    /** RTE bit 16: masked (every entry's reset value). */
    public static final long RTE_MASKED = 1L << 16;
    /** RTE bit 15: level-triggered. */
    public static final long RTE_LEVEL = 1L << 15;
    /** RTE bit 14: remote IRR (read-only: set while a level interrupt awaits its EOI). */
    public static final long RTE_REMOTE_IRR = 1L << 14;
    /** RTE bit 48: remappable format (bits 63:49 and 11: the IRTE index), with interrupt remapping. */
    public static final long RTE_REMAPPABLE = 1L << 48;
    /** The requester id the I/O APIC's messages carry (QEMU: unspecified, so no source validation). */
    public static final RequesterId IOAPIC_SOURCE = new RequesterId(0xffff);

    private final long[] redirection = new long[IOAPIC_PINS];
    private final boolean[] remoteIrr = new boolean[IOAPIC_PINS];
    private long ioapicMessages;

    {
        java.util.Arrays.fill(redirection, RTE_MASKED);
    }

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
            if (after) {
                service(gsi);
            }
        }
    }

    // ---- the I/O APIC's redirection table (QEMU hw/intc/ioapic.c) ----

    /** A redirection entry as software reads it (remote IRR included). */
    public long redirection(int pin) {
        return redirection[pin] | (remoteIrr[pin] ? RTE_REMOTE_IRR : 0);
    }

    /** ioapic_mem_write of IOREDTBL: the entry (remote IRR is not writable), then ioapic_service. */
    public void writeRedirection(int pin, long value) {
        if (pin < 0 || pin >= IOAPIC_PINS) {
            return;
        }
        redirection[pin] = value & ~RTE_REMOTE_IRR;
        if ((value & RTE_LEVEL) == 0) {
            remoteIrr[pin] = false;
        }
        service(pin);
    }

    /**
     * ioapic_eoi_broadcast (an EOI for {@code vector}, or a write of the EOI register): each
     * level-triggered entry of that vector drops its remote IRR and, its line still asserted,
     * sends again.
     */
    public void eoi(int vector) {
        for (int pin = 0; pin < IOAPIC_PINS; pin++) {
            if (remoteIrr[pin] && (redirection[pin] & 0xff) == vector) {
                remoteIrr[pin] = false;
                service(pin);
            }
        }
    }

    /** Messages the I/O APIC sent (all entries). */
    public long ioapicMessages() {
        return ioapicMessages;
    }

    /**
     * ioapic_service for one pin: an unmasked entry whose line is asserted sends its message
     * (a level-triggered one once until its EOI) to the VT-d unit's interrupt window when there
     * is one (QEMU's ioapic_as: remapped there, a compatibility-format message passed on), else
     * to the local APICs. The message is ioapic_entry_parse's: address 0xFEE00000 | RTE[63:48]
     * << 4 | DM << 2, data vector | delivery mode << 8 | trigger << 15.
     */
    private void service(int pin) {
        long e = redirection[pin];
        if ((e & RTE_MASKED) != 0 || assertCount[pin] == 0) {
            return;
        }
        boolean level = (e & RTE_LEVEL) != 0;
        if (level && remoteIrr[pin]) {
            return;
        }
        if (level) {
            remoteIrr[pin] = true;
        }
        long address = io.viommu.pci.MsiAddress.FIRST | ((e >>> 48) & 0xffff) << 4 | ((e >>> 11) & 1) << 2;
        int data = (int) (e & 0xff) | (int) ((e >>> 8) & 7) << 8 | (level ? 1 << 15 : 0);
        ioapicMessages++;
        if (remapping == null) {
            apic.deliverMessage(address, data, IOAPIC_SOURCE);
            return;
        }
        int r = remapping.remap(address, data, InterruptRemapping.NO_SOURCE, apic);
        if (r == InterruptRemapping.PASS_THROUGH) {
            apic.deliverMessage(address, data, IOAPIC_SOURCE);
        } else if (r != InterruptRemapping.DELIVERED) {
            blockedMsis++;
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
