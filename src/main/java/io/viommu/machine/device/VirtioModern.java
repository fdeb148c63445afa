package io.viommu.machine.device;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.Mmio;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaPort;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The modern virtio-pci register block of a virtio device (BAR4, virtio 1.2 section 4.1.4) with
 * one split virtqueue (section 2.7) that the device really processes: enough for a guest driver
 * to negotiate features, set up queue 0 and have requests served. The device kind decides what a
 * request does; modelled is virtio-rng's (hw/virtio/virtio-rng.c virtio_rng_process): every
 * device-writable buffer of a chain is filled with entropy and the chain returned in the used
 * ring with the bytes written. The entropy is a deterministic sequence (QEMU reads its rng
 * backend, /dev/urandom by default), recorded so that tests compare every byte.
 *
 * <p>Layout of BAR4 (virtio_pci_modern_regions_init): common configuration at 0x0000, ISR at
 * 0x1000, device configuration at 0x2000, notifications at 0x3000 with a multiplier of 4
 * (queue {@code n}'s notify offset is {@code n}). Common configuration (struct
 * virtio_pci_common_cfg):
 * <pre>
 *  0x00 device_feature_select  0x04 device_feature (RO)  0x08 driver_feature_select
 *  0x0c driver_feature         0x10 msix_config          0x12 num_queues (RO)
 *  0x14 device_status (u8)     0x15 config_generation    0x16 queue_select
 *  0x18 queue_size             0x1a queue_msix_vector    0x1c queue_enable
 *  0x1e queue_notify_off (RO)  0x20 queue_desc (64)      0x28 queue_driver (64)  0x30 queue_device (64)
 * </pre>
 *
 * <p>Every access the device makes to the rings and buffers is a DMA: with
 * VIRTIO_F_ACCESS_PLATFORM negotiated on the function's bus-master port (translated by the
 * vIOMMU that covers it, through ATS when the function has ATS enabled); without it on system
 * memory at the address the driver gave, as QEMU's virtio sets {@code dma_as} to
 * {@code address_space_memory}: an explicit bypass, counted apart. No interrupt is sent on
 * completion (MSI-X is not modelled): the driver polls the used ring.
 */
public final class VirtioModern implements Mmio {
    public static final int COMMON = 0x0000;
    public static final int ISR = 0x1000;
    public static final int DEVICE = 0x2000;
    public static final int NOTIFY = 0x3000;
    public static final int NOTIFY_MULTIPLIER = 4;

    public static final int DEVICE_FEATURE_SELECT = 0x00;
    public static final int DEVICE_FEATURE = 0x04;
    public static final int DRIVER_FEATURE_SELECT = 0x08;
    public static final int DRIVER_FEATURE = 0x0c;
    public static final int NUM_QUEUES = 0x12;
    public static final int DEVICE_STATUS = 0x14;
    public static final int QUEUE_SELECT = 0x16;
    public static final int QUEUE_SIZE = 0x18;
    public static final int QUEUE_ENABLE = 0x1c;
    public static final int QUEUE_NOTIFY_OFF = 0x1e;
    public static final int QUEUE_DESC = 0x20;
    public static final int QUEUE_DRIVER = 0x28;
    public static final int QUEUE_DEVICE = 0x30;

    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;

    public static final long F_VERSION_1 = 1L << 32;
    public static final long F_ACCESS_PLATFORM = 1L << 33;

    /** VRING_DESC_F_NEXT / VRING_DESC_F_WRITE. */
    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;

    /** virtio-rng's queue size (virtio_add_queue(vdev, 8, handle_input)). */
    public static final int RNG_QUEUE_SIZE = 8;

    /** One DMA the device made: what for, where, and whether it reached memory. */
    public record Access(String what, long address, int length, boolean write, boolean translated, boolean ok) {
        @Override
        public String toString() {
            return String.format("%s %s %d B at 0x%x%s%s", what, write ? "write" : "read", length, address,
                    translated ? "" : " (system memory, bypassing the vIOMMU)", ok ? "" : " FAULTED");
        }
    }

    private final long hostFeatures;
    private final int queueMax;
    private final String owner;
    private java.util.function.Supplier<DmaPort> port = () -> null;
    private AddressSpace systemMemory;
    private long featureSelect;
    private long driverSelect;
    private long driverFeatures;
    private int status;
    private int queueSelect;
    private int queueSize;
    private boolean queueEnabled;
    private long desc;
    private long driver;
    private long device;
    private int lastAvail;
    private int usedIdx;
    private int isr;
    private long entropyCounter;
    private byte[] lastFill = new byte[0];
    private final List<Access> accesses = new ArrayList<>();

    /**
     * @param owner         the device's type name (for messages)
     * @param accessPlatform whether VIRTIO_F_ACCESS_PLATFORM is offered ({@code iommu_platform=on})
     */
    public VirtioModern(String owner, boolean accessPlatform) {
        this.owner = owner;
        this.hostFeatures = F_VERSION_1 | (accessPlatform ? F_ACCESS_PLATFORM : 0);
        this.queueMax = RNG_QUEUE_SIZE;
        reset();
    }

