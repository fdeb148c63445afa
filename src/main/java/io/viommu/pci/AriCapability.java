package io.viommu.pci;

/**
 * Alternative Routing-ID Interpretation extended capability (PCIe base 4.0 section 7.8.7):
 * <pre>
 *  +0 header (id 0x000e, version 1)
 *  +4 ARI capability (16 bits): 15:8 next function number, 1 ACS function groups, 0 MFVC
 *  +6 ARI control (16 bits)
 * </pre>
 * QEMU 7.2's {@code pcie_ari_init(dev, offset, nextfn)} writes only the next function number.
 */
public final class AriCapability {
    private AriCapability() {
    }

    public static final int CAP = 0x04;
    public static final int CTRL = 0x06;
    public static final int SIZE = 8;

    public static void declare(ConfigSpace c, int off, int nextFunction) {
        c.define(off + CAP, 2, (nextFunction & 0xff) << 8, 0, 0);
        c.define(off + CTRL, 2, 0, 0, 0);
    }

    public static int nextFunction(int capRegister) {
        return (capRegister >>> 8) & 0xff;
    }
}
