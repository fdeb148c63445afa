package io.viommu.machine.device;

import io.viommu.memory.Iova;
import io.viommu.memory.Mmio;
import io.viommu.pci.AccessRules;
import io.viommu.pci.AtsCapability;
import io.viommu.pci.Bar;
import io.viommu.pci.ConfigSpace;
import io.viommu.pci.DmaPort;
import io.viommu.pci.PciFunction;

/**
 * QEMU's educational PCI device {@code edu} (1234:11e8, revision 0x10, class 00ff), as
 * hw/misc/edu.c in QEMU 7.2 behaves; every register behaviour below was checked against
 * QEMU 7.2 over qtest.
 *
 * <p>BAR0: 1 MiB memory. Accesses below 0x80 must be 4 bytes, from 0x80 up 4 or 8 bytes;
 * others read all ones from the device and writes are ignored. Accesses the bus refuses
 * (1 or 2 bytes, unaligned) never reach the device and read 0.
 * <pre>
 *  0x00 RO  identification 0x010000ed
 *  0x04 RW  liveness: reads the bitwise NOT of the last value written
 *  0x08 RW  factorial: write n, read n! (32-bit, wrapping); ignored while computing
 *  0x20 RW  status: bit 0 computing (RO), bit 7 raise FACT_IRQ when done (RW)
 *  0x24 RO  interrupt status (FACT_IRQ 0x1, DMA_IRQ 0x100, or anything raised by 0x60)
 *  0x60 WO  raise interrupt: status |= value
 *  0x64 WO  acknowledge: status &= ~value
 *  0x80 RW  DMA source (64 bits; a 4-byte write sets the whole register)
 *  0x88 RW  DMA destination
 *  0x90 RW  DMA count
 *  0x98 RW  DMA command: bit 0 start, bit 1 direction (0 RAM to buffer, 1 buffer to RAM),
 *           bit 2 raise DMA_IRQ when done; written only with bit 0 set and no DMA running
 * </pre>
 * The 4 KiB DMA buffer is at 0x40000 in the device's own DMA addressing; the RAM-side address
 * is ANDed with the {@code dma_mask} property (default 2^28-1) and, when that changes it, the
 * device prints {@code EDU: clamping DMA 0x.. to 0x..!} to QEMU's stdout.
 *
 * <p>Deliberate deviations:
 * <ul>
 * <li>Timing: QEMU runs the factorial in a thread and fires the DMA from a timer 100 ms of
 *     virtual time after the command. Here both complete when commanded, so results are
 *     deterministic and a delay between commands changes nothing; a script that waits before
 *     reading (as it must with QEMU) sees the same values. Only a read of the command or
 *     status register in the 100 ms window differs (QEMU still shows the busy bit).</li>
 * <li>Extension {@code x-ats=on} (not in QEMU, whose edu is a conventional PCI device without
 *     ATS): the function gets a 4 KiB PCIe configuration space with an ATS extended capability
 *     at 0x100 ({@link AtsCapability}); once the guest sets its Enable bit, the device's DMA
 *     goes through its device-TLB and translated requests ({@link io.viommu.pci.AtsEndpoint}).
 *     The DMA registers and results are otherwise unchanged.</li>
 * <li>Out-of-range DMA: QEMU 7.2 calls {@code hw_error()} (the process aborts) when the
 *     buffer-side range is not strictly inside [0x40000, 0x41000) — including a full 4096-byte
 *     transfer and a zero count, both checked. Here the transfer is refused: nothing moves,
 *     the start bit clears, no interrupt, and a guest error is logged.</li>
 * </ul>
 */
public final class EduDevice extends PciFunction {
    public static final int VENDOR_QEMU = 0x1234;
    public static final int DEVICE_ID = 0x11e8;
    public static final long BAR0_SIZE = 1L << 20;

    // Register offsets in BAR0.
    public static final int REG_IDENT = 0x00;
    public static final int REG_LIVENESS = 0x04;
    public static final int REG_FACTORIAL = 0x08;
    public static final int REG_STATUS = 0x20;
    public static final int REG_IRQ_STATUS = 0x24;
    public static final int REG_IRQ_RAISE = 0x60;
    public static final int REG_IRQ_ACK = 0x64;
    public static final int REG_DMA_SRC = 0x80;
    public static final int REG_DMA_DST = 0x88;
    public static final int REG_DMA_COUNT = 0x90;
    public static final int REG_DMA_CMD = 0x98;

