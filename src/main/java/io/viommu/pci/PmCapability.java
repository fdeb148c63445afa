package io.viommu.pci;

/**
 * PCI power management capability (PCI Bus Power Management 1.2 section 3.2), 8 bytes:
 * <pre>
 *  +2 PMC (16 bits, read-only): 2:0 version, 5 device-specific init, ...
 *  +4 PMCSR (16 bits): 1:0 power state (writable), 3 no soft reset
 * </pre>
 */
public final class PmCapability {
    private PmCapability() {
    }

    public static final int PMC = 0x02;
    public static final int PMCSR = 0x04;
    public static final int SIZE = 8;
    public static final int PMCSR_NO_SOFT_RESET = 1 << 3;

    public static void declare(ConfigSpace c, int off, int pmc, int pmcsr) {
        c.define(off, SIZE, PciRegs.CAP_ID_PM, 0, 0);
        c.define(off + PMC, 2, pmc, 0, 0);
        c.define(off + PMCSR, 2, pmcsr, 0x0003, 0);
    }
}
