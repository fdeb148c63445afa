package io.viommu.linux;

import io.viommu.machine.Machine;
import io.viommu.pci.PciBridge;
import io.viommu.pci.PciFunction;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The ACPI DMAR table as the kernel sees it (VT-d spec 8.1-8.5): header, host address width,
 * flags, and the remapping structures in table order. This is the one place the kernel model
 * learns about remapping units: it parses the bytes the firmware hands over ({@link #of}).
 *
 * <p>Layout (little endian):
 * <pre>
 *  0  "DMAR"  4 length  8 revision  9 checksum  10 OEM id (6)  16 OEM table id (8)
 *  24 OEM revision  28 creator id (4)  32 creator revision       (36-byte ACPI header)
 *  36 host address width - 1   37 flags (0 INTR_REMAP, 1 X2APIC_OPT_OUT, 2 DMA_CTRL_OPT_IN)
 *  38 reserved (10)   48 remapping structures: type (2), length (2), ...
 *  DRHD (type 0): 4 flags (0 INCLUDE_PCI_ALL) 5 rsvd 6 segment 8 register base (8) 16 scopes
 *  RMRR (type 1): 4 rsvd 6 segment 8 base (8) 16 limit (8) 24 scopes
 *  ATSR (type 2): 4 flags (0 ALL_PORTS) 5 rsvd 6 segment 8 scopes
 *  scope: 0 type (1 endpoint, 2 bridge, 3 IOAPIC, 4 HPET, 5 ACPI namespace) 1 length
 *         2 rsvd (2) 4 enumeration id 5 start bus 6 path: (device, function) pairs
 * </pre>
 */
public record DmarTable(int length, int revision, String oemId, String oemTableId, long oemRevision,
                        String creatorId, long creatorRevision, int hostAddressWidth, int flags,
                        List<Structure> structures) {
    public static final int HEADER_SIZE = 48;
    public static final int FLAG_INTR_REMAP = 1;
    public static final int FLAG_X2APIC_OPT_OUT = 2;
    public static final int TYPE_DRHD = 0;
    public static final int TYPE_RMRR = 1;
    public static final int TYPE_ATSR = 2;
    public static final int TYPE_RHSA = 3;
    public static final int TYPE_ANDD = 4;
    public static final int TYPE_SATC = 5;
    public static final int SCOPE_ENDPOINT = 1;
    public static final int SCOPE_BRIDGE = 2;
    public static final int SCOPE_IOAPIC = 3;
    public static final int DRHD_INCLUDE_PCI_ALL = 1;
    public static final int ATSR_ALL_PORTS = 1;

    /** One device scope: type, enumeration id, start bus and the (device, function) path. */
    public record Scope(int type, int enumerationId, int startBus, List<int[]> path) {
        /** The scope's own bus/devfn when its path has one hop (what QEMU writes). */
        public int devfn() {
            int[] last = path.get(path.size() - 1);
            return last[0] << 3 | last[1];
        }
    }

    /** A remapping structure; {@code a}/{@code b} are the type's addresses (DRHD base; RMRR base, limit). */
    public record Structure(int type, int length, int flags, int segment, long a, long b, List<Scope> scopes) {
    }

    /** The structures of one type, in table order. */
    public List<Structure> of(int type) {
        return structures.stream().filter(s -> s.type() == type).toList();
    }

    /**
     * The table the machine's firmware hands over ({@link Machine#dmarTable()}, the same bytes
     * QEMU 7.2 publishes through fw_cfg), parsed; null without an IOMMU.
     */
    public static DmarTable of(Machine machine) {
        byte[] bytes = machine.dmarTable();
        return bytes == null ? null : parse(bytes);
    }

    /** Parses DMAR table bytes (as firmware publishes them). Malformed input: IllegalArgumentException. */
    public static DmarTable parse(byte[] table) {
        ByteBuffer b = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
        if (table.length < HEADER_SIZE || !"DMAR".equals(ascii(table, 0, 4))) {
            throw new IllegalArgumentException("not a DMAR table");
        }
        int length = b.getInt(4);
        if (length < HEADER_SIZE || length > table.length) {
            throw new IllegalArgumentException("DMAR length " + length + " out of range");
        }
        List<Structure> structures = new ArrayList<>();
        int off = HEADER_SIZE;
        while (off + 4 <= length) {
            int type = b.getShort(off) & 0xffff;
            int len = b.getShort(off + 2) & 0xffff;
            if (len < 4 || off + len > length) {
                throw new IllegalArgumentException("bad remapping structure length " + len + " at " + off);
            }
            int scopesAt = switch (type) {
                case TYPE_DRHD -> 16;
                case TYPE_RMRR -> 24;
                case TYPE_ATSR, TYPE_SATC -> 8;
                default -> len;
            };
            int flags = type == TYPE_DRHD || type == TYPE_ATSR || type == TYPE_SATC ? b.get(off + 4) & 0xff : 0;
            int segment = len >= 8 ? b.getShort(off + 6) & 0xffff : 0;
            long a = type == TYPE_DRHD || type == TYPE_RMRR ? b.getLong(off + 8) : 0;
            long lim = type == TYPE_RMRR ? b.getLong(off + 16) : 0;
            List<Scope> scopes = new ArrayList<>();
            int s = off + scopesAt;
            while (s + 6 <= off + len) {
                int st = b.get(s) & 0xff;
                int sl = b.get(s + 1) & 0xff;
                if (sl < 6 || s + sl > off + len) {
                    throw new IllegalArgumentException("bad device scope length " + sl + " at " + s);
                }
                List<int[]> path = new ArrayList<>();
                for (int p = s + 6; p + 1 < s + sl; p += 2) {
                    path.add(new int[] {b.get(p) & 0xff, b.get(p + 1) & 0xff});
                }
                scopes.add(new Scope(st, b.get(s + 4) & 0xff, b.get(s + 5) & 0xff, List.copyOf(path)));
                s += sl;
            }
            structures.add(new Structure(type, len, flags, segment, a, lim, List.copyOf(scopes)));
            off += len;
        }
        return new DmarTable(length, b.get(8) & 0xff, ascii(table, 10, 6).strip(), ascii(table, 16, 8).strip(),
                b.getInt(24) & 0xffff_ffffL, ascii(table, 28, 4).strip(), b.getInt(32) & 0xffff_ffffL,
                b.get(36) & 0xff, b.get(37) & 0xff, List.copyOf(structures));
    }

    private static String ascii(byte[] b, int off, int len) {
        return new String(b, off, len, StandardCharsets.US_ASCII);
    }

    /** Linux's "ACPI: DMAR 0x%016llX %06X (v%02d %-6.6s %-8.8s %08X %-4.4s %08X)" for {@code address}. */
    public String acpiLine(long address) {
        return String.format("ACPI: DMAR 0x%016X %06X (v%02d %-6.6s %-8.8s %08X %-4.4s %08X)", address, length,
                revision, oemId, oemTableId, oemRevision, creatorId, creatorRevision);
    }

    /** Linux's "ACPI: Reserving DMAR table memory at [mem 0x%llx-0x%llx]". */
    public String reserveLine(long address) {
        return String.format("ACPI: Reserving DMAR table memory at [mem 0x%x-0x%x]", address, address + length - 1);
    }
}
