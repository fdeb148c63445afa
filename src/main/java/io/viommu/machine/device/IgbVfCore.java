package io.viommu.machine.device;

import io.viommu.memory.Iova;
import io.viommu.memory.Mmio;
import io.viommu.pci.DmaPort;
import io.viommu.pci.MsixTable;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The data path of an Intel 82576 virtual function (8086:10ca) as the Linux igbvf driver sees it
 * (drivers/net/ethernet/intel/igbvf: vf.h, regs.h, netdev.c) and the 82576 datasheet describes
 * it: queue pair 0 with advanced descriptors, the extended interrupt registers and MSI-X with
 * three vectors. QEMU 7.2 has no 82576 (its igb arrived in 8.0), so there is no QEMU oracle for
 * this model: it is ours, and differs from the hardware where the README's deviation table says.
 * <pre>
 *  BAR0 (16 KiB)
 *  0x0000 CTRL (bit 26 RST: the queues disabled, registers to reset values)   0x0008 STATUS (LU, FD, 1000)
 *  0x1520 EICS  0x1524 EIMS (read: the mask)  0x1528 EIMC  0x152c EIAC  0x1530 EIAM
 *  0x1580 EICR (one bit per MSI-X vector; read clears)  0x1680 + 4n EITR(n)
 *  0x1700 IVAR0: 7:0 RX queue 0, 15:8 TX queue 0 (vector 1:0, bit 7 valid)  0x1740 IVAR_MISC
 *  0x2800 RDBAL 0x2804 RDBAH 0x2808 RDLEN 0x280c SRRCTL (6:0 packet buffer in KiB, 27:25 type)
 *  0x2810 RDH 0x2818 RDT 0x2828 RXDCTL (bit 25 enable)
 *  0x3800 TDBAL 0x3804 TDBAH 0x3808 TDLEN 0x3810 TDH 0x3818 TDT 0x3828 TXDCTL (bit 25 enable)
 *  BAR3 (16 KiB): MSI-X table at 0, PBA at 0x2000
 * </pre>
 * Advanced TX data descriptor: buffer address (8), then DTALEN 15:0, DTYP 23:20 (3 data, 2
 * context), DCMD 31:24 (EOP 0, IFCS 1, RS 3, DEXT 5), STA 35:32 (DD), PAYLEN 63:46; with RS the
 * descriptor is written back in the advanced write-back format (status DD at byte 12). Legacy
 * TX descriptors (DEXT clear) are taken too. Advanced one-buffer RX descriptor: packet buffer
 * address (8), header buffer address (8); written back as packet type/RSS (8, zero here), then
 * extended status 19:0 (DD 0, EOP 1), errors 31:20, length 47:32, VLAN 63:48.
 *
 * <p>Where a frame goes: through the PF's internal switch ({@link Igb82576Switch}) to every VF
 * of the same PF whose MAC is the destination (the sender included: deliberate, so one VF can
 * loop a frame to itself) or, for a broadcast, to every other VF; else to the wire, where no
 * peer is modelled (dropped).
 */
public final class IgbVfCore {
    static final int CTRL = 0x0000;
    static final int STATUS = 0x0008;
    static final int EICS = 0x1520;
    static final int EIMS = 0x1524;
    static final int EIMC = 0x1528;
    static final int EIAC = 0x152c;
    static final int EIAM = 0x1530;
    static final int EICR = 0x1580;
    static final int EITR0 = 0x1680;
    static final int IVAR0 = 0x1700;
    static final int IVAR_MISC = 0x1740;
    static final int RDBAL = 0x2800;
    static final int RDBAH = 0x2804;
    static final int RDLEN = 0x2808;
    static final int SRRCTL = 0x280c;
    static final int RDH = 0x2810;
    static final int RDT = 0x2818;
    static final int RXDCTL = 0x2828;
    static final int TDBAL = 0x3800;
    static final int TDBAH = 0x3804;
    static final int TDLEN = 0x3808;
    static final int TDH = 0x3810;
    static final int TDT = 0x3818;
    static final int TXDCTL = 0x3828;
    static final int BAR0_SIZE = 0x4000;

    /** igbvf's three vectors: TX queue 0, RX queue 0, mailbox (other). */
    public static final int MSIX_VECTORS = 3;
    static final int CTRL_RST = 1 << 26;
    static final int STATUS_FD = 1;
    static final int STATUS_LU = 1 << 1;
    static final int STATUS_SPEED_1000 = 1 << 7;
    static final int QUEUE_ENABLE = 1 << 25;
    static final int IVAR_VALID = 0x80;
    static final int XDLEN_MASK = 0x000f_ff80;
    static final int TXD_CMD_EOP = 1 << 24;
    static final int TXD_CMD_RS = 1 << 27;
    static final int TXD_CMD_DEXT = 1 << 29;
    static final int ADVTXD_DTYP_MASK = 0xf << 20;
    static final int ADVTXD_DTYP_CTXT = 0x2 << 20;
    static final int STAT_DD = 1;
    static final int RXD_STAT_EOP = 2;
    static final int DESC_LEN = QueueRegisters.DESC_LEN;
    static final int MIN_FRAME = 60;
    static final int MAX_FRAME = 9728;

