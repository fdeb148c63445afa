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
import java.util.function.Consumer;

/**
 * The data path of QEMU 7.2's e1000e (hw/net/e1000e_core.c, an Intel 82574L) that a driver, or
 * a qtest script acting as one, needs to move one frame: the MAC registers behind BAR0, one TX
 * and one RX descriptor ring of legacy descriptors, the interrupt causes (ICR/ICS/IMS/IMC, IAM,
 * EIAC, IVAR) and their delivery by MSI-X (five vectors), MSI or INTx. Offsets and bits are
 * those of QEMU's e1000_regs.h, which follows the 82574L datasheet:
 * <pre>
 *  0x00000 CTRL      0x00008 STATUS (LU, FD, speed computed on read)   0x00018 CTRL_EXT
 *  0x00020 MDIC      (PHY 1: PHY_CTRL with the loopback bit 14, PHY_STATUS, PHY_ID1/2)
 *  0x000c0 ICR (read: clears unless MSI-X is on and IMS is not 0)  0x000c8 ICS  0x000d0 IMS
 *  0x000d8 IMC       0x000dc EIAC  0x000e0 IAM  0x000e4 IVAR (4 bits per cause: 2:0 vector, 3 valid;
 *                    RXQ0 3:0, RXQ1 7:4, TXQ0 11:8, TXQ1 15:12, OTHER 19:16; bit 31 TX interrupt on
 *                    every write-back)
 *  0x00100 RCTL (EN 1, UPE 3, MPE 4, LBM 7:6 (01 MAC loopback), DTYP 11:10, BAM 15, BSIZE 17:16,
 *                BSEX 25, SECRC 26)                   0x00400 TCTL (EN 1)
 *  0x02800 RDBAL 0x02804 RDBAH 0x02808 RDLEN (bits 19:7) 0x02810 RDH 0x02818 RDT
 *  0x03800 TDBAL 0x03804 TDBAH 0x03808 TDLEN 0x03810 TDH 0x03818 TDT   0x03840 TARC0 (bit 10 enable)
 *  0x05000 RXCSUM 0x05008 RFCTL 0x05400 RAL0 0x05404 RAH0 (AV bit 31)
 * </pre>
 * Legacy TX descriptor: buffer address (8), length 15:0 | CSO | CMD 31:24 (EOP 0, IFCS 1, RS 3,
 * DEXT 5), then STA (DD bit 0) | CSS | special. A frame is the buffers of the descriptors up to
 * EOP, read by DMA; with RS the upper dword is written back with DD. A buffer the IOMMU refuses
 * is still sent, as zeros, when it lies in one page (QEMU maps it through its one bounce
 * buffer, which reads unassigned memory); a second such buffer, or one that crosses a page,
 * drops the frame. Legacy RX descriptor: buffer
 * address (8), length (2), checksum (2), status (DD 0, EOP 1), errors, special; the frame and
 * QEMU's four zero FCS bytes (unless SECRC) go to the buffer, then the descriptor is written
 * with DD clear and the status byte once more with DD ({@code e1000e_pci_dma_write_rx_desc}).
 *
 * <p>Where a transmitted frame goes: with MAC loopback (RCTL.LBM = 01) or PHY loopback
 * (PHY_CTRL bit 14) into this NIC's own receive path ({@code net_tx_pkt_send_loopback}); else
 * to the wire, a {@link #connectWire peer} (none: dropped, as a QEMU NIC without a netdev).
 * A frame arrives only while the link is up, RCTL.EN set, bus mastering on and the RX ring has
 * a free descriptor ({@code e1000e_can_receive}; else it is dropped), passes the filter
 * (UPE/MPE/BAM, or RAL/RAH exact match), and is written to as many descriptors as it needs.
 *
 * <p>Interrupts: with MSI-X a TX write-back raises TXQ0, a received frame RXQ0, and each cause
 * goes to the vector IVAR names ({@code e1000e_msix_notify}); without MSI-X they are TXDW and
 * RXT0, sent as the MSI message or as INTx while ICR &amp; IMS is not 0. Not modelled (README
 * deviations): the interrupt throttling and delay timers (ITR, EITR, RDTR, RADV, TIDV, TADV:
 * QEMU's fire on its virtual clock, here every interrupt is sent at once), context descriptors
 * and offloads (TSO, checksum insertion), extended and packet-split RX descriptors, RSS and the
 * second queue pair, VLAN filtering and stripping, the multicast table, statistics counters,
 * the EEPROM and flash; registers the model does not know read 0 and ignore writes.
 */