    public static final int IDENT = 0x010000ed;
    public static final int STATUS_COMPUTING = 0x01;
    public static final int STATUS_IRQFACT = 0x80;
    public static final int FACT_IRQ = 0x001;
    public static final int DMA_IRQ = 0x100;
    public static final long DMA_CMD_START = 0x1;
    public static final long DMA_CMD_TO_RAM = 0x2;
    public static final long DMA_CMD_IRQ = 0x4;
    public static final long DMA_BUFFER_BASE = 0x40000;
    public static final int DMA_BUFFER_SIZE = 4096;
    public static final long DEFAULT_DMA_MASK = (1L << 28) - 1;
    public static final int MSI_OFFSET = 0x40;
    /** Where the {@code x-ats=on} extension puts the ATS extended capability. */
    public static final int ATS_OFFSET = 0x100;

    /** Mutable register state, kept apart from behaviour so tests can look at it. */
    public static final class State {
        public int liveness;
        public int factorial;
        public int status;
        public int irqStatus;
        public long dmaSrc;
        public long dmaDst;
        public long dmaCount;
        public long dmaCmd;
        public final byte[] buffer = new byte[DMA_BUFFER_SIZE];
    }

    private final State s = new State();
    private final long dmaMask;
    private final MachineLog log;
    private final AtsCapability ats;
    private DmaPort.Outcome lastDma;

    public EduDevice(long dmaMask, MachineLog log) {
        this(dmaMask, log, false);
    }

    /** @param ats the {@code x-ats=on} extension: PCIe config space with an ATS capability */
    public EduDevice(long dmaMask, MachineLog log, boolean ats) {
        super("edu", VENDOR_QEMU, DEVICE_ID, 0x00ff00, 0x10, false,
                ats ? ConfigSpace.PCIE_SIZE : ConfigSpace.CONVENTIONAL_SIZE);
        this.dmaMask = dmaMask;
        this.log = log;
        this.ats = ats ? new AtsCapability(config, ATS_OFFSET, 0) : null;
        setInterruptPin(1);
        addMsi(MSI_OFFSET, true);
        registerBar(0, Bar.Kind.MEMORY32, BAR0_SIZE, false, registers,
                new AccessRules(4, 8, false));
    }

    /** The ATS capability ({@code x-ats=on}), or null. */
    public AtsCapability atsCapability() {
        return ats;
    }

    public State state() {
        return s;
    }

    public long dmaMask() {
        return dmaMask;
    }

    /** The outcome of the last DMA the device performed, or null. */
    public DmaPort.Outcome lastDma() {
        return lastDma;
    }

    private final Mmio registers = new Mmio() {
        @Override
        public long load(long offset, int size) {
            if (!sizeOk(offset, size)) {
                return -1L;
            }
            return switch ((int) offset) {
                case REG_IDENT -> IDENT;
                case REG_LIVENESS -> s.liveness & 0xffff_ffffL;
                case REG_FACTORIAL -> s.factorial & 0xffff_ffffL;
                case REG_STATUS -> s.status & 0xffff_ffffL;
                case REG_IRQ_STATUS -> s.irqStatus & 0xffff_ffffL;
                case REG_DMA_SRC -> s.dmaSrc;
                case REG_DMA_DST -> s.dmaDst;
                case REG_DMA_COUNT -> s.dmaCount;
                case REG_DMA_CMD -> s.dmaCmd;
                default -> -1L;
            };
        }

        @Override
        public void store(long offset, long value, int size) {
            if (!sizeOk(offset, size)) {
                return;
            }
            if (size == 4) {
                value &= 0xffff_ffffL;
            }
            switch ((int) offset) {
                case REG_LIVENESS -> s.liveness = (int) ~value;
                case REG_FACTORIAL -> startFactorial((int) value);
                case REG_STATUS -> s.status = (value & STATUS_IRQFACT) != 0
                        ? s.status | STATUS_IRQFACT : s.status & ~STATUS_IRQFACT;
                case REG_IRQ_RAISE -> raise((int) value);
                case REG_IRQ_ACK -> lower((int) value);
                case REG_DMA_SRC -> setDma(0, value);
                case REG_DMA_DST -> setDma(1, value);
                case REG_DMA_COUNT -> setDma(2, value);
                case REG_DMA_CMD -> {
                    if ((value & DMA_CMD_START) != 0 && (s.dmaCmd & DMA_CMD_START) == 0) {
                        s.dmaCmd = value;
                        runDma();
                    }
                }
                default -> { }
            }
        }
    };

