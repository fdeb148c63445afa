package io.viommu.host;

import static io.viommu.linux.acpi.LittleEndian.u16;
import static io.viommu.linux.acpi.LittleEndian.u32;
import static io.viommu.linux.acpi.LittleEndian.u64;
import static io.viommu.linux.acpi.LittleEndian.u8;

import io.viommu.linux.acpi.AcpiHeader;
import java.util.ArrayList;
import java.util.List;

/**
 * The ACPI I/O Virtualization Reporting Structure (AMD IOMMU spec 48882, section 5.2): enough to
 * say which IOMMUs firmware describes.
 * <pre>
 *  0  ACPI header (36 bytes, signature "IVRS", {@link AcpiHeader})
 *  36 IVinfo u32: bit 0 EFRSup, 14:8 PASize, 21:15 VASize, 22 HATDis
 *  48 blocks: type u8, flags u8, length u16
 *     0x10/0x11/0x40 IVHD: +4 IOMMU device id (BDF) u16, +6 capability offset, +8 base u64, +16 segment u16
 *     0x20/0x21/0x22 IVMD (memory definitions, the AMD analogue of RMRRs)
 * </pre>
 */
public record IvrsTable(String oemId, int ivinfo, List<Ivhd> ivhds, int ivmds, List<String> problems) {
    static final int IVINFO = 36;
    static final int BLOCKS = 48;

    public record Ivhd(int type, int flags, int deviceId, long base, int segment) {
    }

    public static IvrsTable parse(byte[] t) {
        AcpiHeader h = AcpiHeader.of(t);
        List<Ivhd> ivhds = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        int ivmds = 0;
        if (t.length < BLOCKS || !h.signature().equals("IVRS")) {
            problems.add("not an IVRS table (" + t.length + " bytes)");
            return new IvrsTable(h.oemId(), 0, List.of(), 0, problems);
        }
        int end = (int) Math.min(t.length, h.length());
        int off = BLOCKS;
        while (off + 4 <= end) {
            int type = u8(t, off);
            int len = u16(t, off + 2);
            if (len < 4 || off + len > end) {
                problems.add(String.format("block at offset %d has bad length %d", off, len));
                break;
            }
            if (type == 0x10 || type == 0x11 || type == 0x40) {
                ivhds.add(new Ivhd(type, u8(t, off + 1), u16(t, off + 4), u64(t, off + 8), u16(t, off + 16)));
            } else if (type >= 0x20 && type <= 0x22) {
                ivmds++;
            }
            off += len;
        }
        return new IvrsTable(h.oemId(), u32(t, IVINFO), List.copyOf(ivhds), ivmds, List.copyOf(problems));
    }
}