public final class E1000eCore {
    static final int CTRL = 0x00000;
    static final int CTRL_DUP = 0x00004;
    static final int STATUS = 0x00008;
    static final int CTRL_EXT = 0x00018;
    static final int MDIC = 0x00020;
    static final int ICR = 0x000c0;
    static final int ITR = 0x000c4;
    static final int ICS = 0x000c8;
    static final int IMS = 0x000d0;
    static final int IMC = 0x000d8;
    static final int EIAC = 0x000dc;
    static final int IAM = 0x000e0;
    static final int IVAR = 0x000e4;
    static final int EITR = 0x000e8;
    static final int RCTL = 0x00100;
    static final int TCTL = 0x00400;
    static final int RDBAL = 0x02800;
    static final int RDBAH = 0x02804;
    static final int RDLEN = 0x02808;
    static final int RDH = 0x02810;
    static final int RDT = 0x02818;
    static final int TDBAL = 0x03800;
    static final int TDBAH = 0x03804;
    static final int TDLEN = 0x03808;
    static final int TDH = 0x03810;
    static final int TDT = 0x03818;
    static final int TARC0 = 0x03840;
    static final int RXCSUM = 0x05000;
    static final int RFCTL = 0x05008;
    static final int RAL0 = 0x05400;
    static final int RA_ENTRIES = 16;

    static final int CTRL_RST = 1 << 26;
    static final int CTRL_GIO_MASTER_DISABLE = 1 << 2;
    static final int CTRL_FRCSPD = 1 << 11;
    static final int CTRL_FRCDPX = 1 << 12;
    static final int CTRL_FD = 1;
    static final int CTRL_PHY_RST = 1 << 31;
    static final int STATUS_FD = 1;
    static final int STATUS_LU = 1 << 1;
    static final int STATUS_SPEED_1000 = 1 << 7;
    static final int STATUS_ASDV_1000 = 1 << 9;
    static final int STATUS_PHYRA = 1 << 10;
    static final int STATUS_GIO_MASTER_ENABLE = 1 << 19;
    static final int CTRL_EXT_ASDCHK = 1 << 12;
    static final int CTRL_EXT_EE_RST = 1 << 13;
    static final int CTRL_EXT_SPD_BYPS = 1 << 15;
    static final int CTRL_EXT_EIAME = 1 << 24;
    static final int CTRL_EXT_IAME = 1 << 27;

    static final int ICR_TXDW = 0x1;
    static final int ICR_TXQE = 0x2;
    static final int ICR_LSC = 0x4;
    static final int ICR_RXDMT0 = 0x10;
    static final int ICR_RXO = 0x40;
    static final int ICR_RXT0 = 0x80;
    static final int ICR_MDAC = 0x200;
    static final int ICR_SRPD = 0x10000;
    static final int ICR_ACK = 0x20000;
    static final int ICR_MNG = 0x40000;
    static final int ICR_RXQ0 = 0x100000;
    static final int ICR_RXQ1 = 0x200000;
    static final int ICR_TXQ0 = 0x400000;
    static final int ICR_TXQ1 = 0x800000;
    static final int ICR_OTHER = 0x1000000;
    static final int ICR_ASSERTED = 0x80000000;
    static final int ICR_OTHER_CAUSES = ICR_LSC | ICR_RXO | ICR_MDAC | ICR_SRPD | ICR_ACK | ICR_MNG;
    /** e1000e_set_ims: the causes IMS can hold. */
    static final int IMS_VALID = ICR_TXDW | ICR_TXQE | ICR_LSC | ICR_RXDMT0 | ICR_RXO | ICR_RXT0 | ICR_MDAC
            | 0x8000 | ICR_SRPD | ICR_ACK | ICR_MNG | ICR_RXQ0 | ICR_RXQ1 | ICR_TXQ0 | ICR_TXQ1 | ICR_OTHER;
    static final int IVAR_VALID = 0x8;
    static final int IVAR_TX_INT_EVERY_WB = 1 << 31;

    static final int RCTL_EN = 1 << 1;
    static final int RCTL_UPE = 1 << 3;
    static final int RCTL_MPE = 1 << 4;
    static final int RCTL_LPE = 1 << 5;
    static final int RCTL_LBM_MAC = 1 << 6;
    static final int RCTL_LBM_MASK = 3 << 6;
    static final int RCTL_DTYP_MASK = 3 << 10;
    static final int RCTL_BAM = 1 << 15;
    static final int RCTL_SBP = 1 << 2;
    static final int RCTL_BSEX = 1 << 25;
    static final int RCTL_SECRC = 1 << 26;
    static final int RCTL_FLXBUF_MASK = 0x78000000;
    static final int RFCTL_EXTEN = 1 << 15;
    static final int TCTL_EN = 1 << 1;
    static final int TARC_ENABLE = 1 << 10;
    static final int RAH_AV = 1 << 31;
    static final int XDLEN_MASK = 0x000f_ff80;
    static final int XDBAL_MASK = ~0xf;

    static final int TXD_CMD_EOP = 1 << 24;
    static final int TXD_CMD_RS = 1 << 27;
    static final int TXD_CMD_DEXT = 1 << 29;
    static final int TXD_DTYP_D = 1 << 20;
    static final int TXD_STAT_DD = 1;
    static final int RXD_STAT_DD = 1;
    static final int RXD_STAT_EOP = 2;
    static final int DESC_LEN = QueueRegisters.DESC_LEN;
    static final int MAX_TX_FRAGS = 64;
    /** E1000E_MSIX_VEC_NUM: RXQ0, RXQ1, TXQ0, TXQ1, other. */
    public static final int MSIX_VECTORS = 5;
    static final int MIN_FRAME = 60;

