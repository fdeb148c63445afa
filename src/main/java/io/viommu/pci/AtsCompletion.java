package io.viommu.pci;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;

/**
 * An ATS translation completion (PCIe 6.x section 10.2.3): either a status of Unsupported
 * Request / Completer Abort (no data), or Success with one translation entry: the translated
 * address, the size of the translated range (a power of two, at least 4 KiB, encoded on the wire
 * with the S bit, see {@link #encodedAddress()}), the R and W permissions and U
 * (untranslated access only: the device must not use the entry for translated requests).
 * R = W = 0 in a Success completion means "no access": the page is not mapped for this request.
 */
public record AtsCompletion(Status status, Iova untranslated, PhysAddr translated, long size,
                            boolean read, boolean write, boolean untranslatedOnly, int faultReason) {
    public enum Status { SUCCESS, UNSUPPORTED_REQUEST, COMPLETER_ABORT }

    public AtsCompletion {
        if (status == Status.SUCCESS && (Long.bitCount(size) != 1 || size < 4096
                || (translated.value() & (size - 1)) != 0 || (untranslated.value() & (size - 1)) != 0)) {
            throw new IllegalArgumentException("translation completion must be size aligned: "
                    + untranslated + " -> " + translated + " size " + size);
        }
    }

    public static AtsCompletion success(Iova page, PhysAddr target, long size, boolean read, boolean write) {
        return new AtsCompletion(Status.SUCCESS, page, target, size, read, write, false, 0);
    }

    /** Success with R = W = 0: the address has no translation the request could use. */
    public static AtsCompletion noAccess(Iova iova) {
        return new AtsCompletion(Status.SUCCESS, new Iova(iova.value() & ~0xfffL),
                new PhysAddr(0), 4096, false, false, false, 0);
    }

    public static AtsCompletion unsupported(Iova iova, int faultReason) {
        return new AtsCompletion(Status.UNSUPPORTED_REQUEST, iova, new PhysAddr(0), 0, false, false, false,
                faultReason);
    }

    public boolean ok() {
        return status == Status.SUCCESS;
    }

    /**
     * The translated-address field as sent on the wire, bits 63:12 plus S (bit 11): with S = 0
     * the range is 4 KiB; with S = 1 the lowest zero bit at or above 12 marks the size, so the
     * range is 2^(n+1) bytes where bit n is that zero (PCIe table 10-5: 8 KiB has bit 12 = 0,
     * 2 MiB has bits 19:12 ones and bit 20 zero).
     */
    public long encodedAddress() {
        return encode(translated.value(), size) | (read ? 1 : 0) | (write ? 2 : 0)
                | (untranslatedOnly ? 1L << 9 : 0);
    }

    /** ATS range encoding of a size-aligned {@code address} of {@code size} bytes (bits 63:11). */
    public static long encode(long address, long size) {
        if (size <= 4096) {
            return address & ~0xfffL;
        }
        return (address & ~(size - 1)) | ((size >>> 1) - 1 & ~0xfffL) | (1L << 11);
    }

    /** The size an encoded address field describes (inverse of {@link #encode}). */
    public static long decodeSize(long field) {
        if ((field & (1L << 11)) == 0) {
            return 4096;
        }
        int ones = Long.numberOfTrailingZeros(~(field >>> 12));
        return ones >= 51 ? Long.MIN_VALUE : 8192L << ones;
    }
}
