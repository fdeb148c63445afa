package io.viommu.machine.device;

import io.viommu.memory.Iova;
import io.viommu.memory.Mmio;
import io.viommu.pci.DmaPort;
import io.viommu.pci.MsixTable;
import io.viommu.pci.PciFunction;
import java.nio.charset.StandardCharsets;

/**
 * The admin path of QEMU 7.2's nvme controller (hw/nvme/ctrl.c), enough for a driver — or a
 * qtest script acting as one — to enable the controller and have it DMA and interrupt:
 * the controller registers at BAR0 (CAP, VS, INTMS/INTMC, CC, CSTS, AQA, ASQ, ACQ), the
 * admin queue doorbells at 0x1000 (SQ 0 tail, CQ 0 head; doorbell stride 0), and two admin
 * commands: Identify Controller (CNS 1: 4 KiB to PRP1/PRP2) and Get Features Number of
 * Queues. Any other opcode completes with Invalid Command Opcode, any other CNS or feature with
 * Invalid Field in Command (QEMU implements them; the model does not: README deviations).
 *
 * <p>Commands run when the SQ tail doorbell is written (QEMU fetches them in a bottom half
 * and posts completions in another; both run before the VM's next qtest command is read):
 * every entry between head and tail is fetched by DMA and executed, then the completions are
 * posted (CQE: result, SQ head, SQ id, CID, status and phase) and the admin CQ's interrupt
 * raised: MSI-X vector 0 when MSI-X is enabled ({@code nvme_irq_assert}), else the INTx pin
 * while any CQ has entries and INTMS does not mask it. A CQE the controller cannot write,
 * or an SQE it cannot read, sets CSTS.CFS ({@code nvme_post_cqes}, {@code nvme_process_sq});
 * a data transfer through an IOMMU that refuses it still completes successfully
 * ({@code dma_buf_rw} counts no residual), as QEMU 7.2's does.
 */
public final class NvmeController {
    /** QEMU_VERSION of Debian 12's qemu-system-x86 (1:7.2+dfsg-7+deb12u18): Identify's firmware revision. */
    static final String FIRMWARE_REVISION = "7.2.22";
    static final int SPEC_VERSION = 0x0001_0400;
    static final int DOORBELLS = 0x1000;

    static final int REG_CAP = 0x00;
    static final int REG_VS = 0x08;
    static final int REG_INTMS = 0x0c;
    static final int REG_INTMC = 0x10;
    static final int REG_CC = 0x14;
    static final int REG_CSTS = 0x1c;
    static final int REG_AQA = 0x24;
    static final int REG_ASQ = 0x28;
    static final int REG_ACQ = 0x30;

    static final int CC_EN = 1;
    static final int CSTS_RDY = 1;
    static final int CSTS_CFS = 1 << 1;
    static final int CSTS_SHST_COMPLETE = 2 << 2;

    static final int OPC_IDENTIFY = 0x06;
    static final int OPC_GET_FEATURES = 0x0a;
    static final int CNS_CTRL = 0x01;
    static final int FID_NUMBER_OF_QUEUES = 0x07;

    static final int SUCCESS = 0x0000;
    static final int INVALID_OPCODE = 0x0001;
    static final int INVALID_FIELD = 0x0002;
    static final int DNR = 0x4000;

    /** One queue of the admin pair (QEMU's NvmeSQueue / NvmeCQueue, only what qid 0 needs). */
    private static final class Queue {
        long dma;
        int size;
        int head;
        int tail;
        int phase = 1;
    }

    private final PciFunction function;
    private final String serial;
    private final int ioQueuePairs;
    private final int mdts;
    private final byte[] regs = new byte[DOORBELLS];
    private Queue sq;
    private Queue cq;
    private int pageSize = 4096;
    private int irqStatus;

    NvmeController(PciFunction function, String serial, int ioQueuePairs, int mdts) {
        this.function = function;
        this.serial = serial;
        this.ioQueuePairs = ioQueuePairs;
        this.mdts = mdts;
        long cap = 0x7ffL // MQES
                | 1L << 16 // CQR
                | 0xfL << 24 // TO
                | (1L | 1L << 6 | 1L << 7) << 37 // CSS: NVM, CSI_SUPP, ADMIN_ONLY
                | 4L << 52; // MPSMAX
        put(REG_CAP, cap, 8);
        put(REG_VS, SPEC_VERSION, 4);
    }

