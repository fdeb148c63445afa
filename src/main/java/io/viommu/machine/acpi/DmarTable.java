package io.viommu.machine.acpi;

import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import java.util.List;

/**
 * The ACPI DMA Remapping Reporting table (VT-d spec 8.1) as QEMU 7.2 builds it for q35
 * ({@code build_dmar_q35} in hw/i386/acpi-build.c); checked byte for byte against the table
 * QEMU 7.2 publishes in fw_cfg {@code etc/acpi/tables} for the option sets in
 * DmarTableConformanceTest.
 * <pre>
 *  header (36 bytes, revision 1, see {@link AcpiTable})
 *  36  HAW = aw-bits - 1
 *  37  flags: bit 0 INTR_REMAP when interrupt remapping is supported (QEMU 7.2 never sets
 *      bit 1 X2APIC_OPT_OUT nor bit 2 DMA_CTRL_PLATFORM_OPT_IN)
 *  38  reserved[10]
 *  48  DRHD (type 0): le16 type, le16 length, u8 flags = 0 (QEMU 7.2 does NOT set
 *      INCLUDE_PCI_ALL; it lists every device instead), u8 reserved, le16 segment 0,
 *      le64 register base 0xFED90000, then device scopes:
 *        I/O APIC (type 3): enumeration id 0 (ACPI_BUILD_IOAPIC_ID), start bus 0xFF
 *          (Q35_PSEUDO_BUS_PLATFORM), path 00.0 (Q35_PSEUDO_DEVFN_IOAPIC)
 *        each function on the root bus in devfn order: type 1 (endpoint) or 2 (bridge),
 *          enumeration id 0, start bus 0, path {device, function}
 *  ..  ATSR (type 2) when device-iotlb=on: le16 type, le16 length 8, flags 1 (ALL_PORTS),
 *      reserved, le16 segment 0
 * </pre>
 * Device scopes are 8 bytes: type, length, le16 reserved, enumeration id, start bus, path
 * (device, function).
 */
public final class DmarTable {
    private DmarTable() {
    }

    public static final int FLAG_INTR_REMAP = 1;
    public static final int FLAG_X2APIC_OPT_OUT = 1 << 1;
    public static final int TYPE_DRHD = 0;
    public static final int TYPE_ATSR = 2;
    public static final int SCOPE_ENDPOINT = 1;
    public static final int SCOPE_BRIDGE = 2;
    public static final int SCOPE_IOAPIC = 3;
    public static final int DRHD_INCLUDE_PCI_ALL = 1;
    public static final int ATSR_ALL_PORTS = 1;
    /** QEMU's ACPI_BUILD_IOAPIC_ID. */
    public static final int IOAPIC_ENUMERATION_ID = 0;
    /** QEMU's Q35_PSEUDO_BUS_PLATFORM and Q35_PSEUDO_DEVFN_IOAPIC: the I/O APIC's requester id 0xff00. */
    public static final int IOAPIC_BUS = 0xff;
    public static final int IOAPIC_DEVFN = 0x00;
    static final int SCOPE_SIZE = 8;

    /** One PCI function the DRHD lists (bus, devfn), and whether it is a bridge. */
    public record PciScope(int bus, int devfn, boolean bridge) {
    }

    /**
     * The DMAR table for one unit at {@link IntelIommu#DEFAULT_BASE} with {@code config},
     * listing {@code devices} (the functions on the root bus, in devfn order).
     * The checksum is filled in (QEMU leaves it 0 in fw_cfg and has firmware compute it).
     */
    public static byte[] build(VtdConfig config, List<PciScope> devices) {
        AcpiTable t = new AcpiTable("DMAR", 1);
        t.u8(config.awBits() - 1);
        t.u8(config.intremap() ? FLAG_INTR_REMAP : 0);
        t.zeros(10);
        t.u16(TYPE_DRHD);
        t.u16(16 + SCOPE_SIZE + SCOPE_SIZE * devices.size());
        t.u8(0); // flags: no INCLUDE_PCI_ALL (QEMU 7.2)
        t.u8(0);
        t.u16(0); // segment
        t.u64(IntelIommu.DEFAULT_BASE);
        scope(t, SCOPE_IOAPIC, IOAPIC_ENUMERATION_ID, IOAPIC_BUS, IOAPIC_DEVFN);
        for (PciScope d : devices) {
            scope(t, d.bridge() ? SCOPE_BRIDGE : SCOPE_ENDPOINT, 0, d.bus(), d.devfn());
        }
        if (config.deviceIotlb()) {
            t.u16(TYPE_ATSR).u16(8).u8(ATSR_ALL_PORTS).u8(0).u16(0);
        }
        return t.finish();
    }

    private static void scope(AcpiTable t, int type, int enumerationId, int bus, int devfn) {
        t.u8(type).u8(SCOPE_SIZE).u16(0).u8(enumerationId).u8(bus).u8(devfn >>> 3).u8(devfn & 7);
    }
}