    /** Wires the two routes to memory: the bus-master port, and system memory for the bypass. */
    public void attach(java.util.function.Supplier<DmaPort> port, AddressSpace systemMemory) {
        this.port = port;
        this.systemMemory = systemMemory;
    }

    private void reset() {
        driverFeatures = 0;
        status = 0;
        queueSelect = 0;
        queueSize = queueMax;
        queueEnabled = false;
        desc = 0;
        driver = 0;
        device = 0;
        lastAvail = 0;
        usedIdx = 0;
        isr = 0;
    }

    /** Whether the driver accepted VIRTIO_F_ACCESS_PLATFORM: the device's DMA is translated. */
    public boolean accessPlatform() {
        return (driverFeatures & F_ACCESS_PLATFORM) != 0;
    }

    public long hostFeatures() {
        return hostFeatures;
    }

    public long driverFeatures() {
        return driverFeatures;
    }

    /** The bytes the device wrote into the last buffer it filled. */
    public byte[] lastFill() {
        return lastFill.clone();
    }

    /** Every DMA the device made, in order. */
    public List<Access> accesses() {
        return List.copyOf(accesses);
    }

    @Override
    public long load(long offset, int size) {
        if (offset >= COMMON && offset < ISR) {
            return common((int) offset, size);
        }
        if (offset == ISR) {
            int v = isr;
            isr = 0; // read to clear
            return v;
        }
        return 0; // virtio-rng has no device configuration; notifications read 0
    }

    private long common(int off, int size) {
        return switch (off) {
            case DEVICE_FEATURE_SELECT -> featureSelect;
            case DEVICE_FEATURE -> featureSelect == 0 ? hostFeatures & 0xffff_ffffL
                    : featureSelect == 1 ? hostFeatures >>> 32 : 0;
            case DRIVER_FEATURE_SELECT -> driverSelect;
            case DRIVER_FEATURE -> driverSelect == 0 ? driverFeatures & 0xffff_ffffL
                    : driverSelect == 1 ? driverFeatures >>> 32 : 0;
            case 0x10, 0x1a -> 0xffff; // VIRTIO_MSI_NO_VECTOR: MSI-X is not modelled
            case NUM_QUEUES -> 1;
            case DEVICE_STATUS -> status;
            case 0x15 -> 0; // config_generation
            case QUEUE_SELECT -> queueSelect;
            case QUEUE_SIZE -> queueSelect == 0 ? queueSize : 0;
            case QUEUE_ENABLE -> queueSelect == 0 && queueEnabled ? 1 : 0;
            case QUEUE_NOTIFY_OFF -> queueSelect;
            case QUEUE_DESC -> part(desc, size);
            case QUEUE_DESC + 4 -> desc >>> 32;
            case QUEUE_DRIVER -> part(driver, size);
            case QUEUE_DRIVER + 4 -> driver >>> 32;
            case QUEUE_DEVICE -> part(device, size);
            case QUEUE_DEVICE + 4 -> device >>> 32;
            default -> 0;
        };
    }

    private static long part(long v, int size) {
        return size == 8 ? v : v & 0xffff_ffffL;
    }

    @Override
    public void store(long offset, long value, int size) {
        if (offset >= NOTIFY && offset < NOTIFY + 0x1000) {
            if ((int) value == 0 && queueEnabled && (status & STATUS_DRIVER_OK) != 0) {
                process();
            }
            return;
        }
        if (offset < COMMON || offset >= ISR) {
            return;
        }
        switch ((int) offset) {
            case DEVICE_FEATURE_SELECT -> featureSelect = value & 0xffff_ffffL;
            case DRIVER_FEATURE_SELECT -> driverSelect = value & 0xffff_ffffL;
            case DRIVER_FEATURE -> {
                if ((status & STATUS_FEATURES_OK) != 0) {
                    return; // fixed once FEATURES_OK is set
                }
                long v = value & 0xffff_ffffL;
                if (driverSelect == 0) {
                    driverFeatures = (driverFeatures & ~0xffff_ffffL) | v;
                } else if (driverSelect == 1) {
                    driverFeatures = (driverFeatures & 0xffff_ffffL) | v << 32;
                }
            }
            case DEVICE_STATUS -> {
                int v = (int) value & 0xff;
                if (v == 0) {
                    reset();
                    return;
                }
                if ((v & STATUS_FEATURES_OK) != 0 && (status & STATUS_FEATURES_OK) == 0
                        && (driverFeatures & ~hostFeatures) != 0) {
                    v &= ~STATUS_FEATURES_OK; // virtio_set_features refused: the bit does not stick
                }
                status = v;
            }
            case QUEUE_SELECT -> queueSelect = (int) value & 0xffff;
            case QUEUE_SIZE -> {
                int n = (int) value & 0xffff;
                if (queueSelect == 0 && n > 0 && n <= queueMax && Integer.bitCount(n) == 1) {
                    queueSize = n;
                }
            }
            case QUEUE_ENABLE -> queueEnabled = queueSelect == 0 && (value & 1) != 0;
            case QUEUE_DESC -> desc = low(desc, value, size);
            case QUEUE_DESC + 4 -> desc = high(desc, value);
            case QUEUE_DRIVER -> driver = low(driver, value, size);
            case QUEUE_DRIVER + 4 -> driver = high(driver, value);
            case QUEUE_DEVICE -> device = low(device, value, size);
            case QUEUE_DEVICE + 4 -> device = high(device, value);
            default -> {
                // msix_config, queue_msix_vector: MSI-X is not modelled
            }
        }
    }

