package io.viommu.vtd;

import io.viommu.memory.Iova;

/**
 * Decoders for the PASID-based invalidation descriptors (VT-d 6.5.2.4-6.5.2.6); the first two
 * quads of a 256-bit descriptor carry every field.
 * <pre>
 *  type 6 PASID-IOTLB:      lo G 5:4 (10 PASID-selective, 11 page-selective within PASID),
 *                           DID 31:16, PASID 51:32; hi AM 5:0, IH 6, ADDR 63:12
 *  type 7 PASID-cache:      lo G 5:4 (00 domain, 01 PASID within domain, 11 global),
 *                           DID 31:16, PASID 51:32
 *  type 8 PASID device-TLB: lo SID 31:16, PASID 51:32, PFSID 15:12 + 63:52;
 *                           hi G 0 (all PASIDs), S 11, ADDR 63:12
 * </pre>
 */
public final class PasidInvalidationDescriptor {
    private PasidInvalidationDescriptor() {
    }

    public static final int TYPE_PASID_DEVICE_TLB = 8;
    public static final int PIOTLB_PASID = 2;
    public static final int PIOTLB_PAGE = 3;
    public static final int PC_DOMAIN = 0;
    public static final int PC_PASID = 1;
    public static final int PC_GLOBAL = 3;

    public static int granularity(long lo) {
        return (int) (lo >>> 4) & 3;
    }

    public static int did(long lo) {
        return (int) (lo >>> 16) & 0xffff;
    }

    public static int pasid(long lo) {
        return (int) (lo >>> 32) & 0xfffff;
    }

    public static int am(long hi) {
        return (int) hi & 0x3f;
    }

    public static long addr(long hi) {
        return hi & ~0xfffL;
    }

    public static int devTlbSid(long lo) {
        return (int) (lo >>> 16) & 0xffff;
    }

    public static boolean devTlbGlobal(long hi) {
        return (hi & 1) != 0;
    }

    public static boolean devTlbSizeBit(long hi) {
        return (hi & (1L << 11)) != 0;
    }

    /**
     * The range a device-TLB invalidation names: 4 KiB at ADDR with S = 0; with S = 1 the
     * trailing ones of ADDR above bit 12 encode the size (PCIe ATS, table 10-9).
     * Size {@link Long#MIN_VALUE} means the whole space.
     */
    public static DeviceTlbRange devTlbRange(long addrField, boolean sizeBit) {
        long addr = addrField & ~0xfffL;
        long size = 4096;
        if (sizeBit) {
            int ones = Long.numberOfTrailingZeros(~(addr >>> 12));
            size = ones >= 51 ? Long.MIN_VALUE : 8192L << ones;
            addr = size == Long.MIN_VALUE ? 0 : addr & ~(size - 1);
        }
        return new DeviceTlbRange(new Iova(addr), size);
    }

    /** What a device-TLB invalidation names: {@code size} bytes from {@code start}. */
    public record DeviceTlbRange(Iova start, long size) {
    }
}
