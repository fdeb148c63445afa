package io.viommu.vtd;

/**
 * The faults of scalable-mode translation: each condition with the VT-d fault reason the
 * specification gives it (chapter 7, "Non-recoverable fault reasons", codes 0x30-0x90 in
 * scalable mode) and the reason QEMU 7.2 records for it where QEMU detects the condition at all.
 *
 * <p>QEMU 7.2 (checked against the binary over qtest) reuses the legacy codes for root and
 * context entries (1, 2, 8, 9, 0xA, 0xB) and for the second-level walk (4, 5, 6, 7, 0xC, 0xE,
 * with 3 for an unreadable top-level table), and records 0x58 for every PASID directory and
 * PASID table problem (vtd_get_pe_from_pasid_table returns -VTD_FR_PASID_TABLE_INV).
 * Conditions QEMU never checks (first level, nested, PASID prefixes, reserved bits of PASID
 * structures) have {@code qemuCode} = {@code specCode}. Which set a unit records is the
 * {@code x-sm-spec-faults} option ({@link VtdConfig#smSpecFaults()}).
 *
 * <p>{@code qualified}: suppressed by FPD in the context, PASID-directory or PASID entry that
 * applied to the request (VT-d 7.2.1); QEMU 7.2 records its 0x58 even under FPD (checked).
 */
public enum ScalableFault {
    ROOT_TABLE_ACCESS(0x38, 0x8, false, "error accessing the root entry"),
    ROOT_NOT_PRESENT(0x39, 0x1, false, "root entry not present"),
    ROOT_RESERVED(0x3A, 0xA, false, "reserved field set in root entry"),
    CONTEXT_ACCESS(0x40, 0x9, false, "error accessing the context entry"),
    CONTEXT_NOT_PRESENT(0x41, 0x2, true, "context entry not present"),
    CONTEXT_RESERVED(0x42, 0xB, false, "reserved field set in context entry"),
    CONTEXT_INVALID(0x43, 0x3, true, "invalid context entry"),
    CONTEXT_DTE_CLEAR(0x44, 0x44, true, "DTE clear in context entry (translation or translated request)"),
    CONTEXT_PASIDE_CLEAR(0x45, 0x45, true, "PASID enable clear in context entry (request with PASID)"),
    PASID_TOO_LARGE(0x46, 0x46, true, "PASID beyond the PASID directory size (PDTS)"),
    RID_PASID_INVALID(0x48, 0x58, true, "RID_PASID beyond the PASID directory size (PDTS)"),
    PASID_DIR_ACCESS(0x50, 0x58, false, "error accessing the PASID directory entry"),
    PASID_DIR_NOT_PRESENT(0x51, 0x58, true, "PASID directory entry not present"),
    PASID_DIR_RESERVED(0x52, 0x52, false, "reserved field set in PASID directory entry"),
    PASID_TABLE_ACCESS(0x58, 0x58, false, "error accessing the PASID table entry"),
    PASID_NOT_PRESENT(0x59, 0x58, true, "PASID table entry not present"),
    PASID_RESERVED(0x5A, 0x5A, false, "reserved field set in PASID table entry"),
    PASID_INVALID(0x5B, 0x58, true, "invalid PASID table entry (PGTT, AW or FLPM not supported)"),
    PASID_ERE_CLEAR(0x5C, 0x5C, true, "execute request with ERE clear in PASID entry"),
    PASID_SRE_CLEAR(0x5D, 0x5D, true, "supervisor request with SRE clear in PASID entry"),
    FL_ACCESS(0x70, 0x70, true, "error accessing a first-level paging entry"),
    FL_NOT_PRESENT(0x71, 0x71, true, "first-level paging entry not present"),
    FL_RESERVED(0x72, 0x72, true, "reserved field set in first-level paging entry"),
    FL_TOP_ACCESS(0x73, 0x73, true, "error accessing the top-level (FL-PML4/PML5) entry"),
    NESTED_FL_BEYOND_MGAW(0x74, 0x74, true, "first-level table address beyond second-level AGAW (nested)"),
    NESTED_FL_TOP_READ(0x75, 0x75, true, "second level denies reading the top first-level table (nested)"),
    NESTED_FL_READ(0x76, 0x76, true, "second level denies reading a first-level table (nested)"),
    NESTED_FL_WRITE(0x77, 0x77, true, "second level denies the A/D update of a first-level entry (nested)"),
    SL_ACCESS(0x78, 0x7, true, "error accessing a second-level paging entry"),
    SL_PERMISSION(0x79, 0x5, true, "second-level permission error"),
    SL_RESERVED(0x7A, 0xC, true, "reserved field set in second-level paging entry"),
    SL_POINTER_INVALID(0x7B, 0x3, true, "invalid second-level page-table pointer"),
    NOT_CANONICAL(0x80, 0x80, true, "input address not canonical (first level)"),
    USER_SUPERVISOR(0x81, 0x81, true, "user request to a supervisor page (first level U/S = 0)"),
    NO_EXECUTE(0x82, 0x82, true, "execute request to an execute-disabled page"),
    BEYOND_MAX(0x83, 0x4, true, "input address beyond the second-level AGAW"),
    FL_WRITE(0x85, 0x85, true, "write to a read-only first-level page"),
    INTERRUPT_ADDRESS(0x87, 0xE, true, "translated address in the interrupt range");

    private final int specCode;
    private final int qemuCode;
    private final boolean qualified;
    private final String description;

    ScalableFault(int specCode, int qemuCode, boolean qualified, String description) {
        this.specCode = specCode;
        this.qemuCode = qemuCode;
        this.qualified = qualified;
        this.description = description;
    }

    public int specCode() {
        return specCode;
    }

    public int qemuCode() {
        return qemuCode;
    }

    public int code(boolean spec) {
        return spec ? specCode : qemuCode;
    }

    /** Whether FPD suppresses the record: QEMU 7.2's table when recording QEMU codes. */
    public boolean qualified(boolean spec) {
        if (spec) {
            return qualified;
        }
        FaultReason legacy = FaultReason.ofCode(qemuCode);
        return legacy != null ? legacy.qualified() : qemuCode != 0x58 && qualified;
    }

    public String description() {
        return description;
    }
}