    static final int MDIC_DATA_MASK = 0xffff;
    static final int MDIC_REG_SHIFT = 16;
    static final int MDIC_PHY_SHIFT = 21;
    static final int MDIC_OP_WRITE = 1 << 26;
    static final int MDIC_OP_READ = 1 << 27;
    static final int MDIC_READY = 1 << 28;
    static final int MDIC_INT_EN = 1 << 29;
    static final int MDIC_ERROR = 1 << 30;
    static final int PHY_CTRL = 0;
    static final int PHY_STATUS = 1;
    static final int PHY_ID1 = 2;
    static final int PHY_ID2 = 3;
    static final int PHY_CTRL_LOOPBACK = 1 << 14;
    static final int PHY_CTRL_RESET_BITS = 0x3f | 1 << 15 | 1 << 9; // reserved, RESET, RESTART_AUTO_NEG

    /** e1000e_mac_reg_init: the registers with a nonzero value after reset. */
    private static final int[][] RESET = {
        {0x01000, 0x00140014}, // PBA
        {0x00e00, 1 << 1 | 1 << 8 | 1 << 9 | 1 << 15 | 1 << 17 | 1 << 18}, // LEDCTL
        {0x02828, 1 << 16}, // RXDCTL
        {0x00410, 0x8 | 0x8 << 10 | 0x6 << 20}, // TIPG
        {CTRL, CTRL_FD | 1 << 20 | 1 << 18 | 1 << 9 | 1 << 6}, // FD, SWDPIN2/ADVD3WUC, SWDPIN0, SPD_1000, SLU
        {STATUS, STATUS_ASDV_1000 | STATUS_LU},
        {TARC0, 0x3 | TARC_ENABLE},
        {0x03940, 0x3 | TARC_ENABLE}, // TARC1
        {RXCSUM, 0x100 | 0x200}, // IPOFLD, TUOFLD
        {ITR, 500},
    };
    /** Registers that store what is written (e1000e_mac_writereg) and read it back. */
    private static final int[] PLAIN = {IAM, EIAC, RDBAH, TDBAH, TARC0, 0x03940, RXCSUM, 0x00410, 0x01000,
        0x05818 /* MRQC */, 0x00e00};

    /** The PHY registers QEMU's e1000e_phy_reg_init sets on page 0 (the ones modelled). */
    private static final int PHY_CTRL_RESET = 1 << 6 | 1 << 8 | 1 << 12; // SPEED_MSB, FULL_DUPLEX, AUTO_NEG_EN

    /**
     * BAR1, the flash window: QEMU 7.2 gives it no operations ({@code memory_region_init_io} with
     * NULL ops: reads 0, writes dropped), which a host's VFIO can still mmap.
     */
    static final Mmio FLASH = new Mmio() {
        @Override
        public long load(long offset, int size) {
            return 0;
        }

        @Override
        public void store(long offset, long value, int size) {
        }
    };

    private final PciFunction function;
    private final byte[] permanentMac;
    private final QueueRegisters q = new QueueRegisters(0x20000);
    private final int[] phy = new int[32];
    private final List<byte[]> txFragments = new ArrayList<>();
    private int txLength;
    private boolean txSkip;
    private boolean txBounced;
    /** The ITR and EITR(0..4) intervals as the guest wrote them (QEMU's itr/eitr_guest_value). */
    private final int[] itrGuest = new int[1 + MSIX_VECTORS];
    private int msiCausesPending;
    private boolean receiveDisabled;
    private boolean rxFaulted;
    private Consumer<byte[]> wire;
    private int rxDescBufSize = 2048;
    private int rxbufMinShift = 1 + 4;

    /** @param mac the permanent MAC (the NIC's {@code mac} property) */
    public E1000eCore(PciFunction function, byte[] mac) {
        this.function = function;
        this.permanentMac = mac.clone();
        reset();
    }

    /** e1000e_core_reset: registers and PHY to their reset values, the MAC from the permanent address. */
    void reset() {
        q.clear();
        java.util.Arrays.fill(phy, 0);
        for (int[] r : RESET) {
            q.set(r[0], r[1]);
        }
        phy[PHY_CTRL] = PHY_CTRL_RESET;
        phy[PHY_STATUS] = phyStatusReset();
        phy[PHY_ID1] = 0x141;
        phy[PHY_ID2] = 0xcb1; // E1000_PHY_ID2_82574x
        rxbufMinShift = 1 + 4;
        resetMacAddress();
        txFragments.clear();
        txLength = 0;
        txSkip = false;
        txBounced = false;
        java.util.Arrays.fill(itrGuest, 0);
        msiCausesPending = 0;
        receiveDisabled = false;
    }

    /** MII_SR_EXTENDED_CAPS | LINK_STATUS | AUTONEG_CAPS | PREAMBLE_SUPPRESS | EXTENDED_STATUS | 10/100 caps. */
    private static int phyStatusReset() {
        return 0x0001 | 0x0004 | 0x0008 | 0x0040 | 0x0100 | 0x0800 | 0x1000 | 0x2000 | 0x4000;
    }

