package io.viommu.pci;

/**
 * Type-0 configuration header layout (PCI Local Bus 3.0 section 6.1) and the command/status
 * bits the model acts on. Offsets are bytes into the function's configuration space.
 */
public final class PciRegs {
    private PciRegs() {
    }

    public static final int VENDOR_ID = 0x00;      // 16 bits
    public static final int DEVICE_ID = 0x02;      // 16 bits
    public static final int COMMAND = 0x04;        // 16 bits, see COMMAND_*
    public static final int STATUS = 0x06;         // 16 bits, see STATUS_*
    public static final int REVISION_ID = 0x08;    // 8 bits
    public static final int CLASS_PROG = 0x09;     // 8 bits programming interface
    public static final int CLASS_DEVICE = 0x0a;   // 16 bits: class 15:8, subclass 7:0
    public static final int CACHE_LINE_SIZE = 0x0c;
    public static final int LATENCY_TIMER = 0x0d;
    public static final int HEADER_TYPE = 0x0e;    // bit 7: multi-function
    public static final int BAR0 = 0x10;           // six 32-bit BARs 0x10..0x24
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int CAPABILITY_LIST = 0x34; // 8 bits: first capability offset
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;  // 1 = INTA .. 4 = INTD
    public static final int HEADER_SIZE = 0x40;

    // Command register bits 15:0.
    public static final int COMMAND_IO = 1 << 0;
    public static final int COMMAND_MEMORY = 1 << 1;
    public static final int COMMAND_MASTER = 1 << 2;
    public static final int COMMAND_SERR = 1 << 8;
    public static final int COMMAND_INTX_DISABLE = 1 << 10;
    /** QEMU's default command write mask ({@code pci_init_wmask}): IO, MEM, MASTER, SERR, INTX_DISABLE. */
    public static final int COMMAND_WRITABLE = COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER
            | COMMAND_SERR | COMMAND_INTX_DISABLE;

    // Status register bits 15:0.
    public static final int STATUS_INTERRUPT = 1 << 3;     // INTx asserted (read-only)
    public static final int STATUS_CAP_LIST = 1 << 4;      // capability list present
    public static final int STATUS_PARITY = 1 << 8;        // master data parity error
    public static final int STATUS_SIG_TARGET_ABORT = 1 << 11;
    public static final int STATUS_REC_TARGET_ABORT = 1 << 12;
    public static final int STATUS_REC_MASTER_ABORT = 1 << 13;
    public static final int STATUS_SIG_SYSTEM_ERROR = 1 << 14;
    public static final int STATUS_DETECTED_PARITY = 1 << 15;
    /** The error bits QEMU makes write-1-to-clear ({@code pci_init_w1cmask}). */
    public static final int STATUS_W1C = STATUS_PARITY | STATUS_SIG_TARGET_ABORT
            | STATUS_REC_TARGET_ABORT | STATUS_REC_MASTER_ABORT | STATUS_SIG_SYSTEM_ERROR
            | STATUS_DETECTED_PARITY;

    public static final int HEADER_TYPE_MULTI_FUNCTION = 0x80;

    // BAR low bits.
    public static final int BAR_SPACE_IO = 0x1;
    public static final int BAR_MEM_TYPE_64 = 0x4;
    public static final int BAR_MEM_PREFETCH = 0x8;

    // Capability ids.
    public static final int CAP_ID_MSI = 0x05;
    public static final int CAP_ID_SATA = 0x12;
}
