package io.viommu.linux.acpi;

import java.nio.charset.StandardCharsets;

/**
 * The 36-byte header every ACPI system description table starts with (ACPI 6.x 5.2.6), as the
 * kernel reads it from the table's bytes; {@link io.viommu.machine.acpi.AcpiTable} writes it.
 * <pre>
 *   0  signature[4]   4 length (le32)   8 revision   9 checksum
 *  10  OEM id[6]   16 OEM table id[8]   24 OEM revision (le32)   28 creator id[4]   32 creator revision (le32)
 * </pre>
 * Text fields are trimmed of their space (or NUL) padding. Reading never throws: what lies past
 * the end of a short image reads as 0 or "".
 */
public record AcpiHeader(String signature, long length, int revision, String oemId, String oemTableId,
                         long oemRevision, String creatorId, long creatorRevision) {
    public static final int SIZE = 36;

    public static AcpiHeader of(byte[] t) {
        return new AcpiHeader(ascii(t, 0, 4), LittleEndian.u32(t, 4) & 0xffff_ffffL, LittleEndian.u8(t, 8),
                ascii(t, 10, 6), ascii(t, 16, 8), LittleEndian.u32(t, 24) & 0xffff_ffffL, ascii(t, 28, 4),
                LittleEndian.u32(t, 32) & 0xffff_ffffL);
    }

    /** The ASCII field at [off, off+len), trimmed; "" when the image ends before it. */
    private static String ascii(byte[] t, int off, int len) {
        return t.length >= off + len ? new String(t, off, len, StandardCharsets.US_ASCII).trim() : "";
    }
}
