package io.viommu.pci;

/**
 * The PCIe PASID TLP prefix of a request (PCIe 6.x section 6.20): the process address space
 * id (20 bits), Privileged Mode Requested and Execute Requested. A request without the prefix
 * is passed as {@code null}; an IOMMU then uses its own default (VT-d: the context entry's
 * RID_PASID and RID_PRIV).
 */
public record PasidPrefix(int pasid, boolean privileged, boolean execute) {
    public static final int MAX_PASID = (1 << 20) - 1;

    public PasidPrefix {
        if (pasid < 0 || pasid > MAX_PASID) {
            throw new IllegalArgumentException("PASID is 20 bits: " + pasid);
        }
    }

    /** A user-mode, non-execute request with {@code pasid}. */
    public static PasidPrefix of(int pasid) {
        return new PasidPrefix(pasid, false, false);
    }
}