    /** edu_mmio_read/write's size rules. */
    private static boolean sizeOk(long offset, int size) {
        return offset < 0x80 ? size == 4 : size == 4 || size == 8;
    }

    /** dma_rw: a DMA register is not written while a transfer runs. */
    private void setDma(int which, long value) {
        if ((s.dmaCmd & DMA_CMD_START) != 0) {
            return;
        }
        switch (which) {
            case 0 -> s.dmaSrc = value;
            case 1 -> s.dmaDst = value;
            default -> s.dmaCount = value;
        }
    }

    private void startFactorial(int n) {
        if ((s.status & STATUS_COMPUTING) != 0) {
            return;
        }
        // Computed at once (see class comment): edu_fact_thread's 32-bit wrapping product.
        int r = 1;
        for (int v = n; Integer.compareUnsigned(v, 0) > 0; v--) {
            r *= v;
            if (r == 0) {
                break; // all further products stay 0
            }
        }
        s.factorial = r;
        if ((s.status & STATUS_IRQFACT) != 0) {
            raise(FACT_IRQ);
        }
    }

    /** edu_raise_irq: MSI if enabled, else INTx high while any status bit is set. */
    private void raise(int bits) {
        s.irqStatus |= bits;
        if (s.irqStatus != 0) {
            if (msiEnabled()) {
                msiNotify();
            } else {
                setIntx(true);
            }
        }
    }

    /** edu_lower_irq. */
    private void lower(int bits) {
        s.irqStatus &= ~bits;
        if (s.irqStatus == 0 && !msiEnabled()) {
            setIntx(false);
        }
    }

    /** edu_check_range of QEMU 7.2: start inside the buffer, end strictly inside too. */
    public static boolean inBuffer(long addr, long count) {
        long end = addr + count;
        long limit = DMA_BUFFER_BASE + DMA_BUFFER_SIZE;
        return within(addr, DMA_BUFFER_BASE, limit) && Long.compareUnsigned(end, addr) > 0
                && within(end, DMA_BUFFER_BASE, limit);
    }

    private static boolean within(long a, long start, long end) {
        return Long.compareUnsigned(start, a) <= 0 && Long.compareUnsigned(a, end) < 0;
    }

    /** edu_clamp_addr, with its printf (format {@code %#.16" PRIx64}: no 0x for zero). */
    private long clamp(long addr) {
        long r = addr & dmaMask;
        if (r != addr) {
            log.stdout("EDU: clamping DMA " + hex16(addr) + " to " + hex16(r) + "!");
        }
        return r;
    }

    static String hex16(long v) {
        String digits = String.format("%016x", v);
        return v == 0 ? digits : "0x" + digits;
    }

    /** edu_dma_timer, run at once. */
    private void runDma() {
        boolean toRam = (s.dmaCmd & DMA_CMD_TO_RAM) != 0;
        long bufAddr = toRam ? s.dmaSrc : s.dmaDst;
        if (!inBuffer(bufAddr, s.dmaCount)) {
            log.guestError(String.format(
                    "EDU: DMA range 0x%016x-0x%016x out of bounds (0x%016x-0x%016x)! (QEMU 7.2 "
                            + "aborts here; transfer refused)", bufAddr, bufAddr + s.dmaCount - 1,
                    DMA_BUFFER_BASE, DMA_BUFFER_BASE + DMA_BUFFER_SIZE - 1));
            s.dmaCmd &= ~DMA_CMD_START;
            return;
        }
        int off = (int) (bufAddr - DMA_BUFFER_BASE);
        int len = (int) s.dmaCount;
        DmaPort port = dma();
        if (toRam) {
            Iova dst = new Iova(clamp(s.dmaDst));
            lastDma = port == null ? null : port.write(dst, s.buffer, off, len);
        } else {
            Iova src = new Iova(clamp(s.dmaSrc));
            lastDma = port == null ? null : port.read(src, s.buffer, off, len);
        }
        s.dmaCmd &= ~DMA_CMD_START;
        if ((s.dmaCmd & DMA_CMD_IRQ) != 0) {
            raise(DMA_IRQ);
        }
    }
}