    private final PciFunction function;
    private final Igb82576Switch fabric;
    private final QueueRegisters q = new QueueRegisters(BAR0_SIZE);
    private final List<byte[]> txFragments = new ArrayList<>();
    private boolean txSkip;
    private boolean rxFaulted;
    private byte[] mac;

    IgbVfCore(PciFunction function, Igb82576Switch fabric, byte[] mac) {
        this.function = function;
        this.fabric = fabric;
        this.mac = mac.clone();
        reset();
    }

    /** The VF's MAC (what its PF's driver gives it over the mailbox on real hardware). */
    public byte[] mac() {
        return mac.clone();
    }

    public void setMac(byte[] m) {
        mac = m.clone();
    }

    /** The VF's registers to their reset values (CTRL.RST, or a function-level reset). */
    void reset() {
        q.clear();
        set(STATUS, STATUS_FD | STATUS_LU | STATUS_SPEED_1000);
        set(SRRCTL, 2 | 1 << 25); // 2 KiB buffers, advanced one-buffer descriptors
        txFragments.clear();
        txSkip = false;
    }

    private int reg(int off) {
        return q.get(off);
    }

    private void set(int off, int v) {
        q.set(off, v);
    }

    Mmio bar0() {
        return q.bar(this::read, (v, off) -> write(off, v));
    }

    int read(int off) {
        if (off >= EITR0 && off < EITR0 + 4 * MSIX_VECTORS) {
            return reg(off);
        }
        return switch (off) {
            case CTRL, STATUS, EIMS, EIAC, EIAM, IVAR0, IVAR_MISC, RDBAL, RDBAH, RDLEN, SRRCTL, RDH, RDT, RXDCTL,
                 TDBAL, TDBAH, TDLEN, TDH, TDT, TXDCTL -> reg(off);
            case EICS -> reg(EICR);
            case EICR -> {
                int v = reg(EICR);
                set(EICR, 0); // read to clear
                yield v;
            }
            default -> 0;
        };
    }

    void write(int off, int v) {
        if (off >= EITR0 && off < EITR0 + 4 * MSIX_VECTORS) {
            set(off, v & 0x7ffc); // interval 14:2; throttling not modelled
            return;
        }
        switch (off) {
            case CTRL -> {
                if ((v & CTRL_RST) != 0) {
                    reset();
                } else {
                    set(CTRL, v);
                }
            }
            case EICS -> cause(v & vectorMask());
            case EIMS -> {
                set(EIMS, reg(EIMS) | (v & vectorMask()));
                deliver(reg(EICR) & v);
            }
            case EIMC -> set(EIMS, reg(EIMS) & ~v);
            case EIAC, EIAM -> set(off, v & vectorMask());
            case EICR -> set(EICR, reg(EICR) & ~v); // write 1 to clear
            case IVAR0, IVAR_MISC, RDBAH, TDBAH, SRRCTL -> set(off, v);
            case RDBAL, TDBAL -> set(off, v & ~0x7f);
            case RDLEN, TDLEN -> set(off, v & XDLEN_MASK);
            case RDH, TDH, RDT -> set(off, v & 0xffff);
            case RXDCTL, TXDCTL -> set(off, v);
            case TDT -> {
                set(TDT, v & 0xffff);
                transmit();
            }
            default -> {
                // registers the model does not know: writes dropped
            }
        }
    }

    private static int vectorMask() {
        return (1 << MSIX_VECTORS) - 1;
    }

    // ---------------------------------------------------------------- interrupts

    /** The vector IVAR0 gives a queue's cause ({@code shift} 0 RX queue 0, 8 TX queue 0), or -1. */
    private int vectorOf(int shift) {
        int e = (reg(IVAR0) >>> shift) & 0xff;
        return (e & IVAR_VALID) != 0 && (e & 0x3) < MSIX_VECTORS ? e & 0x3 : -1;
    }

    /** Sets EICR bits and sends the unmasked ones. */
    private void cause(int bits) {
        set(EICR, reg(EICR) | bits);
        deliver(bits);
    }

    /** Each unmasked vector in {@code bits}: its MSI-X message, then EIAC's auto-clear and EIAM's auto-mask. */
    private void deliver(int bits) {
        MsixTable msix = function.msix();
        for (int v = 0; v < MSIX_VECTORS; v++) {
            int b = 1 << v;
            if ((bits & b) == 0 || (reg(EIMS) & b) == 0) {
                continue;
            }
            if (msix != null && msix.enabled()) {
                function.dma(); // a VF's message path is its PF's (wired on first use)
                msix.notify(v);
            }
            if ((reg(EIAC) & b) != 0) {
                set(EICR, reg(EICR) & ~b);
            }
            if ((reg(EIAM) & b) != 0) {
                set(EIMS, reg(EIMS) & ~b);
            }
        }
    }

