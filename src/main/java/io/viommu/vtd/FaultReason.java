package io.viommu.vtd;

/**
 * The fault reasons a VT-d unit records in a fault record's FR field (VT-d spec 7.1.3), one
 * code space as in QEMU's VTDFaultReason: DMA-remapping faults of legacy mode (0x1-0xE, table
 * "Unsuccessful translated requests") and interrupt-remapping faults (0x20-0x26, "Interrupt
 * Remapping Fault Conditions"); scalable mode's own codes are {@link ScalableFault}.
 *
 * <p>{@code qualified}: the fault is not recorded when the structure that processed the request
 * has FPD set: the context entry for DMA faults (QEMU 7.2 vtd_qualified_faults), the IRTE for
 * interrupt faults (spec; the same choice as later QEMU versions, which clear do_fault on FPD
 * after reading the entry).
 *
 * <p>QEMU 7.2 reports faults found during the second-level walk with PV = 0xffff (its
 * PCI_NO_PASID) and faults found while fetching root/context entries with PV = 0; see
 * {@link VtdRegisters#FRCD_PV_QEMU_NO_PASID}.
 *
 * <p>QEMU 7.2 detects 0x20-0x24 and 0x26 (vtd_interrupt_remap_msi / vtd_irte_get) but records
 * none of them in the fault registers: it prints an error_report_once line and drops the
 * interrupt (checked with qemu-system-x86_64 7.2 through edu's MSI). 0x25 does not exist
 * there because QEMU ignores GCMD.CFI and always passes compatibility-format interrupts.
 */
public enum FaultReason {
    ROOT_ENTRY_NOT_PRESENT(0x1, false, "root entry not present"),
    CONTEXT_ENTRY_NOT_PRESENT(0x2, true, "context entry not present"),
    CONTEXT_ENTRY_INVALID(0x3, true, "invalid context entry programming"),
    ADDRESS_BEYOND_AGAW(0x4, true, "input address beyond MGAW/AGAW"),
    WRITE_NOT_PERMITTED(0x5, true, "write not permitted"),
    READ_NOT_PERMITTED(0x6, true, "read not permitted"),
    PAGING_ENTRY_ACCESS(0x7, true, "error accessing a second-level paging entry"),
    ROOT_TABLE_INVALID(0x8, false, "error accessing the root table"),
    CONTEXT_TABLE_INVALID(0x9, false, "error accessing the context table"),
    ROOT_ENTRY_RESERVED(0xA, false, "reserved bit set in root entry"),
    CONTEXT_ENTRY_RESERVED(0xB, false, "reserved bit set in context entry"),
    PAGING_ENTRY_RESERVED(0xC, true, "reserved bit set in second-level paging entry"),
    /** Translation request blocked by TT; unreachable here (no ATS translation requests modelled). */
    CONTEXT_ENTRY_TT(0xD, true, "request blocked by context-entry translation type"),
    /** QEMU 7.2 VTD_FR_INTERRUPT_ADDR: the output range overlaps 0xFEE00000-0xFEEFFFFF. */
    INTERRUPT_ADDRESS(0xE, true, "translated address in the interrupt range"),

    IR_REQUEST_RESERVED(0x20, false, "reserved field set in the interrupt request"),
    IR_INDEX_BEYOND_TABLE(0x21, false, "interrupt index beyond the interrupt remapping table size"),
    IR_ENTRY_NOT_PRESENT(0x22, true, "interrupt remapping table entry not present"),
    IR_TABLE_ACCESS(0x23, false, "error accessing the interrupt remapping table"),
    IR_ENTRY_RESERVED(0x24, true, "reserved field set in the interrupt remapping table entry"),
    IR_COMPATIBILITY_BLOCKED(0x25, false, "compatibility-format interrupt blocked (GSTS.CFIS clear)"),
    IR_SOURCE_ID_CHECK(0x26, true, "source-id check of the interrupt remapping table entry failed");

    private final int code;
    private final boolean qualified;
    private final String description;

    FaultReason(int code, boolean qualified, String description) {
        this.code = code;
        this.qualified = qualified;
        this.description = description;
    }

    public int code() {
        return code;
    }

    public boolean qualified() {
        return qualified;
    }

    public String description() {
        return description;
    }

    private static final FaultReason[] BY_CODE = new FaultReason[0x27];

    static {
        for (FaultReason r : values()) {
            BY_CODE[r.code] = r;
        }
    }

    public static FaultReason ofCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
