package io.viommu.host;

import static io.viommu.linux.acpi.LittleEndian.u16;
import static io.viommu.linux.acpi.LittleEndian.u32;
import static io.viommu.linux.acpi.LittleEndian.u8;

import io.viommu.pci.AcsCapability;
import io.viommu.pci.PciRegs;
import io.viommu.pci.PcieCapability;
import io.viommu.pci.PcieCapability.PortType;
import io.viommu.pci.PmCapability;
import io.viommu.pci.SriovCapability;
import io.viommu.pci.Topology;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@code host scan} learns from a device's config space as read from sysfs {@code config}:
 * the header, the capability list (PCI 3.0 section 6.7) and the extended capability list (PCIe base
 * 4.0 section 7.6). Unprivileged readers get only the first 64 bytes (the kernel hides the rest,
 * {@code pci_read_config} in drivers/pci/pci-sysfs.c), so every capability-derived answer is
 * {@code null} or false with {@link #capabilitiesReadable()} telling why.
 *
 * @param length           bytes available (64 unprivileged, 256 conventional, 4096 PCIe)
 * @param headerLayout     0 normal, 1 PCI-to-PCI bridge, 2 CardBus
 * @param multifunction    header type bit 7
 * @param secondaryBus     bridges only, else -1
 * @param pcieType         device/port type from the PCIe capability, null when not PCIe
 * @param flr              function-level reset: PCIe DevCap bit 28 or the AF capability's FLR bit
 * @param pm               has the power-management capability
 * @param pmNoSoftReset    PMCSR No_Soft_Reset: a D3hot->D0 transition does not reset it, so Linux's
 *                         "pm" reset method does not apply
 * @param acs              the ACS capability (the record the kernel model reads too), null when absent
 * @param sriov            the SR-IOV capability, null when absent
 */
public record PciConfig(int length, int headerLayout, boolean multifunction, int secondaryBus,
                        PortType pcieType, boolean flr, boolean afFlr, boolean pm, boolean pmNoSoftReset,
                        boolean msi, boolean msix, Topology.Acs acs, boolean ari, boolean ats, boolean pasid,
                        Sriov sriov, List<String> capabilities) {

    // Capability ids not in io.viommu.pci.PciRegs (PCI code and ID assignment spec 1.11).
    static final int CAP_ID_AF = 0x13;            // Advanced Features: +3 cap (bit 0 TP, bit 1 FLR)
    static final int AF_CAP_FLR = 1 << 1;
    static final int EXT_CAP_ID_PASID = 0x001b;
    static final int CONFIG_UNPRIVILEGED = 64;    // what sysfs gives a non-root reader

    /** SR-IOV capability registers (PCIe base 4.0 section 9.3.3). */
    public record Sriov(int totalVfs, int numVfs, int firstVfOffset, int vfStride, int vfDeviceId, boolean vfEnable) {
    }

    public boolean capabilitiesReadable() {
        return length > CONFIG_UNPRIVILEGED;
    }

    public boolean isBridge() {
        return headerLayout == PciRegs.HEADER_TYPE_BRIDGE;
    }

    /** Parses config space bytes; tolerates truncated input and malformed (looping) lists. */
    public static PciConfig parse(byte[] b) {
        int len = b.length;
        int headerType = u8(b, PciRegs.HEADER_TYPE);
        int layout = headerType & PciRegs.HEADER_TYPE_LAYOUT_MASK;
        boolean mf = (headerType & PciRegs.HEADER_TYPE_MULTI_FUNCTION) != 0;
        int secondary = layout == PciRegs.HEADER_TYPE_BRIDGE ? u8(b, PciRegs.SECONDARY_BUS) : -1;
        PortType type = null;
        boolean flr = false, afFlr = false, pm = false, noSoftReset = false, msi = false, msix = false;
        boolean ari = false, ats = false, pasid = false;
        Topology.Acs acs = null;
        Sriov sriov = null;
        List<String> names = new ArrayList<>();
        if (len > CONFIG_UNPRIVILEGED && (u16(b, PciRegs.STATUS) & PciRegs.STATUS_CAP_LIST) != 0) {
            int ptr = u8(b, PciRegs.CAPABILITY_LIST) & ~3;
            for (int guard = 0; ptr >= PciRegs.HEADER_SIZE && ptr + 2 <= len && guard < 48; guard++) {
                int id = u8(b, ptr);
                switch (id) {
                    case PciRegs.CAP_ID_PM -> {
                        pm = true;
                        noSoftReset = (u16(b, ptr + PmCapability.PMCSR) & PmCapability.PMCSR_NO_SOFT_RESET) != 0;
                        names.add("PM");
                    }
                    case PciRegs.CAP_ID_EXP -> {
                        type = PortType.of((u16(b, ptr + PcieCapability.FLAGS) >> 4) & 0xf);
                        flr = (u32(b, ptr + PcieCapability.DEVCAP) & PcieCapability.DEVCAP_FLR) != 0;
                        names.add("PCIe");
                    }
                    case PciRegs.CAP_ID_MSI -> {
                        msi = true;
                        names.add("MSI");
                    }
                    case PciRegs.CAP_ID_MSIX -> {
                        msix = true;
                        names.add("MSI-X");
                    }
                    case CAP_ID_AF -> {
                        afFlr = (u8(b, ptr + 3) & AF_CAP_FLR) != 0;
                        names.add("AF");
                    }
                    case PciRegs.CAP_ID_VENDOR -> names.add("Vendor");
                    default -> names.add(String.format("cap-%02x", id));
                }
                ptr = u8(b, ptr + 1) & ~3;
            }
        }
        if (type != null && len >= PciRegs.EXT_CAP_START + 4) {
            int ptr = PciRegs.EXT_CAP_START;
            for (int guard = 0; ptr >= PciRegs.EXT_CAP_START && ptr + 4 <= len && guard < 960; guard++) {
                int header = u32(b, ptr);
                if (header == 0 || header == -1) {
                    break;
                }
                int id = header & 0xffff;
                switch (id) {
                    case PciRegs.EXT_CAP_ID_ACS -> {
                        acs = new Topology.Acs(ptr, u16(b, ptr + AcsCapability.CAP), u16(b, ptr + AcsCapability.CTRL));
                        names.add("ACS");
                    }
                    case PciRegs.EXT_CAP_ID_ARI -> {
                        ari = true;
                        names.add("ARI");
                    }
                    case PciRegs.EXT_CAP_ID_ATS -> {
                        ats = true;
                        names.add("ATS");
                    }
                    case EXT_CAP_ID_PASID -> {
                        pasid = true;
                        names.add("PASID");
                    }
                    case PciRegs.EXT_CAP_ID_SRIOV -> {
                        sriov = new Sriov(u16(b, ptr + SriovCapability.TOTAL_VFS), u16(b, ptr + SriovCapability.NUM_VFS),
                                u16(b, ptr + SriovCapability.VF_OFFSET), u16(b, ptr + SriovCapability.VF_STRIDE),
                                u16(b, ptr + SriovCapability.VF_DEVICE_ID),
                                (u16(b, ptr + SriovCapability.CTRL) & SriovCapability.CTRL_VFE) != 0);
                        names.add("SR-IOV");
                    }
                    case PciRegs.EXT_CAP_ID_AER -> names.add("AER");
                    case PciRegs.EXT_CAP_ID_DSN -> names.add("DSN");
                    default -> names.add(String.format("ecap-%04x", id));
                }
                ptr = (header >>> 20) & ~3;
            }
        }
        return new PciConfig(len, layout, mf, secondary, type, flr || afFlr, afFlr, pm, noSoftReset, msi, msix,
                acs, ari, ats, pasid, sriov, List.copyOf(names));
    }
}
