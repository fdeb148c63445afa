package io.viommu.vtd;

/**
 * Interrupt-remapping fault reasons (VT-d spec 7.1.3, "Interrupt Remapping Fault Conditions").
 * {@code qualified} faults are not recorded when the IRTE that processed the request has FPD
 * set (spec; the same choice as later QEMU versions, which clear do_fault on FPD after
 * reading the entry).
 *
 * <p>QEMU 7.2 detects 0x20-0x24 and 0x26 (vtd_interrupt_remap_msi / vtd_irte_get) but records
 * none of them in the fault registers: it prints an error_report_once line and drops the
 * interrupt (checked with qemu-system-x86_64 7.2 through edu's MSI). 0x25 does not exist
 * there because QEMU ignores GCMD.CFI and always passes compatibility-format interrupts.
 */
public enum InterruptFaultReason {
    REQUEST_RESERVED(0x20, false, "reserved field set in the interrupt request"),
    INDEX_BEYOND_TABLE(0x21, false, "interrupt index beyond the interrupt remapping table size"),
    ENTRY_NOT_PRESENT(0x22, true, "interrupt remapping table entry not present"),
    TABLE_ACCESS(0x23, false, "error accessing the interrupt remapping table"),
    ENTRY_RESERVED(0x24, true, "reserved field set in the interrupt remapping table entry"),
    COMPATIBILITY_BLOCKED(0x25, false, "compatibility-format interrupt blocked (GSTS.CFIS clear)"),
    SOURCE_ID_CHECK(0x26, true, "source-id check of the interrupt remapping table entry failed");

    private final int code;
    private final boolean qualified;
    private final String description;

    InterruptFaultReason(int code, boolean qualified, String description) {
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

    public static InterruptFaultReason ofCode(int code) {
        for (InterruptFaultReason r : values()) {
            if (r.code == code) {
                return r;
            }
        }
        return null;
    }
}