    // ---------------------------------------------------------------- transmit

    private boolean busMaster() {
        return (function.command() & PciRegs.COMMAND_MASTER) != 0;
    }

    /** Every descriptor between TDH and TDT, while TXDCTL.ENABLE is set. */
    private void transmit() {
        DmaPort port = function.dma();
        if ((reg(TXDCTL) & QUEUE_ENABLE) == 0 || port == null || reg(TDLEN) == 0) {
            return;
        }
        boolean written = false;
        while (!q.empty(TDH, TDT, TDLEN)) {
            long at = q.head(TDBAL, TDBAH, TDH);
            byte[] d = new byte[DESC_LEN];
            port.read(new Iova(at), d, 0, DESC_LEN);
            int cmd = QueueRegisters.le32(d, 8);
            boolean advanced = (cmd & TXD_CMD_DEXT) != 0;
            if (!advanced || (cmd & ADVTXD_DTYP_MASK) != ADVTXD_DTYP_CTXT) {
                fragment(port, QueueRegisters.le64(d, 0), cmd & 0xffff, (cmd & TXD_CMD_EOP) != 0);
            }
            if ((cmd & TXD_CMD_RS) != 0) {
                byte[] wb = new byte[DESC_LEN];
                if (advanced) {
                    QueueRegisters.put32(wb, 12, STAT_DD); // advanced write-back: RSV, NXTSEQ_SEED, STA
                    port.write(new Iova(at), wb, 0, DESC_LEN);
                } else {
                    QueueRegisters.put32(wb, 0, QueueRegisters.le32(d, 12) | STAT_DD);
                    port.write(new Iova(at + 12), wb, 0, 4);
                }
                written = true;
            }
            q.advance(TDH, TDLEN);
        }
        int tx = vectorOf(8);
        if (written && tx >= 0) {
            cause(1 << tx);
        }
    }

    private void fragment(DmaPort port, long addr, int len, boolean eop) {
        if (!txSkip && len > 0) {
            byte[] buf = new byte[len];
            if (port.read(new Iova(addr), buf, 0, len).ok() && txFragments.size() < 64) {
                txFragments.add(buf);
            } else {
                txSkip = true; // a buffer the IOMMU refused: the frame is dropped
            }
        }
        if (eop) {
            ByteArrayOutputStream frame = new ByteArrayOutputStream();
            txFragments.forEach(frame::writeBytes);
            if (!txSkip && frame.size() >= 14) {
                fabric.forward(this, frame.toByteArray());
            }
            txFragments.clear();
            txSkip = false;
        }
    }

    // ---------------------------------------------------------------- receive

    /** Whether a frame to this VF is taken now: the VF exists (VF Enable), queue enabled, bus mastering on, a free descriptor. */
    public boolean canReceive() {
        return function.bus() != null && (reg(RXDCTL) & QUEUE_ENABLE) != 0 && busMaster() && reg(RDLEN) > 0 && !q.empty(RDH, RDT, RDLEN);
    }

    /**
     * A frame to this VF (from the PF's switch, or from the wire): written (padded to 60 bytes;
     * the CRC stripped) to the RX ring, then RX queue 0's vector raised; false when not taken.
     */
    public boolean receive(byte[] in) {
        rxFaulted = false;
        if (!canReceive() || in.length > MAX_FRAME) {
            return false;
        }
        byte[] frame = in.length < MIN_FRAME ? java.util.Arrays.copyOf(in, MIN_FRAME) : in;
        int bufSize = (reg(SRRCTL) & 0x7f) == 0 ? 2048 : (reg(SRRCTL) & 0x7f) * 1024;
        DmaPort port = function.dma();
        int offset = 0;
        while (offset < frame.length) {
            if (q.empty(RDH, RDT, RDLEN)) {
                break; // out of descriptors: the rest is dropped
            }
            long at = q.head(RDBAL, RDBAH, RDH);
            byte[] d = new byte[DESC_LEN];
            port.read(new Iova(at), d, 0, DESC_LEN);
            long buffer = QueueRegisters.le64(d, 0);
            int n = Math.min(bufSize, frame.length - offset);
            rxFaulted |= !port.write(new Iova(buffer), frame, offset, n).ok();
            offset += n;
            byte[] wb = new byte[DESC_LEN];
            QueueRegisters.put32(wb, 8, STAT_DD | (offset >= frame.length ? RXD_STAT_EOP : 0));
            wb[12] = (byte) n;
            wb[13] = (byte) (n >>> 8);
            port.write(new Iova(at), wb, 0, DESC_LEN);
            q.advance(RDH, RDLEN);
        }
        int rx = vectorOf(0);
        if (rx >= 0) {
            cause(1 << rx);
        }
        return true;
    }

    /** Whether a DMA of the last {@link #receive} was refused by the IOMMU. */
    public boolean lastReceiveFaulted() {
        return rxFaulted;
    }
}
