package io.viommu.machine.device;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.Mmio;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaPort;
import java.util.ArrayList;
import java.util.List;

/**
 * The modern virtio-pci register block of a virtio device (BAR4, virtio 1.2 section 4.1.4) with
 * split virtqueues (section 2.7) that the device really processes. The transport is here: feature
 * negotiation, the queues' registers, popping a chain from the avail ring and pushing it to the
 * used ring, every access a DMA. What a request does is the device's ({@link VirtioFunction}:
 * virtio-rng fills buffers, virtio-net sends and receives frames, virtio-blk reads and writes its
 * disk).
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
 * {@code address_space_memory}: an explicit bypass, counted apart. A DMA that faults ends the
 * request and sets DEVICE_NEEDS_RESET (QEMU's virtio_error). No interrupt is sent on completion
 * (MSI-X is not modelled): the driver polls the used ring.
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
    public static final int STATUS_NEEDS_RESET = 0x40;

    public static final long F_VERSION_1 = 1L << 32;
    public static final long F_ACCESS_PLATFORM = 1L << 33;

    /** VRING_DESC_F_NEXT / VRING_DESC_F_WRITE. */
    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;

    /** virtio-rng's queue size (virtio_add_queue(vdev, 8, handle_input)). */
    public static final int RNG_QUEUE_SIZE = 8;

    /**
     * One DMA the device made: what for, where, whether it went through the bus-master port and
     * reached memory, and the bytes moved (read from memory, or written to it).
     */
    public record Access(String what, long address, int length, boolean write, boolean translated, boolean ok,
                         byte[] data) {
        public Access {
            data = data.clone();
        }

        @Override
        public byte[] data() {
            return data.clone();
        }

        @Override
        public String toString() {
            return String.format("%s %s %d B at 0x%x%s%s", what, write ? "write" : "read", length, address,
                    translated ? "" : " (system memory, bypassing the vIOMMU)", ok ? "" : " FAULTED");
        }
    }

    /** One descriptor of a popped chain: the buffer's address (as the driver gave it), length, device-writable. */
    public record Desc(long address, int length, boolean writable) {
    }

    /** A chain popped from a queue's avail ring: its head and its descriptors in order. */
    public record Chain(int head, List<Desc> descs) {
    }

    /** One queue's registers and the device's position in its rings. */
    private static final class Queue {
        final int max;
        int size;
        boolean enabled;
        long desc;
        long driver;
        long device;
        int lastAvail;
        int usedIdx;

        Queue(int max) {
            this.max = max;
            reset();
        }

        void reset() {
            size = max;
            enabled = false;
            desc = 0;
            driver = 0;
            device = 0;
            lastAvail = 0;
            usedIdx = 0;
        }
    }

    private final long hostFeatures;
    private final String owner;
    private final VirtioFunction function;
    private final Queue[] queues;
    private java.util.function.Supplier<DmaPort> port = () -> null;
    private AddressSpace systemMemory;
    private long featureSelect;
    private long driverSelect;
    private long driverFeatures;
    private int status;
    private int queueSelect;
    private int isr;
    private final List<Access> accesses = new ArrayList<>();

    /**
     * @param owner          the device's type name (for messages)
     * @param accessPlatform whether VIRTIO_F_ACCESS_PLATFORM is offered ({@code iommu_platform=on})
     * @param function       what the device does with its queues' requests
     */
    public VirtioModern(String owner, boolean accessPlatform, VirtioFunction function) {
        this.owner = owner;
        this.function = function;
        this.hostFeatures = F_VERSION_1 | (accessPlatform ? F_ACCESS_PLATFORM : 0) | function.features();
        int[] sizes = function.queueSizes();
        this.queues = new Queue[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            queues[i] = new Queue(sizes[i]);
        }
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
        isr = 0;
        for (Queue q : queues) {
            q.reset();
        }
        function.reset();
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

    /** What the device does with requests (its kind's behaviour and state). */
    public VirtioFunction function() {
        return function;
    }

    /** Every DMA the device made, in order. */
    public List<Access> accesses() {
        return List.copyOf(accesses);
    }

    /** The number of accesses so far (a mark for {@link #accessesSince}). */
    public int accessCount() {
        return accesses.size();
    }

    /** The accesses after {@code mark}. */
    public List<Access> accessesSince(int mark) {
        return List.copyOf(accesses.subList(Math.min(mark, accesses.size()), accesses.size()));
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
        if (offset >= DEVICE && offset < NOTIFY) {
            return function.config((int) (offset - DEVICE), size);
        }
        return 0; // notifications read 0
    }

    private Queue selected() {
        return queueSelect < queues.length ? queues[queueSelect] : null;
    }

    private long common(int off, int size) {
        Queue q = selected();
        return switch (off) {
            case DEVICE_FEATURE_SELECT -> featureSelect;
            case DEVICE_FEATURE -> featureSelect == 0 ? hostFeatures & 0xffff_ffffL
                    : featureSelect == 1 ? hostFeatures >>> 32 : 0;
            case DRIVER_FEATURE_SELECT -> driverSelect;
            case DRIVER_FEATURE -> driverSelect == 0 ? driverFeatures & 0xffff_ffffL
                    : driverSelect == 1 ? driverFeatures >>> 32 : 0;
            case 0x10, 0x1a -> 0xffff; // VIRTIO_MSI_NO_VECTOR: MSI-X is not modelled
            case NUM_QUEUES -> queues.length;
            case DEVICE_STATUS -> status;
            case 0x15 -> 0; // config_generation
            case QUEUE_SELECT -> queueSelect;
            case QUEUE_SIZE -> q == null ? 0 : q.size;
            case QUEUE_ENABLE -> q != null && q.enabled ? 1 : 0;
            case QUEUE_NOTIFY_OFF -> queueSelect;
            case QUEUE_DESC -> q == null ? 0 : part(q.desc, size);
            case QUEUE_DESC + 4 -> q == null ? 0 : q.desc >>> 32;
            case QUEUE_DRIVER -> q == null ? 0 : part(q.driver, size);
            case QUEUE_DRIVER + 4 -> q == null ? 0 : q.driver >>> 32;
            case QUEUE_DEVICE -> q == null ? 0 : part(q.device, size);
            case QUEUE_DEVICE + 4 -> q == null ? 0 : q.device >>> 32;
            default -> 0;
        };
    }

    private static long part(long v, int size) {
        return size == 8 ? v : v & 0xffff_ffffL;
    }

    @Override
    public void store(long offset, long value, int size) {
        if (offset >= NOTIFY && offset < NOTIFY + 0x1000) {
            // the notify offset of queue n is n (multiplier 4); the value written is the queue's index
            int n = (int) ((offset - NOTIFY) / NOTIFY_MULTIPLIER);
            if (n < queues.length && queues[n].enabled && (status & STATUS_DRIVER_OK) != 0
                    && (status & STATUS_NEEDS_RESET) == 0) {
                function.notified(this, n);
                isr |= 1;
            }
            return;
        }
        if (offset >= DEVICE && offset < NOTIFY) {
            return; // the device configurations modelled are read-only
        }
        if (offset < COMMON || offset >= ISR) {
            return;
        }
        Queue q = selected();
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
                status = v | (status & STATUS_NEEDS_RESET);
            }
            case QUEUE_SELECT -> queueSelect = (int) value & 0xffff;
            case QUEUE_SIZE -> {
                int n = (int) value & 0xffff;
                if (q != null && n > 0 && n <= q.max && Integer.bitCount(n) == 1) {
                    q.size = n;
                }
            }
            case QUEUE_ENABLE -> {
                if (q != null) {
                    q.enabled = (value & 1) != 0;
                }
            }
            case QUEUE_DESC -> setRing(q, 0, low(q == null ? 0 : q.desc, value, size));
            case QUEUE_DESC + 4 -> setRing(q, 0, high(q == null ? 0 : q.desc, value));
            case QUEUE_DRIVER -> setRing(q, 1, low(q == null ? 0 : q.driver, value, size));
            case QUEUE_DRIVER + 4 -> setRing(q, 1, high(q == null ? 0 : q.driver, value));
            case QUEUE_DEVICE -> setRing(q, 2, low(q == null ? 0 : q.device, value, size));
            case QUEUE_DEVICE + 4 -> setRing(q, 2, high(q == null ? 0 : q.device, value));
            default -> {
                // msix_config, queue_msix_vector: MSI-X is not modelled
            }
        }
    }

    private static void setRing(Queue q, int which, long v) {
        if (q == null) {
            return;
        }
        switch (which) {
            case 0 -> q.desc = v;
            case 1 -> q.driver = v;
            default -> q.device = v;
        }
    }

    private static long low(long cur, long value, int size) {
        return size == 8 ? value : (cur & ~0xffff_ffffL) | (value & 0xffff_ffffL);
    }

    private static long high(long cur, long value) {
        return (cur & 0xffff_ffffL) | (value & 0xffff_ffffL) << 32;
    }

    /** The avail ring's index of queue {@code n} (one DMA), or -1 when it faulted. */
    public int availIdx(int n) {
        byte[] b = new byte[2];
        return dma("avail idx", queues[n].driver + 2, b, false) ? u16(b) : -1;
    }

    /**
     * virtqueue_pop: the next chain of queue {@code n} when the driver made one available up to
     * {@code availIdx}: the avail ring's entry and each descriptor read by DMA. Null when there is
     * none, or when a DMA faulted or the chain is malformed (then the device needs a reset, as
     * QEMU's virtio_error marks it).
     */
    public Chain pop(int n, int availIdx) {
        Queue q = queues[n];
        if (availIdx < 0 || q.lastAvail == availIdx || (status & STATUS_NEEDS_RESET) != 0) {
            return null;
        }
        byte[] b = new byte[2];
        if (!dma("avail ring", q.driver + 4 + 2L * (q.lastAvail % q.size), b, false)) {
            return broken();
        }
        int head = u16(b);
        List<Desc> descs = new ArrayList<>();
        int i = head;
        for (int count = 0; ; count++) {
            byte[] d = new byte[16];
            if (i >= q.size || count >= q.size || !dma("descriptor " + i, q.desc + 16L * i, d, false)) {
                return broken(); // "Desc index is %u > %u" / "Looped descriptor" / an unmappable descriptor
            }
            int len = (int) le(d, 8, 4);
            int flags = (int) le(d, 12, 2);
            descs.add(new Desc(le(d, 0, 8), len, (flags & DESC_F_WRITE) != 0));
            if ((flags & DESC_F_NEXT) == 0) {
                break;
            }
            i = (int) le(d, 14, 2);
        }
        q.lastAvail = (q.lastAvail + 1) & 0xffff;
        return new Chain(head, List.copyOf(descs));
    }

    private Chain broken() {
        deviceError();
        return null;
    }

    /** virtio_error: a malformed request; the device serves nothing more until it is reset (DEVICE_NEEDS_RESET). */
    public void deviceError() {
        status |= STATUS_NEEDS_RESET;
    }

    /** Whether the device stopped after a fault or a malformed request. */
    public boolean needsReset() {
        return (status & STATUS_NEEDS_RESET) != 0;
    }

    /** virtqueue_push: the used element (head, bytes written) and the used index; false when a DMA faulted. */
    public boolean push(int n, Chain c, int written) {
        Queue q = queues[n];
        byte[] elem = new byte[8];
        put(elem, 0, c.head(), 4);
        put(elem, 4, written, 4);
        if (!dma("used elem", q.device + 4 + 8L * (q.usedIdx % q.size), elem, true)) {
            broken();
            return false;
        }
        q.usedIdx = (q.usedIdx + 1) & 0xffff;
        byte[] idx = new byte[2];
        put(idx, 0, q.usedIdx, 2);
        if (!dma("used idx", q.device + 2, idx, true)) {
            broken();
            return false;
        }
        return true;
    }

    /**
     * One DMA on the route the negotiated features select, recorded; a fault marks the device
     * as needing a reset. {@code data} is filled on a read.
     */
    public boolean dma(String what, long address, byte[] data, boolean write) {
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
        accesses.add(new Access(what, address, data.length, write, translated, ok, data));
        if (!ok) {
            status |= STATUS_NEEDS_RESET;
        }
        return ok;
    }

    static int u16(byte[] b) {
        return (b[0] & 0xff) | (b[1] & 0xff) << 8;
    }

    static long le(byte[] b, int off, int len) {
        long v = 0;
        for (int i = len - 1; i >= 0; i--) {
            v = v << 8 | (b[off + i] & 0xff);
        }
        return v;
    }

    static void put(byte[] b, int off, long v, int len) {
        for (int i = 0; i < len; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(owner).append(" status 0x").append(Integer.toHexString(status))
                .append(" features 0x").append(Long.toHexString(driverFeatures));
        for (int i = 0; i < queues.length; i++) {
            Queue q = queues[i];
            b.append(String.format(" q%d[size %d%s desc 0x%x avail 0x%x used 0x%x]", i, q.size,
                    q.enabled ? " enabled" : "", q.desc, q.driver, q.device));
        }
        return b.toString();
    }
}