    /** e1000x_reset_mac_addr: RAL0/RAH0 from the permanent MAC, address valid. */
    private void resetMacAddress() {
        int lo = 0;
        int hi = RAH_AV;
        for (int i = 0; i < 4; i++) {
            lo |= (permanentMac[i] & 0xff) << (8 * i);
        }
        for (int i = 0; i < 2; i++) {
            hi |= (permanentMac[4 + i] & 0xff) << (8 * i);
        }
        q.set(RAL0, lo);
        q.set(RAL0 + 4, hi);
    }

    /** Sends transmitted frames (without loopback) to {@code peer}; null: dropped. */
    public void connectWire(Consumer<byte[]> peer) {
        this.wire = peer;
    }

    private int reg(int off) {
        return q.get(off);
    }

    private void set(int off, int v) {
        q.set(off, v);
    }

    // ---------------------------------------------------------------- BAR0

    /** BAR0: the MAC registers (e1000e_core_read / e1000e_core_write, 4-byte registers). */
    Mmio bar0() {
        return q.bar(this::read, (v, off) -> write(off, v));
    }

    /** One register read with QEMU's read side effects. */
    int read(int off) {
        if (off >= RAL0 && off < RAL0 + 8 * RA_ENTRIES) {
            return reg(off);
        }
        if (off >= EITR && off < EITR + 4 * MSIX_VECTORS) {
            return itrGuest[1 + (off - EITR) / 4]; // eitr_guest_value
        }
        return switch (off) {
            case CTRL, CTRL_DUP, CTRL_EXT, MDIC, IMS, IVAR, RCTL, TCTL, RDBAL, RDLEN, RDH, RDT, TDBAL, TDLEN,
                 TDH, TDT, RFCTL -> reg(off);
            case STATUS -> status();
            case ICR -> readIcr();
            case ICS -> reg(ICS);
            case ITR -> itrGuest[0]; // itr_guest_value: what the guest wrote (0 after reset)
            case TARC0, 0x03940 -> reg(off) & ((1 << 11) - 1 | 0xf << 27);
            default -> isPlain(off) ? reg(off) : 0;
        };
    }

    private static boolean isPlain(int off) {
        for (int p : PLAIN) {
            if (p == off) {
                return true;
            }
        }
        return false;
    }

    /** One register write with QEMU's write side effects. */
    void write(int off, int v) {
        if (off >= RAL0 && off < RAL0 + 8 * RA_ENTRIES) {
            set(off, v);
            return;
        }
        if (off >= EITR && off < EITR + 4 * MSIX_VECTORS) {
            itrGuest[1 + (off - EITR) / 4] = v & 0xffff;
            return;
        }
        switch (off) {
            case CTRL, CTRL_DUP -> writeCtrl(v);
            case STATUS -> {
                if ((v & STATUS_PHYRA) == 0) {
                    set(STATUS, reg(STATUS) & ~STATUS_PHYRA);
                }
            }
            case CTRL_EXT -> set(CTRL_EXT, v & ~(CTRL_EXT_ASDCHK | CTRL_EXT_EE_RST));
            case MDIC -> writeMdic(v);
            case ICR -> writeIcr(v);
            case ICS -> setInterruptCause(v);
            case IMS -> writeIms(v);
            case IMC -> {
                set(IMS, reg(IMS) & ~v);
                updateInterruptState();
            }
            case IVAR, RFCTL -> set(off, v);
            case RCTL -> writeRctl(v);
            case TCTL -> {
                set(TCTL, v);
                if ((reg(TARC0) & TARC_ENABLE) != 0) {
                    startXmit();
                }
                if ((reg(0x03940) & TARC_ENABLE) != 0 && (v & TCTL_EN) != 0) {
                    setInterruptCause(ICR_TXQE); // the second ring, always empty here: e1000e_start_xmit of ring 1
                }
            }
            case RDBAL, TDBAL -> set(off, v & XDBAL_MASK);
            case RDLEN, TDLEN -> set(off, v & XDLEN_MASK);
            case RDH, TDH -> set(off, v & 0xffff);
            case RDT -> {
                set(RDT, v & 0xffff);
                receiveDisabled = false; // e1000e_start_recv: qemu_flush_queued_packets
            }
            case TDT -> {
                set(TDT, v & 0xffff);
                if ((reg(TARC0) & TARC_ENABLE) != 0) {
                    startXmit();
                }
            }
            case ITR -> {
                itrGuest[0] = v & 0xffff; // the interval as written; the throttling itself is not modelled
                set(ITR, Math.max(v & 0xffff, 500));
            }
            default -> {
                if (isPlain(off)) {
                    set(off, v);
                }
            }
        }
    }

    /** e1000e_get_status: LU from the register, FD, speed and GIO master computed. */
    private int status() {
        int ctrl = reg(CTRL);
        int res = reg(STATUS);
        if ((ctrl & CTRL_GIO_MASTER_DISABLE) == 0) {
            res |= STATUS_GIO_MASTER_ENABLE;
        }
        if ((ctrl & CTRL_FRCDPX) != 0) {
            res |= (ctrl & CTRL_FD) != 0 ? STATUS_FD : 0;
        } else {
            res |= STATUS_FD;
        }
        if ((ctrl & CTRL_FRCSPD) != 0 || (reg(CTRL_EXT) & CTRL_EXT_SPD_BYPS) != 0) {
            res |= switch (ctrl & 0x300) {
                case 0x000 -> 0;
                case 0x100 -> 1 << 6;
                default -> STATUS_SPEED_1000;
            };
        } else {
            res |= STATUS_SPEED_1000;
        }
        return res;
    }

