package io.viommu.linux.driver;

import io.viommu.pci.AcsCapability;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.PcieCapability.PortType;
import io.viommu.pci.Topology;
import java.util.Set;

/**
 * Linux 6.1's view of Access Control Services: {@code pci_acs_enabled} (drivers/pci/pci.c) with
 * the device-specific table {@code pci_dev_acs_enabled[]} (drivers/pci/quirks.c, 6.1.y), and
 * {@code pci_std_enable_acs}, which turns the controls on when an IOMMU asked for ACS.
 *
 * <p>Quirks that can fire on devices viommu models:
 * <ul>
 * <li>{@code pci_quirk_mf_endpoint_acs} for the listed Intel/Solarflare/... multifunction
 *     endpoints (the 82576 PF 8086:10c9 among them; its VF 8086:10ca is not listed, and needs
 *     nothing: a VF is never multifunction): SV|TB|RR|CR|UF|DT count as enabled.</li>
 * <li>{@code pci_quirk_rciep_acs} for any Intel (8086) root-complex integrated endpoint:
 *     SV|RR|CR|UF count as enabled (VT-d spec 3.16). Intel devices QEMU puts on pcie.0 as
 *     RCiEPs (e1000e, igb) are therefore isolated even as multifunction devices.</li>
 * </ul>
 * The Intel PCH root-port lists (0x3b42.., Sunrise Point 0xa110..) match no QEMU device (ioh3420
 * is 8086:3420), so they return "no quirk" here; the AMD SB quirk needs an IVRS table (none on
 * q35); the other vendors' entries are listed for completeness of the vendor:device match.
 */
public final class AcsCheck {
    /** REQ_ACS_FLAGS of drivers/iommu/iommu.c: what a PCI device needs to be isolated. */
    public static final int REQ_ACS_FLAGS = AcsCapability.SV | AcsCapability.RR | AcsCapability.CR | AcsCapability.UF;
    private static final int MF_ENDPOINT_ENABLED = AcsCapability.SV | AcsCapability.TB | AcsCapability.RR
            | AcsCapability.CR | AcsCapability.UF | AcsCapability.DT;
    static final int INTEL = 0x8086;
    static final int SOLARFLARE = 0x1924;
    static final int BROADCOM = 0x14e4;
    static final int CAVIUM = 0x177d;
    static final int ZHAOXIN = 0x1d17;

    /** Intel entries of pci_dev_acs_enabled[] that use pci_quirk_mf_endpoint_acs (6.1.y). */
    static final Set<Integer> INTEL_MF_ENDPOINTS = Set.of(
            0x10C6, 0x10DB, 0x10DD, 0x10E1, 0x10F1, 0x10F7, 0x10F8, 0x10F9, 0x10FA, 0x10FB, 0x10FC,
            0x1507, 0x1514, 0x151C, 0x1529, 0x152A, 0x154D, 0x154F, 0x1551, 0x1558,
            0x1509, 0x150E, 0x150F, 0x1510, 0x1511, 0x1516, 0x1527,          // 82580
            0x10C9, 0x10E6, 0x10E7, 0x10E8, 0x150A, 0x150D, 0x1518, 0x1526,  // 82576
            0x10A7, 0x10A9, 0x10D6,                                          // 82575
            0x1521, 0x1522, 0x1523, 0x1524,                                  // I350
            0x105E, 0x105F, 0x1060, 0x10D9,                                  // 82571
            0x15b7, 0x15b8);                                                 // I219
    /** Other vendors' pci_quirk_mf_endpoint_acs entries, as vendor << 16 | device. */
    static final Set<Integer> OTHER_MF_ENDPOINTS = Set.of(
            SOLARFLARE << 16 | 0x0903, SOLARFLARE << 16 | 0x0923, SOLARFLARE << 16 | 0x0A03,
            0x19a2 << 16 | 0x0710, 0x10df << 16 | 0x0720,
            CAVIUM << 16 | 0xA026, CAVIUM << 16 | 0xA059, CAVIUM << 16 | 0xA060,
            BROADCOM << 16 | 0x16D7, BROADCOM << 16 | 0x1750, BROADCOM << 16 | 0x1751, BROADCOM << 16 | 0x1752,
            BROADCOM << 16 | 0x1760, BROADCOM << 16 | 0x1761, BROADCOM << 16 | 0x1762, BROADCOM << 16 | 0x1763,
            ZHAOXIN << 16 | 0x3038, ZHAOXIN << 16 | 0x3104, ZHAOXIN << 16 | 0x9083);

    private final AcsOverride override;

    public AcsCheck(AcsOverride override) {
        this.override = override == null ? AcsOverride.NONE : override;
    }

    /** Without the what-if override: exactly Linux 6.1. */
    public static AcsCheck linux() {
        return new AcsCheck(AcsOverride.NONE);
    }

    public AcsOverride override() {
        return override;
    }

    /** pci_acs_enabled(dev, flags), for a function not on an ARI bus (see the topology form). */
    public boolean enabled(Topology.Function f, int flags) {
        return enabled(null, f, flags);
    }