    private static long low(long cur, long value, int size) {
        return size == 8 ? value : (cur & ~0xffff_ffffL) | (value & 0xffff_ffffL);
    }

    private static long high(long cur, long value) {
        return (cur & 0xffff_ffffL) | (value & 0xffff_ffffL) << 32;
    }

    /**
     * virtqueue_pop for every new available entry, then virtqueue_push: the avail index and
     * ring entry read, the chain's descriptors read, each device-writable buffer filled, the used
     * element and used index written. A DMA that faults ends the request: no used entry is
     * written for it (QEMU's virtqueue_pop marks the device broken on an unmappable descriptor).
     */
    private void process() {
        byte[] b = new byte[2];
        if (!dma("avail idx", driver + 2, b, false)) {
            return;
        }
        int availIdx = u16(b);
        int rounds = 0;
        while (lastAvail != availIdx && rounds++ < queueSize) {
            if (!dma("avail ring", driver + 4 + 2L * (lastAvail % queueSize), b, false)) {
                return;
            }
            int head = u16(b);
            int written = 0;
            int i = head;
            for (int n = 0; n < queueSize; n++) {
                byte[] d = new byte[16];
                if (i >= queueSize || !dma("descriptor " + i, desc + 16L * i, d, false)) {
                    return;
                }
                long addr = le(d, 0, 8);
                int len = (int) le(d, 8, 4);
                int flags = (int) le(d, 12, 2);
                if ((flags & DESC_F_WRITE) != 0 && len > 0 && len <= 1 << 16) {
                    byte[] fill = entropy(len);
                    if (!dma("buffer", addr, fill, true)) {
                        return;
                    }
                    lastFill = fill;
                    written += len;
                }
                if ((flags & DESC_F_NEXT) == 0) {
                    break;
                }
                i = (int) le(d, 14, 2);
            }
            byte[] elem = new byte[8];
            put(elem, 0, head, 4);
            put(elem, 4, written, 4);
            if (!dma("used elem", device + 4 + 8L * (usedIdx % queueSize), elem, true)) {
                return;
            }
            usedIdx = (usedIdx + 1) & 0xffff;
            byte[] idx = new byte[2];
            put(idx, 0, usedIdx, 2);
            if (!dma("used idx", device + 2, idx, true)) {
                return;
            }
            lastAvail = (lastAvail + 1) & 0xffff;
        }
        isr |= 1;
    }

    /** One DMA on the route the negotiated features select; recorded. */
    private boolean dma(String what, long address, byte[] data, boolean write) {
        boolean translated = accessPlatform();
        boolean ok;
        DmaPort bus = port.get();
        if (translated) {
            if (bus == null) {
                ok = false;
            } else {
                DmaPort.Outcome o = write ? bus.write(Iova.of(address), data, 0, data.length)
                        : bus.read(Iova.of(address), data, 0, data.length);
                ok = o.ok();
            }
        } else if (systemMemory == null) {
            ok = false;
        } else {
            if (write) {
                systemMemory.writeBytes(PhysAddr.of(address), data, 0, data.length);
            } else {
                systemMemory.readBytes(PhysAddr.of(address), data, 0, data.length);
            }
            ok = true;
        }
        accesses.add(new Access(what, address, data.length, write, translated, ok));
        return ok;
    }

    /** The next {@code len} bytes of the device's entropy (a fixed sequence: tests can check every byte). */
    private byte[] entropy(int len) {
        byte[] out = new byte[len];
        for (int i = 0; i < len; i++) {
            long z = (entropyCounter++ + 0x9e3779b97f4a7c15L) * 0xbf58476d1ce4e5b9L;
            out[i] = (byte) (z ^ (z >>> 31));
        }
        return out;
    }

    private static int u16(byte[] b) {
        return (b[0] & 0xff) | (b[1] & 0xff) << 8;
    }

    private static long le(byte[] b, int off, int len) {
        long v = 0;
        for (int i = len - 1; i >= 0; i--) {
            v = v << 8 | (b[off + i] & 0xff);
        }
        return v;
    }

    private static void put(byte[] b, int off, long v, int len) {
        for (int i = 0; i < len; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }

    @Override
    public String toString() {
        return owner + " status 0x" + Integer.toHexString(status) + " features 0x" + Long.toHexString(driverFeatures)
                + " " + Arrays.toString(new long[] {desc, driver, device});
    }
}