    private void writeCtrl(int v) {
        set(CTRL, v & ~CTRL_RST);
        set(CTRL_DUP, reg(CTRL));
        if ((v & CTRL_RST) != 0) {
            resetMacAddress();
        }
        if ((v & CTRL_PHY_RST) != 0) {
            set(STATUS, reg(STATUS) | STATUS_PHYRA);
        }
    }

    /** e1000e_set_mdic: PHY 1 only; the modelled PHY registers, others answer with the error bit. */
    private void writeMdic(int v) {
        int data = v & MDIC_DATA_MASK;
        int addr = (v >>> MDIC_REG_SHIFT) & 0x1f;
        int out = v;
        if (((v >>> MDIC_PHY_SHIFT) & 0x1f) != 1) {
            out = reg(MDIC) | MDIC_ERROR;
        } else if ((v & MDIC_OP_READ) != 0) {
            out = addr <= PHY_ID2 ? (v ^ data) | phy[addr] : v | MDIC_ERROR;
        } else if ((v & MDIC_OP_WRITE) != 0) {
            if (addr == PHY_CTRL) {
                phy[PHY_CTRL] = data & ~PHY_CTRL_RESET_BITS;
            } else {
                out = v | MDIC_ERROR;
            }
        }
        set(MDIC, out | MDIC_READY);
        if ((out & MDIC_INT_EN) != 0) {
            setInterruptCause(ICR_MDAC);
        }
    }

    /** e1000e_set_rx_control: the buffer size and descriptor length are taken when EN is set. */
    private void writeRctl(int v) {
        set(RCTL, v);
        if ((v & RCTL_EN) != 0) {
            rxDescBufSize = rxBufSize(v);
            rxbufMinShift = ((v >>> 8) & 3) + 1 + 4;
            receiveDisabled = false;
        }
    }

    /** e1000x_rxbufsize (legacy descriptors; FLXBUF when set). */
    static int rxBufSize(int rctl) {
        if ((rctl & RCTL_FLXBUF_MASK) != 0 && (rctl & RCTL_DTYP_MASK) == 0) {
            return ((rctl & RCTL_FLXBUF_MASK) >>> 27) * 1024;
        }
        int sz = rctl & (RCTL_BSEX | 3 << 16);
        return switch (sz) {
            case RCTL_BSEX | 1 << 16 -> 16384;
            case RCTL_BSEX | 2 << 16 -> 8192;
            case RCTL_BSEX | 3 << 16 -> 4096;
            case 1 << 16 -> 1024;
            case 2 << 16 -> 512;
            case 3 << 16 -> 256;
            default -> 2048;
        };
    }

    // ---------------------------------------------------------------- interrupts

    private boolean msixEnabled() {
        MsixTable t = function.msix();
        return t != null && t.enabled();
    }

    /** e1000e_mac_icr_read. */
    private int readIcr() {
        int ret = reg(ICR);
        if (reg(IMS) == 0 || !msixEnabled()) {
            set(ICR, 0);
        }
        if ((reg(ICR) & ICR_ASSERTED) != 0 && (reg(CTRL_EXT) & CTRL_EXT_IAME) != 0) {
            set(ICR, 0);
            set(IMS, reg(IMS) & ~reg(IAM));
        }
        updateInterruptState();
        return ret;
    }

    /** e1000e_set_icr: write 1 to clear; clearing OTHER clears the other causes too. */
    private void writeIcr(int v) {
        if ((reg(ICR) & ICR_ASSERTED) != 0 && (reg(CTRL_EXT) & CTRL_EXT_IAME) != 0) {
            set(IMS, reg(IMS) & ~reg(IAM));
        }
        int icr = reg(ICR) & ~v;
        if ((v & ICR_OTHER) != 0) {
            icr &= ~ICR_OTHER_CAUSES;
        }
        set(ICR, icr);
        updateInterruptState();
    }

    /** e1000e_set_ims. */
    private void writeIms(int v) {
        int valid = v & IMS_VALID;
        set(IMS, reg(IMS) | valid);
        updateInterruptState();
    }

    /** e1000e_set_interrupt_cause. */
    void setInterruptCause(int causes) {
        set(ICR, reg(ICR) | causes);
        updateInterruptState();
    }

    /** e1000e_update_interrupt_state. */
    private void updateInterruptState() {
        boolean msix = msixEnabled();
        if (msix && (reg(ICR) & ICR_OTHER_CAUSES) != 0) {
            set(ICR, reg(ICR) | ICR_OTHER);
        }
        int icr = reg(ICR) & ~ICR_ASSERTED;
        set(ICR, icr == 0 ? 0 : icr | ICR_ASSERTED);
        set(ICS, reg(ICR));
        boolean pending = (reg(IMS) & reg(ICR)) != 0;
        if (!pending) {
            msiCausesPending = 0;
        }
        if (msix || function.msiEnabled()) {
            if (pending) {
                sendMsi(msix);
            }
        } else {
            function.setIntx(pending);
        }
    }