    /** pci_acs_enabled(dev, flags); {@code topology} tells whether f's bus forwards ARI. */
    public boolean enabled(Topology topology, Topology.Function f, int flags) {
        boolean mf = multifunction(topology, f);
        int quirk = quirk(f, mf, flags);
        if (quirk >= 0) {
            return quirk > 0;
        }
        if (!f.isExpress()) {
            return false; // conventional PCI shares its bus: never isolated
        }
        PortType t = f.portType();
        return switch (t) {
            case PCI_TO_PCIE_BRIDGE, PCIE_TO_PCI_BRIDGE, RC_EVENT_COLLECTOR -> false;
            case DOWNSTREAM_PORT, ROOT_PORT -> flagsEnabled(f, flags);
            case ENDPOINT, UPSTREAM_PORT, LEGACY_ENDPOINT, RC_INTEGRATED_ENDPOINT ->
                    !mf || flagsEnabled(f, flags);
        };
    }

    /**
     * Linux's {@code dev->multifunction}: the header type bit, and also every function a slot
     * scan finds after the first (pci_scan_slot sets it for fn > 0; on a bus with ARI
     * forwarding every devfn but 0). A VF is never multifunction (virtfn_add).
     */
    public static boolean multifunction(Topology topology, Topology.Function f) {
        if (f.virtualFunction()) {
            return false;
        }
        if (f.multiFunction()) {
            return true;
        }
        boolean ari = false;
        if (topology != null && f.parentBridge() != null) {
            ari = topology.function(f.parentBridge()).map(Topology.Function::ariForwardingEnabled).orElse(false);
        }
        return ari ? f.rid().devfn() != 0 : f.rid().function() != 0;
    }

    /** pci_acs_flags_enabled: no capability, not enabled; unimplemented bits count as enabled. */
    static boolean flagsEnabled(Topology.Function f, int flags) {
        return f.acs() != null && f.acs().enabled(flags);
    }

    /**
     * pci_dev_specific_acs_enabled: the first table entry that matches vendor/device and does not
     * answer -ENOTTY decides. Returns -1 (no quirk), 0 or 1.
     */
    public int quirk(Topology.Function f, int flags) {
        return quirk(f, multifunction(null, f), flags);
    }

    private int quirk(Topology.Function f, boolean mf, int flags) {
        int vendor = f.vendorId();
        int device = f.deviceId();
        if ((vendor == INTEL && INTEL_MF_ENDPOINTS.contains(device))
                || OTHER_MF_ENDPOINTS.contains(vendor << 16 | device)) {
            return ctrlEnabled(flags, MF_ENDPOINT_ENABLED);
        }
        if (vendor == INTEL && f.portType() == PortType.RC_INTEGRATED_ENDPOINT) {
            return ctrlEnabled(flags, REQ_ACS_FLAGS); // pci_quirk_rciep_acs
        }
        // pci_quirk_intel_pch_acs / _spt_pch_acs: root ports with listed ids only.
        if (vendor == INTEL && f.portType() == PortType.ROOT_PORT && intelPchRootPort(device)) {
            return ctrlEnabled(flags, 0); // PCI_DEV_FLAGS_ACS_ENABLED_QUIRK is never set here
        }
        if (override.active()) {
            return overrideQuirk(f, mf);
        }
        return -1;
    }

    private static boolean intelPchRootPort(int d) {
        return (d >= 0x3b42 && d <= 0x3b51) || (d >= 0x1c10 && d <= 0x1c1f) || (d >= 0x1e10 && d <= 0x1e1f)
                || (d >= 0x8c10 && d <= 0x8c1f) || (d >= 0x9c10 && d <= 0x9c1b) || (d >= 0x9c90 && d <= 0x9c9b)
                || (d >= 0x1d10 && d <= 0x1d1e && (d & 1) == 0) || (d >= 0x8d10 && d <= 0x8d1e)
                || (d >= 0x8c90 && d <= 0x8c9e && (d & 1) == 0);
    }

    /** pci_acs_ctrl_enabled. */
    private static int ctrlEnabled(int req, int enabled) {
        return (req & enabled) == req ? 1 : 0;
    }

    /** The what-if patch's pcie_acs_overrides (last table entry, PCI_ANY_ID:PCI_ANY_ID). */
    private int overrideQuirk(Topology.Function f, boolean mf) {
        if (!f.isExpress() || f.acs() != null) {
            return -1;
        }
        if (override.matchesId(f.vendorId(), f.deviceId())) {
            return 1;
        }
        return switch (f.portType()) {
            case DOWNSTREAM_PORT, ROOT_PORT -> override.downstream() ? 1 : -1;
            case ENDPOINT, UPSTREAM_PORT, LEGACY_ENDPOINT, RC_INTEGRATED_ENDPOINT ->
                    override.multifunction() && mf ? 1 : -1;
            default -> -1;
        };
    }

    /**
     * pci_std_enable_acs, as pci_acs_init runs it for every device once an IOMMU driver called
     * pci_request_acs(): SV, RR, CR and UF are set where the capability advertises them
     * (TB only for untrusted/external devices or pci=noats, which viommu never has). Writes go
     * through configuration cycles, so the model's registers show what Linux programmed.
     */
    public static void enableAcs(ConfigAccess cfg, Topology topology) {
        for (Topology.Function f : topology.functions()) {
            Topology.Acs acs = f.acs();
            if (acs == null) {
                continue;
            }
            int cap = (int) cfg.read(f.rid(), acs.offset() + AcsCapability.CAP, 2);
            int ctrl = (int) cfg.read(f.rid(), acs.offset() + AcsCapability.CTRL, 2);
            ctrl |= cap & REQ_ACS_FLAGS;
            cfg.write(f.rid(), acs.offset() + AcsCapability.CTRL, ctrl, 2);
        }
    }
}
