package io.viommu.linux.scenario;

import io.viommu.machine.device.E1000eCore;
import io.viommu.machine.device.Endpoints;
import io.viommu.machine.device.IgbVfCore;
import io.viommu.memory.Iova;
import io.viommu.pci.PciFunction;

/**
 * A real NIC as the receive side of the scenario: an e1000e (legacy descriptors) or an 82576 VF
 * (advanced one-buffer descriptors). The driver keeps an RX descriptor ring of {@link #SLOTS}
 * entries in DMA memory; per packet it writes the next descriptor with the slot's buffer
 * address and moves RDT past it, then the frame arrives from the wire (the scenario hands it
 * to the NIC's MAC, as edu's buffer is filled) and the NIC fetches the descriptor, writes the
 * frame and writes the descriptor back, each access through its DMA port and so through the
 * IOMMU's real translation. The e1000e strips the CRC (RCTL.SECRC, as Linux's e1000e sets it).
 */
final class RingNic implements RxPath {
    /** Descriptors in the ring: one page of 16-byte descriptors. */
    static final int SLOTS = 256;
    static final int DESC = 16;

    /** 4-byte stores to the NIC's BAR0, by whoever drives it. */
    @FunctionalInterface
    interface Registers {
        void store4(int offset, long value);
    }

    /** The descriptor ring's memory as the driver reaches it (guest RAM, or a process's mapping). */
    interface Ring {
        void write(int index, byte[] desc);

        byte[] read(int index);
    }

    private final E1000eCore e1000e;
    private final IgbVfCore vf;
    private final Registers regs;
    private final Ring ring;
    private int tail;

    /** Whether {@code f} is a NIC this path drives. */
    static boolean drives(PciFunction f) {
        return f instanceof Endpoints.E1000e || f instanceof Endpoints.Igb82576Vf;
    }

    /** Programs the RX ring at {@code ringIova} and enables reception, as the driver's open does. */
    RingNic(PciFunction nic, Registers regs, Ring ring, Iova ringIova) {
        this.e1000e = nic instanceof Endpoints.E1000e e ? e.core() : null;
        this.vf = nic instanceof Endpoints.Igb82576Vf v ? v.core() : null;
        if (e1000e == null && vf == null) {
            throw new IllegalArgumentException(nic + " is not an e1000e or an 82576 VF");
        }
        this.regs = regs;
        this.ring = ring;
        regs.store4(0x2800, ringIova.value());
        regs.store4(0x2804, ringIova.value() >>> 32);
        regs.store4(0x2808, SLOTS * DESC);
        regs.store4(0x2810, 0);
        regs.store4(0x2818, 0);
        if (e1000e != null) {
            regs.store4(0x100, 0x0400_801aL); // RCTL: EN UPE MPE BAM SECRC, 2 KiB buffers
        } else {
            regs.store4(0x2828, 1 << 25); // RXDCTL.ENABLE
        }
    }

    @Override
    public boolean receive(byte[] frame, Iova dst) {
        byte[] d = new byte[DESC];
        for (int i = 0; i < 8; i++) {
            d[i] = (byte) (dst.value() >>> (8 * i));
        }
        int slot = tail;
        ring.write(slot, d);
        tail = (tail + 1) % SLOTS;
        regs.store4(0x2818, tail); // RDT
        boolean taken = e1000e != null ? e1000e.receive(frame) : vf.receive(frame);
        byte[] wb = ring.read(slot);
        int status = e1000e != null ? wb[12] & 0xff : wb[8] & 0xff;
        int length = e1000e != null ? (wb[8] & 0xff) | (wb[9] & 0xff) << 8 : (wb[12] & 0xff) | (wb[13] & 0xff) << 8;
        boolean faulted = e1000e != null ? e1000e.lastReceiveFaulted() : vf.lastReceiveFaulted();
        return taken && !faulted && (status & 0x3) == 0x3 && length == frame.length;
    }

    /** The driver's close: reception off. */
    void stop() {
        if (e1000e != null) {
            regs.store4(0x100, 0);
        } else {
            regs.store4(0x2828, 0);
        }
    }
}