    /** e1000e_send_msi: only causes not already signalled. */
    private void sendMsi(boolean msix) {
        int causes = reg(ICR) & reg(IMS) & ~ICR_ASSERTED;
        msiCausesPending &= causes;
        causes ^= msiCausesPending;
        if (causes == 0) {
            return;
        }
        msiCausesPending |= causes;
        if (msix) {
            int ivar = reg(IVAR);
            int[][] map = {{ICR_RXQ0, 0}, {ICR_RXQ1, 4}, {ICR_TXQ0, 8}, {ICR_TXQ1, 12}, {ICR_OTHER, 16}};
            for (int[] m : map) {
                if ((causes & m[0]) != 0) {
                    msixNotifyOne(m[0], ivar >>> m[1]);
                }
            }
        } else {
            function.msiNotify();
        }
    }

    /** e1000e_msix_notify_one: the vector IVAR names, then EIAC's auto-clear. */
    private void msixNotifyOne(int cause, int cfg) {
        if ((cfg & IVAR_VALID) != 0 && (cfg & 7) < MSIX_VECTORS) {
            function.msix().notify(cfg & 7);
        }
        if ((reg(CTRL_EXT) & CTRL_EXT_EIAME) != 0) {
            set(IAM, reg(IAM) & ~cause);
        }
        int clear = reg(EIAC) & cause;
        set(ICR, reg(ICR) & ~clear);
        msiCausesPending &= ~clear;
        if ((reg(CTRL_EXT) & CTRL_EXT_IAME) == 0) {
            set(IMS, reg(IMS) & ~clear);
        }
    }

    // ---------------------------------------------------------------- transmit

    /** e1000e_start_xmit of ring 0: every descriptor between TDH and TDT. */
    private void startXmit() {
        if ((reg(TCTL) & TCTL_EN) == 0) {
            return;
        }
        int cause = ICR_TXQE;
        DmaPort port = function.dma();
        while (!q.empty(TDH, TDT, TDLEN)) {
            long base = q.head(TDBAL, TDBAH, TDH);
            byte[] d = new byte[DESC_LEN];
            if (port != null) {
                port.read(new Iova(base), d, 0, DESC_LEN); // pci_dma_read: a fault reads zeros
            }
            processTxDesc(d);
            int lower = QueueRegisters.le32(d, 8);
            if ((lower & TXD_CMD_RS) != 0 || (reg(IVAR) & IVAR_TX_INT_EVERY_WB) != 0) {
                int upper = QueueRegisters.le32(d, 12) | TXD_STAT_DD;
                byte[] wb = new byte[4];
                QueueRegisters.put32(wb, 0, upper);
                if (port != null) {
                    port.write(new Iova(base + 12), wb, 0, 4);
                }
                cause |= msixEnabled() ? ICR_TXQ0 : ICR_TXDW;
            }
            q.advance(TDH, TDLEN);
        }
        setInterruptCause(cause);
    }

    /** e1000e_process_tx_desc for legacy and data descriptors (context descriptors carry offloads: ignored). */
    private void processTxDesc(byte[] d) {
        int lower = QueueRegisters.le32(d, 8);
        int dtype = lower & (TXD_CMD_DEXT | TXD_DTYP_D);
        if (dtype == TXD_CMD_DEXT) {
            return;
        }
        long addr = QueueRegisters.le64(d, 0);
        int len = lower & 0xffff;
        if (!txSkip && len > 0) {
            if (txFragments.size() >= MAX_TX_FRAGS) {
                txSkip = true;
            } else {
                byte[] buf = new byte[len];
                DmaPort.Outcome o = function.dma() == null ? null : function.dma().read(new Iova(addr), buf, 0, len);
                boolean onePage = (addr & 0xfff) + len <= 0x1000;
                if (o != null && o.fault() != null && onePage && !txBounced) {
                    // pci_dma_map of an address the IOMMU refuses: address_space_map's bounce buffer,
                    // filled by a read of unassigned memory (zeros, as DmaPort gives for a faulted
                    // page); one bounce buffer at a time (checked with QEMU 7.2: e1000e-txfault)
                    txBounced = true;
                    txFragments.add(buf);
                    txLength += len;
                } else if (o == null || !o.ok()) {
                    txSkip = true; // net_tx_pkt_add_raw_fragment: the buffer could not be mapped
                } else {
                    txFragments.add(buf);
                    txLength += len;
                }
            }
        }
        if ((lower & TXD_CMD_EOP) != 0) {
            if (!txSkip && txLength >= 14) { // net_tx_pkt_parse: an Ethernet header at least
                ByteArrayOutputStream frame = new ByteArrayOutputStream(txLength);
                for (byte[] f : txFragments) {
                    frame.writeBytes(f);
                }
                send(frame.toByteArray());
            }
            txFragments.clear();
            txLength = 0;
            txSkip = false;
            txBounced = false; // net_tx_pkt_reset unmaps the fragments
        }
    }

