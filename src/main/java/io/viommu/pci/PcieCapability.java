package io.viommu.pci;

/**
 * The PCI Express capability structure (PCIe base 4.0 section 7.5.3), declared as QEMU 7.2's
 * {@code pcie_cap_init}/{@code pcie_cap_v1_init} lay it out. Layout (offsets from the capability):
 * <pre>
 *  +0x00 id 0x10, next        +0x02 flags: 3:0 version, 7:4 device/port type, 8 slot implemented
 *  +0x04 device capabilities  (bit 15 role-based error reporting, bit 28 FLR)
 *  +0x08 device control / +0x0a device status (3:0 W1C)
 *  +0x0c link capabilities    (3:0 max speed, 9:4 max width, 11:10 ASPM, 20 DLL active reporting,
 *                              21 bandwidth notification, 31:24 port number)
 *  +0x10 link control / +0x12 link status (3:0 current speed, 9:4 negotiated width)
 *  +0x14 slot capabilities    (31:19 physical slot number)    v1 structures end here (0x14 bytes)
 *  +0x18 slot control / +0x1a slot status
 *  +0x1c root control / +0x1e root capabilities / +0x20 root status
 *  +0x24 device capabilities 2 (bit 5 ARI forwarding supported)   +0x28 device control 2
 *  +0x2c link capabilities 2 / +0x30 link control 2 / +0x32 link status 2    (v2: 0x3c bytes)
 * </pre>
 */
public final class PcieCapability {
    private PcieCapability() {
    }

    public static final int FLAGS = 0x02;
    public static final int DEVCAP = 0x04;
    public static final int DEVCTL = 0x08;
    public static final int DEVSTA = 0x0a;
    public static final int LNKCAP = 0x0c;
    public static final int LNKCTL = 0x10;
    public static final int LNKSTA = 0x12;
    public static final int SLTCAP = 0x14;
    public static final int SLTCTL = 0x18;
    public static final int SLTSTA = 0x1a;
    public static final int RTCTL = 0x1c;
    public static final int DEVCAP2 = 0x24;
    public static final int DEVCTL2 = 0x28;
    public static final int LNKCAP2 = 0x2c;
    public static final int LNKCTL2 = 0x30;
    public static final int V1_SIZE = 0x14;
    public static final int V2_SIZE = 0x3c;

    public static final int FLAGS_SLOT = 1 << 8;
    public static final int DEVCAP_RBER = 1 << 15;
    public static final int DEVCAP_FLR = 1 << 28;
    public static final int DEVCTL_ERROR_REPORTING = 0x000f;
    public static final int DEVCTL_BCR_FLR = 1 << 15;
    public static final int LNKCAP_X1_2_5GT_L0S = 0x0411;   // QEMU's endpoints: x1, 2.5 GT/s, ASPM L0s
    public static final int LNKSTA_X1_2_5GT = 0x0011;
    public static final int LNKCAP_DLLLARC = 1 << 20;
    public static final int LNKCAP_LBNC = 1 << 21;
    /** Slot capabilities QEMU's pcie_cap_slot_init sets: ABP, PCP, AIP, PIP, HPS, HPC, EIP. */
    public static final int SLTCAP_QEMU = 0x7b | 1 << 17;
    public static final int SLTCAP_PCP = 1 << 1;
    /** Slot control after reset: indicators off, power on (populated) or off (empty). */
    public static final int SLTCTL_POPULATED = 0x01c0;
    public static final int SLTCTL_EMPTY = 0x07c0;
    public static final int DEVCAP2_ARI_FORWARDING = 1 << 5;
    /** Extended Fmt Field and End-End TLP Prefix supported: QEMU sets both in v2 capabilities. */
    public static final int DEVCAP2_EFF_EETLPP = 0x0030_0000;
    public static final int DEVCTL2_ARI_FORWARDING = 1 << 5;

    /** Device/port type, flags bits 7:4. */
    public enum PortType {
        ENDPOINT(0x0), LEGACY_ENDPOINT(0x1), ROOT_PORT(0x4), UPSTREAM_PORT(0x5),
        DOWNSTREAM_PORT(0x6), PCIE_TO_PCI_BRIDGE(0x7), PCI_TO_PCIE_BRIDGE(0x8),
        RC_INTEGRATED_ENDPOINT(0x9), RC_EVENT_COLLECTOR(0xa);

