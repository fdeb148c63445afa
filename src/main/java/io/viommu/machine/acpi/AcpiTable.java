package io.viommu.machine.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * An ACPI system description table under construction: the 36-byte header (ACPI 6.x 5.2.6)
 * with QEMU's identifiers (acpi_table_begin/acpi_table_end in hw/acpi/aml-build.c), then
 * little-endian fields appended in order.
 * <pre>
 *   0  signature[4]   4 length (le32)   8 revision   9 checksum (whole table sums to 0)
 *  10  OEM id[6] "BOCHS "   16 OEM table id[8] "BXPC    "   24 OEM revision (le32) 1
 *  28  creator id[4] "BXPC"  32 creator revision (le32) 1
 * </pre>
 */
public final class AcpiTable {
    public static final int HEADER_SIZE = 36;
    public static final int CHECKSUM_OFFSET = 9;
    public static final String QEMU_OEM_ID = "BOCHS ";
    public static final String QEMU_OEM_TABLE_ID = "BXPC    ";
    public static final String QEMU_CREATOR_ID = "BXPC";

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public AcpiTable(String signature, int revision) {
        ascii(signature, 4);
        u32(0); // length, patched in finish()
        u8(revision);
        u8(0); // checksum, patched in finish()
        ascii(QEMU_OEM_ID, 6);
        ascii(QEMU_OEM_TABLE_ID, 8);
        u32(1);
        ascii(QEMU_CREATOR_ID, 4);
        u32(1);
    }

    public AcpiTable u8(int v) {
        out.write(v & 0xff);
        return this;
    }

    public AcpiTable u16(int v) {
        return u8(v).u8(v >>> 8);
    }

    public AcpiTable u32(long v) {
        return u16((int) v).u16((int) (v >>> 16));
    }

    public AcpiTable u64(long v) {
        return u32(v).u32(v >>> 32);
    }

    public AcpiTable zeros(int n) {
        for (int i = 0; i < n; i++) {
            u8(0);
        }
        return this;
    }

    public AcpiTable bytes(byte[] b) {
        out.writeBytes(b);
        return this;
    }

    private void ascii(String s, int len) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < len; i++) {
            out.write(i < b.length ? b[i] : ' ');
        }
    }

    /** The finished table: length patched, checksum making the byte sum 0. */
    public byte[] finish() {
        byte[] t = out.toByteArray();
        t[4] = (byte) t.length;
        t[5] = (byte) (t.length >>> 8);
        t[6] = (byte) (t.length >>> 16);
        t[7] = (byte) (t.length >>> 24);
        t[CHECKSUM_OFFSET] = 0;
        t[CHECKSUM_OFFSET] = (byte) -sum(t, 0, t.length);
        return t;
    }

    public static int sum(byte[] b, int off, int len) {
        int s = 0;
        for (int i = 0; i < len; i++) {
            s += b[off + i];
        }
        return s & 0xff;
    }

    public static boolean checksumValid(byte[] table) {
        return table.length >= HEADER_SIZE && sum(table, 0, table.length) == 0;
    }

    /** The 4-character signature of a table. */
    public static String signature(byte[] table, int offset) {
        return new String(table, offset, 4, StandardCharsets.US_ASCII);
    }

    public static int length(byte[] table, int offset) {
        return (table[offset + 4] & 0xff) | (table[offset + 5] & 0xff) << 8 | (table[offset + 6] & 0xff) << 16
                | (table[offset + 7] & 0xff) << 24;
    }
}
