package io.viommu.linux.acpi;


/**
 * Fields of byte images the kernel reads (ACPI tables, PCI configuration space): little endian,
 * unsigned. A read past the end gives 0, as the rest of a short read does (sysfs hands an
 * unprivileged reader only the first 64 bytes of config space), so decoders never throw on
 * truncated input and decide for themselves what a short image means.
 */
public final class LittleEndian {
    private LittleEndian() {
    }

    public static int u8(byte[] b, int off) {
        return off >= 0 && off < b.length ? b[off] & 0xff : 0;
    }

    public static int u16(byte[] b, int off) {
        return u8(b, off) | u8(b, off + 1) << 8;
    }

    /** As an int: callers mask with 0xffffffffL where the top bit matters. */
    public static int u32(byte[] b, int off) {
        return u16(b, off) | u16(b, off + 2) << 16;
    }

    public static long u64(byte[] b, int off) {
        return (u32(b, off) & 0xffff_ffffL) | (long) u32(b, off + 4) << 32;
    }
}
