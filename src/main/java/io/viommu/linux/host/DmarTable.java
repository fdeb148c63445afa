package io.viommu.linux.host;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The ACPI DMA Remapping table (Intel VT-d spec 3.4, chapter 8) as firmware hands it to Linux.
 * <pre>
 *  0  ACPI header (36 bytes: signature "DMAR", length u32, revision, checksum, OEM id[6], ...)
 *  36 host address width - 1 (u8)
 *  37 flags: bit 0 INTR_REMAP, bit 1 X2APIC_OPT_OUT, bit 2 DMA_CTRL_PLATFORM_OPT_IN
 *  48 remapping structures: type u16, length u16, body
 *     0 DRHD: +4 flags (bit 0 INCLUDE_PCI_ALL), +6 segment u16, +8 register base u64, +16 scopes
 *     1 RMRR: +6 segment, +8 base u64, +16 limit u64 (inclusive), +24 scopes
 *     2 ATSR: +4 flags (bit 0 ALL_PORTS), +6 segment, +8 scopes
 *     3 RHSA, 4 ANDD, 5 SATC (+4 flags, +6 segment, +8 scopes)
 *  device scope: +0 type (1 endpoint, 2 bridge, 3 IOAPIC, 4 HPET, 5 ACPI namespace), +1 length,
 *     +4 enumeration id, +5 start bus, +6 path of (device, function) pairs
 * </pre>
 * Parsing never throws: a structure with a bad length ends the walk and is reported in {@code problems}.
 */
public record DmarTable(String oemId, int hostAddressWidth, int flags, List<Drhd> drhds, List<Rmrr> rmrrs,
                        List<Atsr> atsrs, List<String> otherStructures, List<String> problems) {
    static final int HEADER = 36;
    static final int HAW = 36;
    static final int FLAGS = 37;
    static final int STRUCTURES = 48;
    public static final int FLAG_INTR_REMAP = 1 << 0;
    public static final int FLAG_X2APIC_OPT_OUT = 1 << 1;
    public static final int FLAG_DMA_CTRL_PLATFORM_OPT_IN = 1 << 2;
    static final int TYPE_DRHD = 0;
    static final int TYPE_RMRR = 1;
    static final int TYPE_ATSR = 2;
    static final int DRHD_INCLUDE_PCI_ALL = 1 << 0;
    static final int ATSR_ALL_PORTS = 1 << 0;

    public record Drhd(int segment, long registerBase, boolean includePciAll, List<String> scopes) {
    }

    public record Rmrr(int segment, long base, long limit, List<String> scopes) {
    }

    public record Atsr(int segment, boolean allPorts, List<String> scopes) {
    }

    public boolean interruptRemapping() {
        return (flags & FLAG_INTR_REMAP) != 0;
    }

    public boolean x2apicOptOut() {
        return (flags & FLAG_X2APIC_OPT_OUT) != 0;
    }

    public boolean dmaControlOptIn() {
        return (flags & FLAG_DMA_CTRL_PLATFORM_OPT_IN) != 0;
    }

    /** OEM id (bytes 10..15 of any ACPI table header), trimmed; "" when too short. */
    public static String oemId(byte[] t) {
        return t.length >= 16 ? new String(t, 10, 6, StandardCharsets.US_ASCII).trim() : "";
    }

    public static DmarTable parse(byte[] t) {
        List<String> problems = new ArrayList<>();
        List<Drhd> drhds = new ArrayList<>();
        List<Rmrr> rmrrs = new ArrayList<>();
        List<Atsr> atsrs = new ArrayList<>();
        List<String> other = new ArrayList<>();
        if (t.length < STRUCTURES || !new String(t, 0, 4, StandardCharsets.US_ASCII).equals("DMAR")) {
            problems.add("not a DMAR table (" + t.length + " bytes)");
            return new DmarTable(oemId(t), 0, 0, List.of(), List.of(), List.of(), List.of(), problems);
        }
        int end = Math.min(t.length, (int) Math.min(Integer.MAX_VALUE, u32(t, 4) & 0xffffffffL));
        int off = STRUCTURES;
        while (off + 4 <= end) {
            int type = u16(t, off);
            int len = u16(t, off + 2);
            if (len < 4 || off + len > end) {
                problems.add(String.format("structure at offset %d has bad length %d", off, len));
                break;
            }
            switch (type) {
                case TYPE_DRHD -> drhds.add(new Drhd(u16(t, off + 6), u64(t, off + 8),
                        (u8(t, off + 4) & DRHD_INCLUDE_PCI_ALL) != 0, scopes(t, off + 16, off + len)));
                case TYPE_RMRR -> rmrrs.add(new Rmrr(u16(t, off + 6), u64(t, off + 8), u64(t, off + 16),
                        scopes(t, off + 24, off + len)));
                case TYPE_ATSR -> atsrs.add(new Atsr(u16(t, off + 6), (u8(t, off + 4) & ATSR_ALL_PORTS) != 0,
                        scopes(t, off + 8, off + len)));
                case 3 -> other.add("RHSA");
                case 4 -> other.add("ANDD");
                case 5 -> other.add("SATC");
                default -> other.add("type " + type);
            }
            off += len;
        }
        return new DmarTable(oemId(t), u8(t, HAW) + 1, u8(t, FLAGS), List.copyOf(drhds), List.copyOf(rmrrs),
                List.copyOf(atsrs), List.copyOf(other), List.copyOf(problems));
    }

    /** Device scopes as text: "endpoint 00:02.0", "bridge 00:1c.0", "IOAPIC 8", "endpoint 00:1c.0/00.0". */
    static List<String> scopes(byte[] t, int off, int end) {
        List<String> out = new ArrayList<>();
        while (off + 6 <= end) {
            int type = u8(t, off);
            int len = u8(t, off + 1);
            if (len < 6 || off + len > end) {
                break;
            }
            String kind = switch (type) {
                case 1 -> "endpoint";
                case 2 -> "bridge";
                case 3 -> "IOAPIC";
                case 4 -> "HPET";
                case 5 -> "ACPI";
                default -> "scope-" + type;
            };
            if (type == 3 || type == 4 || type == 5) {
                out.add(kind + " " + u8(t, off + 4));
            } else {
                StringBuilder sb = new StringBuilder(kind).append(' ').append(String.format("%02x:", u8(t, off + 5)));
                for (int p = off + 6; p + 2 <= off + len; p += 2) {
                    if (p > off + 6) {
                        sb.append('/');
                    }
                    sb.append(String.format("%02x.%x", u8(t, p), u8(t, p + 1)));
                }
                out.add(sb.toString());
            }
            off += len;
        }
        return List.copyOf(out);
    }

    static int u8(byte[] b, int off) {
        return off < b.length ? b[off] & 0xff : 0;
    }

    static int u16(byte[] b, int off) {
        return u8(b, off) | u8(b, off + 1) << 8;
    }

    static int u32(byte[] b, int off) {
        return u16(b, off) | u16(b, off + 2) << 16;
    }

    static long u64(byte[] b, int off) {
        return (u32(b, off) & 0xffffffffL) | (long) u32(b, off + 4) << 32;
    }
}
