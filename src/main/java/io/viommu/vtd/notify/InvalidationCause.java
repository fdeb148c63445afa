package io.viommu.vtd.notify;

import io.viommu.memory.Iova;
import io.viommu.vtd.InvalidationOrigin;

/**
 * Why the notifier sent an event: the guest action (or consumer request) that made it look at
 * the page tables, with where it came from (register, or which queued descriptor).
 *
 * @param kind         what was invalidated or changed
 * @param origin       register write, queued descriptor (with its index), or direct call
 * @param domainId     domain of an IOTLB domain- or page-selective invalidation, else -1
 * @param address      first IOVA of a page-selective or device-TLB invalidation, else 0
 * @param addressMask  AM of a page-selective invalidation (2^AM pages), else -1
 * @param size         bytes covered by a page-selective or device-TLB invalidation, else 0
 * @param sourceId     requester id named by a device-selective context or device-TLB
 *                     invalidation, else -1
 * @param functionMask FM of a device-selective context invalidation, else -1
 */
public record InvalidationCause(Kind kind, InvalidationOrigin origin, int domainId, Iova address,
                                int addressMask, long size, int sourceId, int functionMask) {
    public enum Kind {
        /** The consumer registered: existing mappings are replayed (memory_region_register_iommu_notifier). */
        REGISTRATION,
        /** The consumer asked for a replay (memory_region_iommu_replay) or a resync. */
        REPLAY,
        IOTLB_GLOBAL,
        IOTLB_DOMAIN,
        IOTLB_PAGES,
        CONTEXT_GLOBAL,
        CONTEXT_DEVICE,
        DEVICE_TLB,
        /** GCMD.TE 0 -> 1: translated address spaces appear. */
        TRANSLATION_ENABLED,
        /** GCMD.TE 1 -> 0: DMA is untranslated, no IOMMU mapping remains. */
        TRANSLATION_DISABLED,
        /** SRTP, reset or restore: every cache of the unit was emptied. */
        CACHES_RESET
    }

    private static final Iova NONE = new Iova(0);

    static InvalidationCause of(Kind kind, InvalidationOrigin origin) {
        return new InvalidationCause(kind, origin, -1, NONE, -1, 0, -1, -1);
    }

    static InvalidationCause iotlbDomain(InvalidationOrigin origin, int domainId) {
        return new InvalidationCause(Kind.IOTLB_DOMAIN, origin, domainId, NONE, -1, 0, -1, -1);
    }

    static InvalidationCause iotlbPages(InvalidationOrigin origin, int domainId, Iova addr, int am) {
        return new InvalidationCause(Kind.IOTLB_PAGES, origin, domainId, addr, am, 4096L << am, -1, -1);
    }

    static InvalidationCause contextDevice(InvalidationOrigin origin, int sid, int fm) {
        return new InvalidationCause(Kind.CONTEXT_DEVICE, origin, -1, NONE, -1, 0, sid, fm);
    }

    static InvalidationCause deviceTlb(InvalidationOrigin origin, int sid, Iova addr, long size) {
        return new InvalidationCause(Kind.DEVICE_TLB, origin, -1, addr, -1, size, sid, -1);
    }

    /** The IOVA range the invalidation names, or {@link IovaRange#ALL} when it names none. */
    public IovaRange range() {
        long a = address.value();
        if ((kind == Kind.IOTLB_PAGES || kind == Kind.DEVICE_TLB) && size != 0
                && Long.compareUnsigned(a + size - 1, a) >= 0) {
            return new IovaRange(a, a + size - 1);
        }
        return IovaRange.ALL;
    }

    @Override
    public String toString() {
        String what = switch (kind) {
            case IOTLB_PAGES -> String.format("IOTLB page-selective did=%d addr=0x%x am=%d", domainId, address.value(),
                    addressMask);
            case IOTLB_DOMAIN -> "IOTLB domain-selective did=" + domainId;
            case CONTEXT_DEVICE -> String.format("context device-selective sid=%04x fm=%d", sourceId, functionMask);
            case DEVICE_TLB -> String.format("device-TLB sid=%04x addr=0x%x size=0x%x", sourceId, address.value(), size);
            default -> kind.name();
        };
        return what + " (" + origin + ")";
    }
}
