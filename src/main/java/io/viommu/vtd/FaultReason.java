package io.viommu.vtd;

/**
 * Legacy-mode DMA-remapping fault reasons (VT-d spec 7.1.3, table "Unsuccessful translated
 * requests"), with QEMU 7.2's "qualified" flag (vtd_qualified_faults): a qualified fault is not
 * recorded when the context entry that processed the request has FPD set.
 *
 * <p>{@code carriesNoPasidPv}: QEMU 7.2 reports faults found during the second-level walk with
 * PV = 0xffff (its PCI_NO_PASID) and faults found while fetching root/context entries with
 * PV = 0; see {@link VtdRegisters#FRCD_PV_QEMU_NO_PASID}.
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
    INTERRUPT_ADDRESS(0xE, true, "translated address in the interrupt range");

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

    private static final FaultReason[] BY_CODE = new FaultReason[16];

    static {
        for (FaultReason r : values()) {
            BY_CODE[r.code] = r;
        }
    }

    public static FaultReason ofCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