    private long get(int off, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (regs[off + i] & 0xffL) << (8 * i);
        }
        return v;
    }

    private void put(int off, long v, int size) {
        for (int i = 0; i < size; i++) {
            regs[off + i] = (byte) (v >>> (8 * i));
        }
    }

    /** BAR0 below the MSI-X table and PBA (which {@link MsixTable#overlay} decodes first). */
    Mmio bar0() {
        return new Mmio() {
            @Override
            public long load(long offset, int size) {
                if (offset < 0 || offset + size > DOORBELLS) {
                    return 0; // nvme_mmio_read: past the registers (the doorbells) reads 0
                }
                return get((int) offset, size);
            }

            @Override
            public void store(long offset, long value, int size) {
                if ((offset & (size - 1)) != 0) {
                    return; // pci_nvme_ub_mmiowr_misaligned32
                }
                if (offset >= DOORBELLS) {
                    doorbell(offset - DOORBELLS, value);
                } else if (size == 8) {
                    writeRegister((int) offset, value & 0xffff_ffffL);
                    writeRegister((int) offset + 4, value >>> 32);
                } else if (size == 4) {
                    writeRegister((int) offset, value);
                }
            }
        };
    }

    /** nvme_write_bar, one DWORD. */
    private void writeRegister(int off, long value) {
        switch (off) {
            case REG_INTMS -> {
                if (!msixEnabled()) {
                    put(REG_INTMS, get(REG_INTMS, 4) | value, 4);
                    put(REG_INTMC, get(REG_INTMS, 4), 4);
                    irqCheck();
                }
            }
            case REG_INTMC -> {
                if (!msixEnabled()) {
                    put(REG_INTMS, get(REG_INTMS, 4) & ~value, 4);
                    put(REG_INTMC, get(REG_INTMS, 4), 4);
                    irqCheck();
                }
            }
            case REG_CC -> writeCc((int) value);
            case REG_AQA, REG_ASQ, REG_ASQ + 4, REG_ACQ, REG_ACQ + 4 -> put(off, value, 4);
            default -> {
                // read-only or reserved registers: nvme_write_bar traces and ignores
            }
        }
    }

    private void writeCc(int value) {
        int cc = (int) get(REG_CC, 4);
        put(REG_CC, value, 4);
        if ((value & CC_EN) != 0 && (cc & CC_EN) == 0) {
            if (startController()) {
                put(REG_CSTS, CSTS_RDY, 4);
            } else {
                put(REG_CSTS, CSTS_CFS, 4); // pci_nvme_err_startfail
            }
        } else if ((value & CC_EN) == 0 && (cc & CC_EN) != 0) {
            resetController();
            put(REG_CSTS, get(REG_CSTS, 4) & ~CSTS_RDY, 4);
        }
        int shn = (value >>> 14) & 3;
        if (shn != 0 && ((cc >>> 14) & 3) == 0) {
            resetController();
            put(REG_CSTS, get(REG_CSTS, 4) | CSTS_SHST_COMPLETE, 4);
        } else if (shn == 0 && ((cc >>> 14) & 3) != 0) {
            put(REG_CSTS, get(REG_CSTS, 4) & ~CSTS_SHST_COMPLETE, 4);
        }
    }

    /** nvme_start_ctrl: page size, entry sizes, aligned queues of nonzero size. */
    private boolean startController() {
        int cc = (int) get(REG_CC, 4);
        int aqa = (int) get(REG_AQA, 4);
        long asq = get(REG_ASQ, 8);
        long acq = get(REG_ACQ, 8);
        int mps = (cc >>> 7) & 0xf;
        int page = 1 << (mps + 12);
        int css = (cc >>> 4) & 7;
        int iosqes = (cc >>> 16) & 0xf;
        int iocqes = (cc >>> 20) & 0xf;
        if (sq != null || (asq & (page - 1)) != 0 || (acq & (page - 1)) != 0 || css != 0 || mps > 4
                || iocqes != 4 || iosqes != 6 || (aqa & 0xfff) == 0 || ((aqa >>> 16) & 0xfff) == 0) {
            return false;
        }
        pageSize = page;
        sq = new Queue();
        sq.dma = asq;
        sq.size = (aqa & 0xfff) + 1;
        cq = new Queue();
        cq.dma = acq;
        cq.size = ((aqa >>> 16) & 0xfff) + 1;
        MsixTable msix = function.msix();
        if (msix != null && msix.enabled()) {
            msix.use(0); // nvme_init_cq: msix_vector_use(vector 0) when MSI-X is on
        }
        return true;
    }

    /**
     * nvme_pci_reset (an FLR or a bus reset of the function): nvme_ctrl_reset, then CSTS, INTMS,
     * INTMC and CC zero; the admin queue registers keep their values.
     */
    void functionReset() {
        resetController();
        put(REG_CSTS, 0, 4);
        put(REG_INTMS, 0, 4);
        put(REG_INTMC, 0, 4);
        put(REG_CC, 0, 4);
    }

    /** nvme_ctrl_reset: the queues gone, interrupts deasserted. */
    private void resetController() {
        if (cq != null && function.msix() != null) {
            function.msix().unuse(0);
        }
        sq = null;
        cq = null;
        irqStatus = 0;
        function.setIntx(false);
    }

    /** nvme_process_db for qid 0 (stride 0: SQ y tail at 8y, CQ y head at 8y + 4). */
    private void doorbell(long off, long value) {
        if (sq == null || off >= 8) {
            return; // pci_nvme_ub_db_wr_invalid_sq / _cq: no such queue
        }
        int v = (int) value;
        if (off == 4) {
            if (v >= cq.size) {
                return; // pci_nvme_ub_db_wr_invalid_cqhead
            }
            cq.head = v;
            if (cq.head == cq.tail) {
                irqStatus = 0; // nvme_irq_deassert
                irqCheck();
            }
            return;
        }
        if (off != 0 || v >= sq.size) {
            return;
        }
        sq.tail = v;
        processQueue();
    }

    /** nvme_process_sq, then nvme_post_cqes for what completed. */
    private void processQueue() {
        java.util.ArrayList<long[]> done = new java.util.ArrayList<>();
        DmaPort port = function.dma();
        while (sq.head != sq.tail) {
            byte[] cmd = new byte[64];
            if (port == null || !port.read(new Iova(sq.dma + 64L * sq.head), cmd, 0, 64).ok()) {
                put(REG_CSTS, get(REG_CSTS, 4) | CSTS_CFS, 4); // pci_nvme_err_addr_read
                break;
            }
            sq.head = (sq.head + 1) % sq.size;
            int cid = u16(cmd, 2);
            long[] result = execute(cmd);
            done.add(new long[] {cid, result[0], result[1]});
        }
        for (long[] d : done) {
            if ((cq.tail + 1) % cq.size == cq.head) {
                break; // CQ full: QEMU keeps the completion for later
            }
            byte[] cqe = new byte[16];
            le(cqe, 0, d[1], 4);
            le(cqe, 8, sq.head, 2);
            le(cqe, 12, d[0], 2);
            le(cqe, 14, (d[2] << 1) | cq.phase, 2);
            if (!port.write(new Iova(cq.dma + 16L * cq.tail), cqe, 0, 16).ok()) {
                put(REG_CSTS, get(REG_CSTS, 4) | CSTS_CFS, 4); // pci_nvme_err_addr_write
                break;
            }
            cq.tail++;
            if (cq.tail >= cq.size) {
                cq.tail = 0;
                cq.phase ^= 1;
            }
        }
        if (cq.tail != cq.head) {
            raise();
        }
    }

    /** nvme_irq_assert of the admin CQ (vector 0). */
    private void raise() {
        MsixTable msix = function.msix();
        if (msixEnabled()) {
            msix.notify(0);
        } else {
            irqStatus |= 1;
            irqCheck();
        }
    }

    /** nvme_irq_check: INTx while an unmasked CQ has entries (not with MSI-X). */
    private void irqCheck() {
        if (msixEnabled()) {
            return;
        }
        function.setIntx((~get(REG_INTMS, 4) & irqStatus) != 0);
    }

    private boolean msixEnabled() {
        return function.msix() != null && function.msix().enabled();
    }

    /** nvme_admin_cmd for the modelled commands: {result DW0, status}. */
    private long[] execute(byte[] cmd) {
        int opcode = cmd[0] & 0xff;
        long cdw10 = u32(cmd, 40);
        return switch (opcode) {
            case OPC_IDENTIFY -> {
                if ((cdw10 & 0xff) != CNS_CTRL) {
                    yield new long[] {0, INVALID_FIELD | DNR};
                }
                toHost(cmd, identifyController());
                yield new long[] {0, SUCCESS};
            }
            case OPC_GET_FEATURES -> {
                if ((cdw10 & 0xff) != FID_NUMBER_OF_QUEUES) {
                    yield new long[] {0, INVALID_FIELD | DNR};
                }
                long n = ioQueuePairs - 1;
                yield new long[] {n | n << 16, SUCCESS};
            }
            default -> new long[] {0, INVALID_OPCODE | DNR};
        };
    }

    /** nvme_c2h over PRP1/PRP2 (a transfer of at most two pages); QEMU ignores the DMA's outcome. */
    private void toHost(byte[] cmd, byte[] data) {
        long prp1 = u32(cmd, 24) | u32(cmd, 28) << 32;
        long prp2 = u32(cmd, 32) | u32(cmd, 36) << 32;
        int first = (int) Math.min(data.length, pageSize - (prp1 & (pageSize - 1)));
        function.dma().write(new Iova(prp1), data, 0, first);
        if (first < data.length) {
            function.dma().write(new Iova(prp2), data, first, data.length - first);
        }
    }

    /** nvme_init_ctrl's Identify Controller data (the fields the model fills; the rest 0). */
    byte[] identifyController() {
        byte[] id = new byte[4096];
        le(id, 0, function.configRead(io.viommu.pci.PciRegs.VENDOR_ID, 2), 2);
        le(id, 2, function.configRead(io.viommu.pci.PciRegs.SUBSYSTEM_VENDOR_ID, 2), 2);
        pad(id, 4, 20, serial);
        pad(id, 24, 40, "QEMU NVMe Ctrl");
        pad(id, 64, 8, FIRMWARE_REVISION);
        id[72] = 6; // RAB
        id[73] = 0x00; // IEEE OUI 52:54:00, least significant byte first
        id[74] = 0x54;
        id[75] = 0x52;
        id[77] = (byte) mdts;
        le(id, 80, SPEC_VERSION, 4);
        le(id, 92, 1 << 8, 4); // OAES: namespace attribute notices
        le(id, 96, 1 << 15, 4); // CTRATT: extended LBA formats
        id[111] = 1; // CNTRLTYPE: I/O controller
        le(id, 256, 1 << 1 | 1 << 3 | 1 << 8, 2); // OACS: format, namespace management, doorbell buffer
        id[258] = 3; // ACL
        id[259] = 3; // AERL
        id[260] = (1 << 1) | 1; // FRMW: one slot, slot 1 read-only
        id[261] = 1 | 2 | 4; // LPA
        le(id, 266, 0x157, 2); // WCTEMP
        le(id, 268, 0x175, 2); // CCTEMP
        id[512] = 0x66; // SQES
        id[513] = 0x44; // CQES
        le(id, 516, 256, 4); // NN
        return id;
    }

    private static void pad(byte[] dst, int off, int len, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < len; i++) {
            dst[off + i] = i < b.length ? b[i] : (byte) ' ';
        }
    }

    private static void le(byte[] dst, int off, long v, int len) {
        for (int i = 0; i < len; i++) {
            dst[off + i] = (byte) (v >>> (8 * i));
        }
    }

    private static int u16(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8;
    }

    private static long u32(byte[] b, int off) {
        return (b[off] & 0xffL) | (b[off + 1] & 0xffL) << 8 | (b[off + 2] & 0xffL) << 16 | (b[off + 3] & 0xffL) << 24;
    }
}
