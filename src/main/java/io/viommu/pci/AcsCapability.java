package io.viommu.pci;

/**
 * Access Control Services extended capability (PCIe base 4.0 section 7.7.7), 8 bytes, no egress
 * control vector:
 * <pre>
 *  +0 header (id 0x000d, version 1)
 *  +4 ACS capability (16 bits, read-only): which of the bits below the port implements
 *  +6 ACS control (16 bits): the same bits, writable where implemented, reset 0
 *     bit 0 SV source validation, 1 TB translation blocking, 2 RR P2P request redirect,
 *     3 CR P2P completion redirect, 4 UF upstream forwarding, 5 EC egress control,
 *     6 DT direct translated P2P
 * </pre>
 */
public final class AcsCapability {
    private AcsCapability() {
    }

    public static final int CAP = 0x04;
    public static final int CTRL = 0x06;
    public static final int SIZE = 8;

    public static final int SV = 0x01;
    public static final int TB = 0x02;
    public static final int RR = 0x04;
    public static final int CR = 0x08;
    public static final int UF = 0x10;
    public static final int EC = 0x20;
    public static final int DT = 0x40;
    /**
     * What QEMU 7.2's {@code pcie_acs_init} advertises on a downstream port (pcie-root-port
     * reads back 0x005f: everything but egress control).
     */
    public static final int QEMU_PORT_CAP = SV | TB | RR | CR | UF | DT;

    /** Declares the registers after the header (the caller links the header). */
    public static void declare(ConfigSpace c, int off, int capBits) {
        c.define(off + CAP, 2, capBits, 0, 0);
        c.define(off + CTRL, 2, 0, capBits, 0);
    }
}
