package io.viommu.vtd;

/**
 * Where an invalidation came from: a register write (CCMD/IOTLB/IVA, or GCMD for the cache
 * resets of TE and SRTP), a descriptor of the invalidation queue (with its index in the
 * queue), or a direct call on {@link IntelIommu} by the model's own code (reset, restore, tests).
 *
 * @param descriptorIndex index of the descriptor in the queue (0-based, as IQH/16 or IQH/32
 *                        reads while it is processed), or -1 when not queued
 */
public record InvalidationOrigin(Source source, int descriptorIndex) {
    public enum Source { REGISTER, QUEUE, DIRECT }

    public static final InvalidationOrigin REGISTER = new InvalidationOrigin(Source.REGISTER, -1);
    public static final InvalidationOrigin DIRECT = new InvalidationOrigin(Source.DIRECT, -1);

    public InvalidationOrigin {
        if ((source == Source.QUEUE) != (descriptorIndex >= 0)) {
            throw new IllegalArgumentException(source + " with descriptor index " + descriptorIndex);
        }
    }

    public static InvalidationOrigin queued(int index) {
        return new InvalidationOrigin(Source.QUEUE, index);
    }

    @Override
    public String toString() {
        return switch (source) {
            case REGISTER -> "register";
            case QUEUE -> "queued descriptor " + descriptorIndex;
            case DIRECT -> "direct call";
        };
    }
}
