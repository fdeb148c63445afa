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

    public static final int HEADER_TYPE_NORMAL = 0x00;
    public static final int HEADER_TYPE_BRIDGE = 0x01;
    public static final int HEADER_TYPE_LAYOUT_MASK = 0x7f;

    // Type-1 (PCI-to-PCI bridge) header, PCI-to-PCI Bridge Architecture 1.2 section 3.2.
    public static final int PRIMARY_BUS = 0x18;        // 8 bits
    public static final int SECONDARY_BUS = 0x19;      // 8 bits: bus number right below the bridge
    public static final int SUBORDINATE_BUS = 0x1a;    // 8 bits: highest bus number below the bridge
    public static final int SEC_LATENCY_TIMER = 0x1b;
    public static final int IO_BASE = 0x1c;            // 8 bits: 7:4 address 15:12, 3:0 32-bit flag
    public static final int IO_LIMIT = 0x1d;
    public static final int SEC_STATUS = 0x1e;         // 16 bits
    public static final int MEMORY_BASE = 0x20;        // 16 bits: 15:4 address 31:20
    public static final int MEMORY_LIMIT = 0x22;
    public static final int PREF_MEMORY_BASE = 0x24;   // 16 bits: 15:4 address 31:20, 3:0 64-bit flag
    public static final int PREF_MEMORY_LIMIT = 0x26;
    public static final int PREF_BASE_UPPER32 = 0x28;
    public static final int PREF_LIMIT_UPPER32 = 0x2c;
    public static final int IO_BASE_UPPER16 = 0x30;
    public static final int IO_LIMIT_UPPER16 = 0x32;
    public static final int BRIDGE_ROM_ADDRESS = 0x38;
    public static final int BRIDGE_CONTROL = 0x3e;     // 16 bits
    public static final int BRIDGE_CONTROL_SERR = 1 << 1;
    public static final int BRIDGE_CONTROL_ISA = 1 << 2;
    public static final int BRIDGE_CONTROL_VGA = 1 << 3;
    public static final int BRIDGE_CONTROL_MASTER_ABORT = 1 << 5;
    public static final int BRIDGE_CONTROL_BUS_RESET = 1 << 6;
    /** Status bit 5 (66 MHz capable) and 7 (fast back-to-back capable), as QEMU's PCI bridges set them. */
    public static final int STATUS_66MHZ = 1 << 5;
    public static final int STATUS_FAST_BACK = 1 << 7;

    // Capability ids (PCI Code and ID Assignment 1.11, section 2).
    public static final int CAP_ID_PM = 0x01;
    public static final int CAP_ID_SLOT_ID = 0x04;
    public static final int CAP_ID_MSI = 0x05;
    public static final int CAP_ID_VENDOR = 0x09;
    public static final int CAP_ID_SHPC = 0x0c;
    public static final int CAP_ID_SSVID = 0x0d;       // bridge subsystem vendor/device id
    public static final int CAP_ID_EXP = 0x10;         // PCI Express
    public static final int CAP_ID_MSIX = 0x11;
    public static final int CAP_ID_SATA = 0x12;

    // Extended capability ids (same document, section 3), at 0x100 and up in PCIe config space.
    public static final int EXT_CAP_ID_AER = 0x0001;
    public static final int EXT_CAP_ID_DSN = 0x0003;
    public static final int EXT_CAP_ID_ACS = 0x000d;
    public static final int EXT_CAP_ID_ARI = 0x000e;
    public static final int EXT_CAP_ID_ATS = 0x000f;
    public static final int EXT_CAP_ID_SRIOV = 0x0010;
    /** First extended capability header (PCIe base 4.0 section 7.6.3). */
    public static final int EXT_CAP_START = 0x100;
}
