package io.viommu.machine.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The fw_cfg file {@code etc/table-loader}: commands for the firmware that installs ACPI
 * tables (QEMU hw/acpi/bios-linker-loader.c). Each command is 128 bytes, little-endian:
 * <pre>
 *  ALLOCATE (1):     le32 command, file[56], le32 alignment, u8 zone (1 high, 2 FSEG)
 *  ADD_CHECKSUM (3): le32 command, file[56], le32 checksum offset, le32 start, le32 length
 * </pre>
 * As in QEMU, tables are published with a zero checksum byte and an ADD_CHECKSUM command.
 */
public final class TableLoader {
    public static final int ENTRY_SIZE = 128;
    public static final int FILE_NAME_SIZE = 56;
    public static final int COMMAND_ALLOCATE = 1;
    public static final int COMMAND_ADD_CHECKSUM = 3;
    public static final int ZONE_HIGH = 1;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public TableLoader allocate(String file, int alignment, int zone) {
        byte[] e = entry(COMMAND_ALLOCATE, file);
        le32(e, 60, alignment);
        e[64] = (byte) zone;
        out.writeBytes(e);
        return this;
    }

    public TableLoader addChecksum(String file, int checksumOffset, int start, int length) {
        byte[] e = entry(COMMAND_ADD_CHECKSUM, file);
        le32(e, 60, checksumOffset);
        le32(e, 64, start);
        le32(e, 68, length);
        out.writeBytes(e);
        return this;
    }

    public byte[] bytes() {
        return out.toByteArray();
    }

    private static byte[] entry(int command, String file) {
        byte[] e = new byte[ENTRY_SIZE];
        le32(e, 0, command);
        byte[] name = file.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(name, 0, e, 4, Math.min(name.length, FILE_NAME_SIZE - 1));
        return e;
    }

    static void le32(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
        b[off + 2] = (byte) (v >>> 16);
        b[off + 3] = (byte) (v >>> 24);
    }

    static int readLe32(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24;
    }

    /** Runs the ADD_CHECKSUM commands of {@code loader} on {@code blob} of {@code file} (what firmware does). */
    public static void applyChecksums(byte[] loader, String file, byte[] blob) {
        for (int off = 0; off + ENTRY_SIZE <= loader.length; off += ENTRY_SIZE) {
            if (readLe32(loader, off) != COMMAND_ADD_CHECKSUM) {
                continue;
            }
            String name = new String(loader, off + 4, FILE_NAME_SIZE, StandardCharsets.US_ASCII).replace("\0", "");
            if (!name.equals(file)) {
                continue;
            }
            int at = readLe32(loader, off + 60);
            int start = readLe32(loader, off + 64);
            int len = readLe32(loader, off + 68);
            blob[at] = 0;
            blob[at] = (byte) -AcpiTable.sum(blob, start, len);
        }
    }
}
