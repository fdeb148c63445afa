package io.viommu.linux.acpi;

import static io.viommu.linux.acpi.LittleEndian.u16;
import static io.viommu.linux.acpi.LittleEndian.u64;
import static io.viommu.linux.acpi.LittleEndian.u8;

import io.viommu.machine.Machine;
import java.util.ArrayList;
import java.util.List;

/**
 * The ACPI DMAR table as the kernel sees it (VT-d spec 8.1-8.5): header, host address width,
 * flags, and the remapping structures in table order. This is the one decoder of DMAR bytes:
 * the kernel model learns about remapping units from the bytes the firmware hands over
 * ({@link #of}, strict), and host scan reads a real machine's /sys/firmware/acpi/tables/DMAR
 * ({@link #read}, lenient). {@link io.viommu.machine.acpi.DmarTable} is the one builder.
 *
 * <p>Layout (little endian):
 * <pre>
 *  0  ACPI header (36 bytes, {@link AcpiHeader}): "DMAR", length, revision, checksum, OEM ids, creator
 *  36 host address width - 1   37 flags (0 INTR_REMAP, 1 X2APIC_OPT_OUT, 2 DMA_CTRL_PLATFORM_OPT_IN)
 *  38 reserved (10)   48 remapping structures: type (2), length (2), ...
 *  DRHD (type 0): 4 flags (0 INCLUDE_PCI_ALL) 5 rsvd 6 segment 8 register base (8) 16 scopes
 *  RMRR (type 1): 4 rsvd 6 segment 8 base (8) 16 limit (8, inclusive) 24 scopes
 *  ATSR (type 2): 4 flags (0 ALL_PORTS) 5 rsvd 6 segment 8 scopes
 *  RHSA (3), ANDD (4): no device scopes; SATC (5): 4 flags 5 rsvd 6 segment 8 scopes
 *  scope: 0 type (1 endpoint, 2 bridge, 3 IOAPIC, 4 HPET, 5 ACPI namespace) 1 length
 *         2 rsvd (2) 4 enumeration id 5 start bus 6 path: (device, function) pairs
 * </pre>
 *
 * @param hostAddressWidth the raw field: the width in bits minus one
 * @param problems         why decoding stopped short (empty for a well-formed table); {@link #parse}
 *                         rejects a table with problems, {@link #read} keeps what was decoded before
 */
public record DmarTable(int length, int revision, String oemId, String oemTableId, long oemRevision,
                        String creatorId, long creatorRevision, int hostAddressWidth, int flags,
                        List<Structure> structures, List<String> problems) {
    public static final int HEADER_SIZE = 48;
    public static final int FLAG_INTR_REMAP = 1;
    public static final int FLAG_X2APIC_OPT_OUT = 2;
    public static final int FLAG_DMA_CTRL_PLATFORM_OPT_IN = 4;
    public static final int TYPE_DRHD = 0;
    public static final int TYPE_RMRR = 1;
    public static final int TYPE_ATSR = 2;
    public static final int TYPE_RHSA = 3;
    public static final int TYPE_ANDD = 4;
    public static final int TYPE_SATC = 5;
    public static final int SCOPE_ENDPOINT = 1;
    public static final int SCOPE_BRIDGE = 2;
    public static final int SCOPE_IOAPIC = 3;
    public static final int SCOPE_HPET = 4;
    public static final int SCOPE_ACPI_NAMESPACE = 5;
    public static final int DRHD_INCLUDE_PCI_ALL = 1;
    public static final int ATSR_ALL_PORTS = 1;
    static final int HAW = 36;
    static final int FLAGS = 37;
    static final int SCOPE_HEADER = 6;

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

    public boolean interruptRemapping() {
        return (flags & FLAG_INTR_REMAP) != 0;
    }

    public boolean x2apicOptOut() {
        return (flags & FLAG_X2APIC_OPT_OUT) != 0;
    }

    public boolean dmaControlOptIn() {
        return (flags & FLAG_DMA_CTRL_PLATFORM_OPT_IN) != 0;
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
        DmarTable t = read(table);
        if (!t.problems().isEmpty()) {
            throw new IllegalArgumentException(t.problems().get(0));
        }
        return t;
    }

    /**
     * Decodes DMAR table bytes leniently (a real machine's firmware): never throws. A table that
     * is not DMAR at all gives length 0 and no structures; a structure whose length does not fit
     * ends the walk; a device scope whose length does not fit ends its structure's scopes. Each
     * is described in {@link #problems()}.
     */
    public static DmarTable read(byte[] t) {
        AcpiHeader h = AcpiHeader.of(t);
        List<String> problems = new ArrayList<>();
        if (t.length < HEADER_SIZE || !"DMAR".equals(h.signature())) {
            problems.add("not a DMAR table (" + t.length + " bytes)");
            return new DmarTable(0, 0, h.oemId(), "", 0, "", 0, 0, 0, List.of(), List.copyOf(problems));
        }
        int length = (int) Math.min(h.length(), Integer.MAX_VALUE);
        if (length < HEADER_SIZE || length > t.length) {
            problems.add(String.format("table length %d does not fit the %d bytes read", h.length(), t.length));
        }
        int end = Math.min(length, t.length);
        List<Structure> structures = new ArrayList<>();
        int off = HEADER_SIZE;
        while (off + 4 <= end) {
            int type = u16(t, off);
            int len = u16(t, off + 2);
            int scopesAt = scopesAt(type);
            if (len < Math.max(4, scopesAt) || off + len > end) {
                problems.add(String.format("structure at offset %d has bad length %d", off, len));
                break;
            }
            boolean scoped = scopesAt > 0;
            int flags = type == TYPE_DRHD || type == TYPE_ATSR || type == TYPE_SATC ? u8(t, off + 4) : 0;
            int segment = scoped ? u16(t, off + 6) : 0;
            long a = type == TYPE_DRHD || type == TYPE_RMRR ? u64(t, off + 8) : 0;
            long lim = type == TYPE_RMRR ? u64(t, off + 16) : 0;
            List<Scope> scopes = scoped ? scopes(t, off + scopesAt, off + len, problems) : List.of();
            structures.add(new Structure(type, len, flags, segment, a, lim, scopes));
            off += len;
        }
        return new DmarTable(length, h.revision(), h.oemId(), h.oemTableId(), h.oemRevision(), h.creatorId(),
                h.creatorRevision(), u8(t, HAW), u8(t, FLAGS), List.copyOf(structures), List.copyOf(problems));
    }

    /** Where a structure's device scopes start; 0 for the types without scopes. */
    private static int scopesAt(int type) {
        return switch (type) {
            case TYPE_DRHD -> 16;
            case TYPE_RMRR -> 24;
            case TYPE_ATSR, TYPE_SATC -> 8;
            default -> 0;
        };
    }

    private static List<Scope> scopes(byte[] t, int off, int end, List<String> problems) {
        List<Scope> scopes = new ArrayList<>();
        while (off + SCOPE_HEADER <= end) {
            int len = u8(t, off + 1);
            if (len < SCOPE_HEADER || off + len > end) {
                problems.add(String.format("device scope at offset %d has bad length %d", off, len));
                break;
            }
            List<int[]> path = new ArrayList<>();
            for (int p = off + SCOPE_HEADER; p + 2 <= off + len; p += 2) {
                path.add(new int[] {u8(t, p), u8(t, p + 1)});
            }
            scopes.add(new Scope(u8(t, off), u8(t, off + 4), u8(t, off + 5), List.copyOf(path)));
            off += len;
        }
        return List.copyOf(scopes);
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
