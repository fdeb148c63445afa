package io.viommu.machine.device;

/**
 * What a virtio device does with the requests of its queues (the device half of hw/virtio/*.c):
 * the feature bits of its kind, its queues' sizes, its device configuration, and the service of a
 * notified queue through the transport's {@link VirtioModern#pop}, {@link VirtioModern#dma} and
 * {@link VirtioModern#push}. Implementations: {@link VirtioFunctions}.
 */
public interface VirtioFunction {
    /** The kind's feature bits offered besides VERSION_1 and ACCESS_PLATFORM. */
    long features();

    /** The maximum size of each queue, in queue order. */
    int[] queueSizes();

    /** A read of the device configuration (BAR4 + 0x2000 + offset), little-endian. */
    long config(int offset, int size);

    /** The driver notified queue {@code queue}: serve what it made available. */
    void notified(VirtioModern transport, int queue);

    /** A device reset (status 0): requests in flight are dropped; the backend's content stays. */
    default void reset() {
    }
}