        public final int code;

        PortType(int code) {
            this.code = code;
        }

        public static PortType of(int code) {
            for (PortType t : values()) {
                if (t.code == code) {
                    return t;
                }
            }
            return null;
        }

        /** A port below which a link leads to device 0 only (root and downstream ports). */
        public boolean isDownstreamPort() {
            return this == ROOT_PORT || this == DOWNSTREAM_PORT;
        }
    }

    /**
     * What a device declares: structure version (1: 0x14 bytes, 2: 0x3c bytes), type, slot,
     * and the read-only capability registers QEMU fills for it.
     */
    public record Layout(int version, PortType type, boolean slot, int devcap, int linkcap,
                         int slotcap, int devcap2, int linkcap2, int linkctl2) {
        public int size() {
            return version == 1 ? V1_SIZE : V2_SIZE;
        }

        /** QEMU's endpoints ({@code pcie_endpoint_cap_init}): v1 (e1000e) or v2, FLR optional. */
        public static Layout endpoint(int version, PortType type, boolean flr) {
            return new Layout(version, type, false, DEVCAP_RBER | (flr ? DEVCAP_FLR : 0), LNKCAP_X1_2_5GT_L0S,
                    0, version == 2 ? DEVCAP2_EFF_EETLPP : 0, 0, 0);
        }

        /** The same layout with another type (QEMU turns endpoints on pcie.0 into RC endpoints). */
        public Layout withType(PortType t) {
            return new Layout(version, t, slot, devcap, linkcap, slotcap, devcap2, linkcap2, linkctl2);
        }
    }

    /** Declares the structure at {@code off} (the caller links it into the list). */
    public static void declare(ConfigSpace c, int off, Layout l) {
        c.define(off, l.size(), 0, 0, 0);
        c.set(off, 1, PciRegs.CAP_ID_EXP);
        c.define(off + FLAGS, 2, l.version() | l.type().code << 4 | (l.slot() ? FLAGS_SLOT : 0), 0, 0);
        c.define(off + DEVCAP, 4, l.devcap(), 0, 0);
        boolean flr = (l.devcap() & DEVCAP_FLR) != 0;
        c.define(off + DEVCTL, 2, 0, DEVCTL_ERROR_REPORTING | (flr ? DEVCTL_BCR_FLR : 0), 0);
        c.define(off + DEVSTA, 2, 0, 0, 0x000f);
        c.define(off + LNKCAP, 4, l.linkcap(), 0, 0);
        c.define(off + LNKSTA, 2, LNKSTA_X1_2_5GT, 0, 0);
        if (l.version() == 1) {
            return;
        }
        if (l.slot()) {
            c.define(off + SLTCAP, 4, l.slotcap(), 0, 0);
            c.define(off + SLTCTL, 2, SLTCTL_EMPTY, 0x1fff, 0);
            c.define(off + SLTSTA, 2, 0, 0, 0x011f);
        }
        if (l.type() == PortType.ROOT_PORT) {
            c.define(off + RTCTL, 2, 0, 0x001f, 0);
        }
        c.define(off + DEVCAP2, 4, l.devcap2(), 0, 0);
        boolean ariFwd = (l.devcap2() & DEVCAP2_ARI_FORWARDING) != 0;
        c.define(off + DEVCTL2, 2, 0, ariFwd ? DEVCTL2_ARI_FORWARDING : 0, 0);
        c.define(off + LNKCAP2, 4, l.linkcap2(), 0, 0);
        c.define(off + LNKCTL2, 2, l.linkctl2(), 0, 0);
    }

    public static int version(int flags) {
        return flags & 0xf;
    }

    public static PortType portType(int flags) {
        return PortType.of((flags >>> 4) & 0xf);
    }

    /** Link status a port shows for its maximum link (speed 3:0 and width 9:4 of link capabilities). */
    public static int maxLinkStatus(int linkcap) {
        return linkcap & 0x3ff;
    }
}