    /** e1000e_tx_pkt_send: loopback into our own receive path, or out to the wire. */
    private void send(byte[] frame) {
        boolean loopback = (phy[PHY_CTRL] & PHY_CTRL_LOOPBACK) != 0 || (reg(RCTL) & RCTL_LBM_MASK) == RCTL_LBM_MAC;
        if (loopback) {
            if (canReceive()) { // qemu_receive_packet_iov: nothing is queued for later
                receiveFrame(frame);
            }
        } else if (wire != null) {
            wire.accept(frame.clone());
        }
    }

    // ---------------------------------------------------------------- receive

    /** A frame from the wire (a peer's transmit): delivered when the NIC can take it, else dropped. */
    public boolean receive(byte[] frame) {
        rxFaulted = false;
        if (!canReceive()) {
            return false;
        }
        return receiveFrame(frame.clone());
    }

    /** Whether a DMA of the last {@link #receive} was refused (the IOMMU faulted it; QEMU completes it all the same). */
    public boolean lastReceiveFaulted() {
        return rxFaulted;
    }

    /** e1000e_can_receive (and the net layer's receive_disabled after an overrun). */
    private boolean canReceive() {
        boolean up = (reg(STATUS) & STATUS_LU) != 0 && (reg(RCTL) & RCTL_EN) != 0
                && (function.command() & PciRegs.COMMAND_MASTER) != 0;
        return up && !receiveDisabled && reg(RDLEN) > 0 && freeDescriptors() >= 1;
    }

    private int freeDescriptors() {
        int dh = reg(RDH);
        int dt = reg(RDT);
        return dh <= dt ? dt - dh : reg(RDLEN) / DESC_LEN + dt - dh;
    }

    private boolean useLegacy() {
        return (reg(RFCTL) & RFCTL_EXTEN) == 0;
    }

    /** e1000e_receive_iov: pad, filter, write to the ring, raise the cause. */
    private boolean receiveFrame(byte[] in) {
        if ((reg(STATUS) & STATUS_LU) == 0 || (reg(RCTL) & RCTL_EN) == 0) {
            return false;
        }
        byte[] frame = in;
        if (frame.length < MIN_FRAME) {
            frame = java.util.Arrays.copyOf(in, MIN_FRAME);
        }
        int rctl = reg(RCTL);
        boolean oversized = (frame.length > 16384 || frame.length > 1522 && (rctl & RCTL_LPE) == 0)
                && (rctl & RCTL_SBP) == 0;
        if (oversized || !accepted(frame)) {
            return true;
        }
        if (!useLegacy()) {
            return true; // extended and packet-split descriptors are not modelled: README deviations
        }
        int fcs = (rctl & RCTL_SECRC) != 0 ? 0 : 4;
        int total = frame.length + fcs;
        int n;
        boolean taken;
        if (total <= freeDescriptors() * rxDescBufSize) {
            writeToRing(frame, total, checksumStatus(frame));
            int causes = 0;
            boolean threshold = freeDescriptors() == reg(RDLEN) >>> rxbufMinShift;
            causes |= msixEnabled() ? ICR_RXQ0 : ICR_RXT0 | (threshold ? ICR_RXDMT0 : 0);
            n = causes;
            taken = true;
        } else {
            n = ICR_RXO;
            receiveDisabled = true; // the net layer stops delivering until RDT or RCTL is written
            taken = false;
        }
        setInterruptCause(n);
        return taken;
    }

    static final int RXCSUM_IPOFLD = 0x100;
    static final int RXCSUM_TUOFLD = 0x200;
    static final int RXD_STAT_UDPCS = 0x10;
    static final int RXD_STAT_TCPCS = 0x20;
    static final int RXD_STAT_IPCS = 0x40;
    static final int RXD_ERR_TCPE = 0x20;
    static final int RXD_ERR_IPE = 0x40;

    /**
     * e1000e_verify_csum_in_sw for an IPv4 frame without a VLAN tag (what a legacy descriptor
     * shows; QEMU's backends here give no virtio header): with RXCSUM.IPOFLD the IP header
     * checksum is checked (IPCS, and IPE when wrong); with TUOFLD a TCP or UDP checksum (TCPCS,
     * UDPCS for UDP, TCPE when wrong) unless the datagram is a fragment or a UDP checksum is 0.
     * Returns status bits | error bits &lt;&lt; 8. IPv6 is not checked here (README deviations).
     */
    int checksumStatus(byte[] f) {
        if (f.length < 14 + 20 || (f[12] & 0xff) != 0x08 || f[13] != 0x00) {
            return 0;
        }
        int l3 = 14;
        int ihl = (f[l3] & 0xf) * 4;
        boolean v4 = ((f[l3] >>> 4) & 0xf) == 4;
        int proto = f[l3 + 9] & 0xff;
        boolean tcp = v4 && proto == 6;
        boolean udp = v4 && proto == 17;
        boolean fragment = (be16(f, l3 + 6) & 0x3fff) != 0;
        int l4 = l3 + ihl;
        int res = 0;
        if ((reg(RXCSUM) & RXCSUM_IPOFLD) != 0) {
            boolean ok = fold(sum(f, l3, ihl, 0)) == 0xffff;
            res |= RXD_STAT_IPCS | (ok ? 0 : RXD_ERR_IPE << 8);
        }
        if ((reg(RXCSUM) & RXCSUM_TUOFLD) == 0 || fragment) {
            return res;
        }
        if (tcp && f.length < l4 + 20 || udp && f.length < l4 + 8 || !tcp && !udp) {
            return res; // eth_get_protocols: no transport header to read
        }
        if (udp && be16(f, l4 + 6) == 0) {
            return res; // no UDP checksum
        }
        int csl = udp ? be16(f, l4 + 4) : be16(f, l3 + 2) - ihl;
        long pseudo = sum(f, l3 + 12, 8, 0) + proto + csl;
        int folded = fold(sum(f, l4, Math.max(0, Math.min(csl, f.length - l4)), pseudo));
        boolean ok = folded == 0xffff || folded == 0; // net_checksum_finish_nozero gives 0 or 0xffff when right
        res |= RXD_STAT_TCPCS | (udp ? RXD_STAT_UDPCS : 0) | (ok ? 0 : RXD_ERR_TCPE << 8);
        return res;
    }

