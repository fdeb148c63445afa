package io.viommu.linux.driver;

import io.viommu.memory.Page;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The DMA a DMA-API driver sets up for each device it binds, and takes down on remove: its DMA
 * mask ({@code dma_set_mask_and_coherent} in the driver's probe) and a fixed, small set of
 * buffers, each a run of pages mapped through {@link DmaOps}. What the buffers stand for:
 * <ul>
 * <li>coherent ones are {@code dma_alloc_coherent} (descriptor rings, NVMe queues, virtqueues):
 *     pages plus one bidirectional mapping, which is what iommu_dma_alloc amounts to for the
 *     page tables (an IOVA, PTEs with read and write, the map-time flush under caching mode);</li>
 * <li>streaming ones are {@code dma_map_single} of a buffer the driver owns (NIC receive
 *     buffers, FROM_DEVICE).</li>
 * </ul>
 * The NIC drivers allocate their rings in ndo_open, not in probe; the model treats the
 * interface as brought up right after probe (what a guest's network setup does), so the rings
 * exist while the driver is bound. Sizes are a sample, not the real drivers' 256 descriptors
 * and buffers: one page per descriptor ring, {@link #NIC_RX_BUFFERS} receive buffers.
 * Nothing is printed: mapping is silent in dmesg.
 *
 * <p>Without {@link DmaOps} (a driver core built without a kernel) nothing is mapped.
 */
public final class DriverDma {
    /** Receive buffers the NIC drivers keep mapped (the real ones fill a 256-entry ring). */
    public static final int NIC_RX_BUFFERS = 4;
    /** e1000e/igb/e1000 rx_buffer_len for a 1500-byte MTU: 2 KiB buffers. */
    static final int NIC_RX_BUFFER_LEN = 2048;

    /** One buffer's layout: {@code pages} contiguous pages, {@code length} bytes mapped. */
    public record Spec(String name, int pages, long length, boolean coherent, DmaOps.Direction dir) {
    }

    /** A live buffer of a bound device. */
    public record Buffer(Spec spec, long phys, long dma) {
    }

    private final long mask;
    private final List<Spec> layout;
    private final Map<PciDevice, List<Buffer>> live = new LinkedHashMap<>();
    private long maps;
    private long unmaps;
    private long mapFailures;

    public DriverDma(long mask, List<Spec> layout) {
        this.mask = mask;
        this.layout = List.copyOf(layout);
    }

    /** DMA_BIT_MASK(n). */
    public static long bitMask(int n) {
        return n >= 64 ? ~0L : (1L << n) - 1;
    }

    /** A NIC (e1000, e1000e, igb, igbvf): TX and RX descriptor rings, and receive buffers. */
    static DriverDma nic(int maskBits) {
        List<Spec> l = new ArrayList<>();
        l.add(new Spec("tx-ring", 1, Page.SIZE, true, DmaOps.Direction.BIDIRECTIONAL));
        l.add(new Spec("rx-ring", 1, Page.SIZE, true, DmaOps.Direction.BIDIRECTIONAL));
        for (int i = 0; i < NIC_RX_BUFFERS; i++) {
            l.add(new Spec("rx-buffer" + i, 1, NIC_RX_BUFFER_LEN, false, DmaOps.Direction.FROM_DEVICE));
        }
        return new DriverDma(bitMask(maskBits), l);
    }

    /** nvme: the admin queue pair (nvme_alloc_queue: 64 SQEs of 64 bytes, 64 CQEs of 16 bytes). */
    static DriverDma nvme() {
        return new DriverDma(bitMask(64), List.of(
                new Spec("admin-sq", 1, 64 * 64, true, DmaOps.Direction.BIDIRECTIONAL),
                new Spec("admin-cq", 1, 64 * 16, true, DmaOps.Direction.BIDIRECTIONAL)));
    }

    /**
     * virtio-pci (modern, vp_modern_probe: 64-bit mask): one split virtqueue of 256 entries
     * (vring_alloc_queue: descriptors, avail and used rings, 6662 bytes in two pages).
     */
    static DriverDma virtio() {
        return new DriverDma(bitMask(64), List.of(
                new Spec("vq0", 2, 6662, true, DmaOps.Direction.BIDIRECTIONAL)));
    }

    /**
     * The probe's part: the mask, then every buffer. 0, or -ENOMEM / the mask's errno, with
     * whatever was set up undone.
     */
    int setUp(DriverCore core, PciDevice dev) {
        DmaOps ops = core.dmaOps();
        if (ops == null) {
            return 0;
        }
        int rc = ops.setMask(dev.rid(), mask);
        if (rc != 0) {
            return rc;
        }
        List<Buffer> bufs = new ArrayList<>();
        live.put(dev, bufs);
        for (Spec s : layout) {
            long phys = ops.allocPages(s.pages());
            if (phys < 0) {
                tearDown(core, dev);
                return Errno.ENOMEM.negative();
            }
            long dma = ops.map(dev.rid(), phys, s.length(), s.dir());
            if (dma == DmaOps.MAPPING_ERROR) {
                mapFailures++;
                ops.freePages(phys, s.pages());
                tearDown(core, dev);
                return Errno.ENOMEM.negative();
            }
            maps++;
            bufs.add(new Buffer(s, phys, dma));
        }
        return 0;
    }

    /** The remove's part: unmaps and frees every buffer of the device (nothing when it has none). */
    void tearDown(DriverCore core, PciDevice dev) {
        List<Buffer> bufs = live.remove(dev);
        DmaOps ops = core.dmaOps();
        if (bufs == null || ops == null) {
            return;
        }
        for (Buffer b : bufs) {
            ops.unmap(dev.rid(), b.dma(), b.spec().length(), b.spec().dir());
            unmaps++;
            ops.freePages(b.phys(), b.spec().pages());
        }
    }

    /**
     * A DMA-API driver made of {@code d}: after its own probe succeeds, this DMA mask and these
     * buffers are set up (a failure there undoes the probe through its remove and fails it); on
     * remove, its own remove first, then the buffers are unmapped and freed.
     */
    PciDriver around(PciDriver d) {
        PciDriver.Probe probe = d.probe();
        PciDriver.Remove remove = d.remove();
        PciDriver out = new PciDriver(d.name(), d.module(), d.driverManagedDma(), d.idTable(),
                (c, dev) -> {
                    int rc = probe == null ? 0 : probe.probe(c, dev);
                    if (rc != 0) {
                        return rc;
                    }
                    rc = setUp(c, dev);
                    if (rc != 0 && remove != null) {
                        remove.remove(c, dev);
                    }
                    return rc;
                },
                (c, dev) -> {
                    if (remove != null) {
                        remove.remove(c, dev);
                    }
                    tearDown(c, dev);
                },
                d.sriovConfigure());
        out.setDma(this);
        return out;
    }

    /** The DMA mask the probe sets. */
    public long mask() {
        return mask;
    }

    public List<Spec> layout() {
        return layout;
    }

    /** The buffers mapped for {@code dev} now (empty when unbound). */
    public List<Buffer> buffers(PciDevice dev) {
        return List.copyOf(live.getOrDefault(dev, List.of()));
    }

    /** Mappings made since the driver registered. */
    public long maps() {
        return maps;
    }

    /** Mappings undone since the driver registered. */
    public long unmaps() {
        return unmaps;
    }

    /** Maps that returned DMA_MAPPING_ERROR (probe then failed with -ENOMEM). */
    public long mapFailures() {
        return mapFailures;
    }
}