    private static int be16(byte[] b, int off) {
        return (b[off] & 0xff) << 8 | (b[off + 1] & 0xff);
    }

    /** The ones' complement sum of {@code len} bytes as 16-bit big-endian words (an odd last byte padded). */
    private static long sum(byte[] b, int off, int len, long acc) {
        for (int i = 0; i < len; i += 2) {
            acc += (b[off + i] & 0xff) << 8 | (i + 1 < len ? b[off + i + 1] & 0xff : 0);
        }
        return acc;
    }

    private static int fold(long s) {
        while ((s >>> 16) != 0) {
            s = (s & 0xffff) + (s >>> 16);
        }
        return (int) s;
    }

    /** e1000e_receive_filter (no VLAN filter, no multicast table): promiscuous bits, then RAL/RAH. */
    private boolean accepted(byte[] f) {
        int rctl = reg(RCTL);
        boolean bcast = true;
        for (int i = 0; i < 6; i++) {
            bcast &= (f[i] & 0xff) == 0xff;
        }
        if (bcast) {
            if ((rctl & RCTL_BAM) != 0) {
                return true;
            }
        } else if ((f[0] & 1) != 0) {
            if ((rctl & RCTL_MPE) != 0) {
                return true;
            }
        } else if ((rctl & RCTL_UPE) != 0) {
            return true;
        }
        for (int e = 0; e < RA_ENTRIES; e++) {
            int lo = reg(RAL0 + 8 * e);
            int hi = reg(RAL0 + 8 * e + 4);
            if ((hi & RAH_AV) == 0) {
                continue;
            }
            boolean match = true;
            for (int i = 0; i < 6; i++) {
                int b = i < 4 ? lo >>> (8 * i) : hi >>> (8 * (i - 4));
                match &= (f[i] & 0xff) == (b & 0xff);
            }
            if (match) {
                return true;
            }
        }
        return false;
    }

    /**
     * e1000e_write_packet_to_guest with legacy descriptors. As in QEMU 7.2 the four FCS bytes go
     * to a descriptor only when that descriptor starts at or past the end of the frame's data:
     * a frame that fits one buffer still takes a second descriptor for them (checked with 7.2:
     * a 60-byte frame is written as 60 bytes with DD, then 4 bytes with DD|EOP), and when the
     * ring runs out in between, the frame ends there without EOP.
     */
    private void writeToRing(byte[] frame, int total, int checksum) {
        DmaPort port = function.dma();
        int size = frame.length;
        int offset = 0;
        do {
            if (q.empty(RDH, RDT, RDLEN)) {
                return;
            }
            long base = q.head(RDBAL, RDBAH, RDH);
            byte[] d = new byte[DESC_LEN];
            port.read(new Iova(base), d, 0, DESC_LEN);
            long buffer = QueueRegisters.le64(d, 0);
            int written = 0;
            boolean last = false;
            if (buffer != 0) { // a null buffer address: the descriptor is skipped (written back empty)
                int room = rxDescBufSize;
                if (offset < size) {
                    int copy = Math.min(size - offset, room);
                    rxFaulted |= !port.write(new Iova(buffer), frame, offset, copy).ok();
                    written += copy;
                    room -= copy;
                }
                if (room > 0 && offset >= size && offset < total) {
                    int pad = Math.min(room, total - offset);
                    port.write(new Iova(buffer + written), new byte[pad], 0, pad); // QEMU writes zeros, not a CRC
                    written += pad;
                }
                offset += written;
                last = offset >= total;
            }
            d[8] = (byte) written;
            d[9] = (byte) (written >>> 8);
            d[10] = 0; // csum
            d[11] = 0;
            int status = RXD_STAT_DD | (last ? RXD_STAT_EOP | checksum & 0xff : 0);
            d[12] = 0;
            d[13] = (byte) (last ? checksum >>> 8 : 0); // errors
            port.write(new Iova(base), d, 0, DESC_LEN);
            d[12] = (byte) status;
            port.write(new Iova(base + 12), d, 12, 1);
            q.advance(RDH, RDLEN);
        } while (offset < total);
    }
}
