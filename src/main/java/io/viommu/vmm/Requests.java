package io.viommu.vmm;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DmaOps;
import io.viommu.linux.driver.DriverDma;
import io.viommu.machine.device.VirtioFunctions;
import io.viommu.machine.device.VirtioModern;
import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The guest driver's side of {@link VirtioSample}'s requests: the split rings in guest RAM
 * (virtio_ring.c: descriptors, avail ring, used ring), buffers mapped with the DMA API (or given
 * as guest-physical addresses without ACCESS_PLATFORM), notifications through BAR4, and for each
 * kind the request its Linux driver makes: virtio-rng's add_early_randomness (one device-writable
 * buffer), virtio-net's receive buffer (try_fill_recv) and transmit (start_xmit), virtio-blk's
 * write and read (virtblk_add_req: header, data, status). Everything allocated or mapped here is
 * given back by {@link #release}.
 */
final class Requests {
    /** What one request did: the texts of the report, how many of the device's DMAs were the request's. */
    record Outcome(String request, String buffer, int requestAccesses, int bytesChecked, String compared,
                   boolean matched, int usedLen, String afterUnmap, String problem) {
    }

    /** A queue set up by the driver: where its ring is (GPA) and what the device was given. */
    private static final class Ring {
        int n;
        long phys;
        long base;
        int size;
        long availAt;
        long usedAt;
        int availIdx;
        int nextDesc;
    }

    /** One descriptor to post: device address, length, device-writable. */
    private record Seg(long addr, int len, boolean writable) {
    }

    private final AddressSpace mem;
    private final long bar;
    private final DmaOps ops;
    private final RequesterId rid;
    private final boolean dmaApi;
    private final boolean viommu;
    private final VirtioModern q;
    private final Kernel kernel;
    private final List<Ring> rings = new ArrayList<>();
    private final List<long[]> pages = new ArrayList<>();       // phys, count
    private final List<Object[]> mappings = new ArrayList<>();  // dma, size, direction
    private boolean atsActive;
    private boolean lazy;

    Requests(AddressSpace mem, long bar, DmaOps ops, RequesterId rid, boolean dmaApi, boolean viommu, VirtioModern q,
             Kernel kernel) {
        this.mem = mem;
        this.bar = bar;
        this.ops = ops;
        this.rid = rid;
        this.dmaApi = dmaApi;
        this.viommu = viommu;
        this.q = q;
        this.kernel = kernel;
    }

    static void mmio(AddressSpace mem, long bar, long offset, long value, int size) {
        if (size == 8) {
            mem.write(PhysAddr.of(bar + offset), value & 0xffff_ffffL, 4); // vp_iowrite64_twopart
            mem.write(PhysAddr.of(bar + offset + 4), value >>> 32, 4);
        } else {
            mem.write(PhysAddr.of(bar + offset), value, size);
        }
    }

    /**
     * vp_modern_setup_vq: queue {@code n} at the device's size, its ring in {@code probeMemory}
     * (the coherent memory of the probe) or in a new coherent allocation; null when none is left.
     */
    Ring queue(int n, DriverDma.Buffer probeMemory) {
        mmio(mem, bar, VirtioModern.QUEUE_SELECT, n, 2);
        Ring r = new Ring();
        r.n = n;
        r.size = (int) mem.read(PhysAddr.of(bar + VirtioModern.QUEUE_SIZE), 2);
        r.availAt = 16L * r.size;
        r.usedAt = (r.availAt + 6 + 2L * r.size + 3) & ~3L;
        int bytes = (int) (r.usedAt + 6 + 8L * r.size);
        long dma;
        if (probeMemory != null) {
            r.phys = probeMemory.phys();
            dma = probeMemory.dma();
        } else {
            int count = (bytes + 4095) / 4096;
            r.phys = ops.allocPages(count);
            if (r.phys < 0) {
                return null;
            }
            pages.add(new long[] {r.phys, count});
            dma = map(r.phys, bytes, DmaOps.Direction.BIDIRECTIONAL); // dma_alloc_coherent, or pages without the DMA API
            if (dma == DmaOps.MAPPING_ERROR) {
                return null;
            }
        }
        r.base = dmaApi ? dma : r.phys;
        mem.writeBytes(PhysAddr.of(r.phys), new byte[bytes], 0, bytes); // vring_init on zeroed memory
        mmio(mem, bar, VirtioModern.QUEUE_DESC, r.base, 8);
        mmio(mem, bar, VirtioModern.QUEUE_DRIVER, r.base + r.availAt, 8);
        mmio(mem, bar, VirtioModern.QUEUE_DEVICE, r.base + r.usedAt, 8);
        mmio(mem, bar, VirtioModern.QUEUE_ENABLE, 1, 2);
        rings.add(r);
        return r;
    }

    /** The rings as the report shows them. */
    String rings() {
        List<String> out = new ArrayList<>();
        boolean named = rings.size() > 1;
        for (Ring r : rings) {
            out.add(String.format(Locale.ROOT, "%sdesc 0x%x, avail 0x%x, used 0x%x (%s; GPA 0x%x), %d entries",
                    named ? (r.n == VirtioFunctions.Net.RX ? "receiveq: " : "transmitq: ") : "", r.base,
                    r.base + r.availAt, r.base + r.usedAt, dmaApi ? "DMA addresses" : "guest-physical", r.phys, r.size));
        }
        return String.join("; ", out);
    }

    /** dma_map_single (or the guest-physical address without the DMA API); MAPPING_ERROR on failure. */
    private long map(long phys, int len, DmaOps.Direction dir) {
        if (!dmaApi) {
            return phys;
        }
        long dma = ops.map(rid, phys, len, dir);
        if (dma != DmaOps.MAPPING_ERROR) {
            mappings.add(new Object[] {dma, (long) len, dir});
        }
        return dma;
    }

    /** dma_unmap_single of a buffer mapped by {@link #map}. */
    private void unmap(long dma) {
        if (!dmaApi) {
            return;
        }
        for (int i = 0; i < mappings.size(); i++) {
            Object[] m = mappings.get(i);
            if ((long) m[0] == dma) {
                ops.unmap(rid, dma, (long) m[1], (DmaOps.Direction) m[2]);
                mappings.remove(i);
                return;
            }
        }
    }

    private long page() {
        long p = ops.allocPages(1);
        if (p >= 0) {
            pages.add(new long[] {p, 1});
        }
        return p;
    }

    /** Unmaps what is still mapped and frees every page. */
    void release() {
        for (Object[] m : List.copyOf(mappings)) {
            ops.unmap(rid, (long) m[0], (long) m[1], (DmaOps.Direction) m[2]);
        }
        mappings.clear();
        for (long[] p : pages) {
            ops.freePages(p[0], (int) p[1]);
        }
        pages.clear();
    }

    /** virtqueue_add: the chain's descriptors, the avail ring's entry, then (after virtio_wmb) the index. */
    private int post(Ring r, Seg... segs) {
        int head = r.nextDesc;
        for (int k = 0; k < segs.length; k++) {
            int id = (head + k) % r.size;
            long d = r.phys + 16L * id;
            mem.write(PhysAddr.of(d), segs[k].addr(), 8);
            mem.write(PhysAddr.of(d + 8), segs[k].len(), 4);
            int flags = (segs[k].writable() ? VirtioModern.DESC_F_WRITE : 0)
                    | (k + 1 < segs.length ? VirtioModern.DESC_F_NEXT : 0);
            mem.write(PhysAddr.of(d + 12), flags, 2);
            mem.write(PhysAddr.of(d + 14), (id + 1) % r.size, 2);
        }
        r.nextDesc = (head + segs.length) % r.size;
        mem.write(PhysAddr.of(r.phys + r.availAt + 4 + 2L * (r.availIdx % r.size)), head, 2);
        r.availIdx = (r.availIdx + 1) & 0xffff;
        mem.write(PhysAddr.of(r.phys + r.availAt + 2), r.availIdx, 2);
        return head;
    }

    /** vp_notify: the queue's index written at its notify address. */
    private void kick(Ring r) {
        mmio(mem, bar, VirtioModern.QUEUE_SELECT, r.n, 2);
        long off = mem.read(PhysAddr.of(bar + VirtioModern.QUEUE_NOTIFY_OFF), 2);
        mmio(mem, bar, VirtioModern.NOTIFY + VirtioModern.NOTIFY_MULTIPLIER * off, r.n, 2);
    }

    private int usedIdx(Ring r) {
        return (int) mem.read(PhysAddr.of(r.phys + r.usedAt + 2), 2);
    }

    /** Used element {@code k} (0-based): {id, len}. */
    private int[] usedElem(Ring r, int k) {
        long e = r.phys + r.usedAt + 4 + 8L * (k % r.size);
        return new int[] {(int) mem.read(PhysAddr.of(e), 4), (int) mem.read(PhysAddr.of(e + 4), 4)};
    }

    private byte[] read(long gpa, int len) {
        byte[] b = new byte[len];
        mem.readBytes(PhysAddr.of(gpa), b, 0, len);
        return b;
    }

    private void fill(long gpa, int len, int value) {
        byte[] b = new byte[len];
        Arrays.fill(b, (byte) value);
        mem.writeBytes(PhysAddr.of(gpa), b, 0, len);
    }

    private String where(long addr, long gpa) {
        return String.format(Locale.ROOT, "0x%x (%s; GPA 0x%x)", addr, dmaApi && viommu ? "IOVA from the guest's DMA API"
                : dmaApi ? "dma-direct" : "guest-physical", gpa);
    }

    /** The bytes of the device's accesses named {@code what} after {@code mark}, in order. */
    private byte[] moved(int mark, String what, boolean write) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (VirtioModern.Access a : q.accessesSince(mark)) {
            if (a.what().equals(what) && a.write() == write && a.ok()) {
                out.writeBytes(a.data());
            }
        }
        return out.toByteArray();
    }

    private boolean faulted(int mark, String what) {
        return q.accessesSince(mark).stream().anyMatch(a -> !a.ok() && a.what().equals(what));
    }

    private String stale(int mark, String what, boolean pageKept) {
        if (faulted(mark, what) && pageKept) {
            return "faulted in the vIOMMU" + (atsActive ? " (ATS: the device-TLB entry was invalidated, the"
                    + " translation request got no permission)" : "") + "; the page kept its bytes"
                    + (lazy ? " (lazy invalidation: probed once the flush queue's 10 ms timer had flushed the IOTLB"
                    + (atsActive ? " and the device-TLB" : "") + "; before that the stale IOVA still translates)" : "");
        }
        return "NOT refused: " + q.accessesSince(mark);
    }

    /**
     * dma_unmap_single in a lazy (DMA-FQ) domain queues the invalidation: the flush queue's
     * timer (IOVA_FQ_TIMEOUT, 10 ms) flushes the IOTLB and device-TLB. The stale request is
     * made after it, so that it shows the vIOMMU refusing, not the lazy window.
     */
    private void afterUnmap() {
        kernel.takeInterrupts();
        if (dmaApi && viommu && !kernel.strictInvalidation() && kernel.iommuDriver() != null) {
            lazy = true;
            kernel.iommuDriver().clock().advanceMillis(10);
        }
    }

    /** Whether the function's ATS is enabled (set by the sample before the request). */
    void ats(boolean on) {
        atsActive = on;
    }

    private static byte[] pattern(int len, int mul, int add) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = (byte) (i * mul + add);
        }
        return b;
    }

    /** virtio-rng (add_early_randomness): one device-writable buffer of 64 bytes. */
    Outcome rng() {
        Ring r = rings.get(0);
        int len = VirtioSample.LENGTH;
        long page = page();
        if (page < 0) {
            return problem("the guest kernel has no free page");
        }
        fill(page, len, 0xee);
        long addr = map(page, len, DmaOps.Direction.FROM_DEVICE);
        if (addr == DmaOps.MAPPING_ERROR) {
            return problem("dma_map_single failed");
        }
        int mark = q.accessCount();
        int head = post(r, new Seg(addr, len, true));
        kick(r);
        int[] e = usedElem(r, 0);
        byte[] got = read(page, len);
        boolean matched = usedIdx(r) == 1 && e[0] == head && e[1] == len && Arrays.equals(moved(mark, "buffer", true), got);
        int requestAccesses = q.accessCount() - mark;
        unmap(addr);
        afterUnmap();
        String afterUnmap = null;
        if (dmaApi && viommu) {
            int mark2 = q.accessCount();
            post(r, new Seg(addr, len, true)); // a stale request: the unmapped IOVA posted again
            kick(r);
            kernel.takeInterrupts(); // dmar_fault logs the vIOMMU's fault record
            afterUnmap = stale(mark2, "buffer", Arrays.equals(read(page, len), got));
        }
        return new Outcome("one device-writable buffer of " + len + " B (the driver's request for entropy)",
                where(addr, page) + ", " + len + " B device-writable", requestAccesses, len,
                len + " compared in guest RAM with what the device wrote", matched, e[1], afterUnmap,
                usedIdx(r) >= 1 ? null : "the device returned no used entry (used idx " + usedIdx(r) + ")");
    }

    /**
     * virtio-net: a receive buffer posted (try_fill_recv: 12-byte header and a 1518-byte frame,
     * one device-writable descriptor), then a frame to the NIC's own MAC transmitted (start_xmit:
     * header and frame in one device-readable descriptor); the model's backend loops it back.
     */
    Outcome net(VirtioFunctions.Net net) {
        Ring rx = rings.get(0);
        Ring tx = rings.get(1);
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) { // virtio_cread_bytes of the MAC (VIRTIO_NET_F_MAC)
            mac[i] = (byte) mem.read(PhysAddr.of(bar + VirtioModern.DEVICE + i), 1);
        }
        int rxLen = VirtioFunctions.Net.HDR + 1518;
        byte[] payload = pattern(64, 31, 7);
        byte[] sent = new byte[VirtioFunctions.Net.HDR + 14 + payload.length];
        System.arraycopy(mac, 0, sent, VirtioFunctions.Net.HDR, 6);
        System.arraycopy(mac, 0, sent, VirtioFunctions.Net.HDR + 6, 6);
        sent[VirtioFunctions.Net.HDR + 12] = (byte) 0x88; // EtherType 0x88b5 (local experimental)
        sent[VirtioFunctions.Net.HDR + 13] = (byte) 0xb5;
        System.arraycopy(payload, 0, sent, VirtioFunctions.Net.HDR + 14, payload.length);
        long rxPage = page();
        long txPage = page();
        if (rxPage < 0 || txPage < 0) {
            return problem("the guest kernel has no free page");
        }
        fill(rxPage, rxLen, 0xee);
        mem.writeBytes(PhysAddr.of(txPage), sent, 0, sent.length);
        long rxAddr = map(rxPage, rxLen, DmaOps.Direction.FROM_DEVICE);
        long txAddr = map(txPage, sent.length, DmaOps.Direction.TO_DEVICE);
        if (rxAddr == DmaOps.MAPPING_ERROR || txAddr == DmaOps.MAPPING_ERROR) {
            return problem("dma_map_single failed");
        }
        int mark = q.accessCount();
        int rxHead = post(rx, new Seg(rxAddr, rxLen, true));
        kick(rx);
        int txHead = post(tx, new Seg(txAddr, sent.length, false));
        kick(tx);
        int[] te = usedElem(tx, 0);
        int[] re = usedElem(rx, 0);
        byte[] got = read(rxPage, sent.length);
        byte[] deviceRead = moved(mark, "tx buffer", false);
        byte[] deviceWrote = moved(mark, "rx buffer", true);
        boolean matched = usedIdx(tx) == 1 && te[0] == txHead && usedIdx(rx) == 1 && re[0] == rxHead
                && re[1] == sent.length && Arrays.equals(deviceRead, sent) && Arrays.equals(deviceWrote, got)
                && Arrays.equals(Arrays.copyOfRange(got, VirtioFunctions.Net.HDR, got.length),
                Arrays.copyOfRange(sent, VirtioFunctions.Net.HDR, sent.length));
        int requestAccesses = q.accessCount() - mark;
        boolean probe = dmaApi && viommu;
        long tx2 = probe ? map(txPage, sent.length, DmaOps.Direction.TO_DEVICE) : 0; // before the unmaps (see blk)
        unmap(rxAddr);
        unmap(txAddr);
        afterUnmap();
        String afterUnmap = null;
        if (probe) {
            int mark2 = q.accessCount();
            post(rx, new Seg(rxAddr, rxLen, true)); // the unmapped receive buffer posted again
            kick(rx);
            post(tx, new Seg(tx2, sent.length, false)); // and a frame for it
            kick(tx);
            kernel.takeInterrupts();
            afterUnmap = stale(mark2, "rx buffer", Arrays.equals(read(rxPage, sent.length), got));
            unmap(tx2);
        }
        int frame = sent.length - VirtioFunctions.Net.HDR;
        return new Outcome("one " + frame + "-byte Ethernet frame to its own MAC sent on the transmit queue and"
                + " received on the receive queue (the model's backend loops frames back: no host network)",
                "receive " + where(rxAddr, rxPage) + ", " + rxLen + " B device-writable; transmit "
                        + where(txAddr, txPage) + ", " + sent.length + " B device-readable (12-byte virtio_net_hdr"
                        + " and the frame)", requestAccesses, 2 * sent.length,
                sent.length + " the device read from the transmit buffer against what the guest wrote, "
                        + sent.length + " it wrote into the receive buffer against guest RAM", matched, re[1],
                afterUnmap, usedIdx(rx) >= 1 ? null : "the device returned no received frame (used idx " + usedIdx(rx) + ")");
    }

    /**
     * virtio-blk: 4 KiB written to sector 2048 of the model disk (VIRTIO_BLK_T_OUT: header,
     * data, status), then read back into another page (VIRTIO_BLK_T_IN).
     */
    Outcome blk(VirtioFunctions.Blk blk) {
        Ring r = rings.get(0);
        int len = 4096;
        long sector = 2048;
        long req = page();
        long wPage = page();
        long rPage = page();
        if (req < 0 || wPage < 0 || rPage < 0) {
            return problem("the guest kernel has no free page");
        }
        byte[] data = pattern(len, 13, 5);
        mem.writeBytes(PhysAddr.of(wPage), data, 0, len);
        fill(rPage, len, 0xee);
        header(req, VirtioFunctions.Blk.T_OUT, sector);
        header(req + 0x200, VirtioFunctions.Blk.T_IN, sector);
        fill(req + 0x100, 1, 0xff);
        fill(req + 0x300, 1, 0xff);
        long hW = map(req, 16, DmaOps.Direction.TO_DEVICE);
        long dW = map(wPage, len, DmaOps.Direction.TO_DEVICE);
        long sW = map(req + 0x100, 1, DmaOps.Direction.FROM_DEVICE);
        long hR = map(req + 0x200, 16, DmaOps.Direction.TO_DEVICE);
        long dR = map(rPage, len, DmaOps.Direction.FROM_DEVICE);
        long sR = map(req + 0x300, 1, DmaOps.Direction.FROM_DEVICE);
        if (List.of(hW, dW, sW, hR, dR, sR).contains(DmaOps.MAPPING_ERROR)) {
            return problem("dma_map_single failed");
        }
        int mark = q.accessCount();
        int wHead = post(r, new Seg(hW, 16, false), new Seg(dW, len, false), new Seg(sW, 1, true));
        kick(r);
        int[] we = usedElem(r, 0);
        int wStatus = (int) mem.read(PhysAddr.of(req + 0x100), 1);
        int mark1 = q.accessCount();
        int rHead = post(r, new Seg(hR, 16, false), new Seg(dR, len, true), new Seg(sR, 1, true));
        kick(r);
        int[] re = usedElem(r, 1);
        int rStatus = (int) mem.read(PhysAddr.of(req + 0x300), 1);
        byte[] got = read(rPage, len);
        boolean matched = usedIdx(r) == 2 && we[0] == wHead && we[1] == 1 && wStatus == VirtioFunctions.Blk.S_OK
                && re[0] == rHead && re[1] == len + 1 && rStatus == VirtioFunctions.Blk.S_OK
                && Arrays.equals(moved(mark, "data", false), data)
                && Arrays.equals(blk.disk(sector * VirtioFunctions.Blk.SECTOR, len), data)
                && Arrays.equals(moved(mark1, "data", true), got) && Arrays.equals(got, data);
        int requestAccesses = q.accessCount() - mark;
        boolean probe = dmaApi && viommu;
        // the stale request's own header and status, mapped while the data IOVA is still taken (once it
        // is free the allocator hands it out again, and the "stale" IOVA would be a live mapping)
        header(req + 0x400, VirtioFunctions.Blk.T_IN, sector);
        long hS = probe ? map(req + 0x400, 16, DmaOps.Direction.TO_DEVICE) : 0;
        long sS = probe ? map(req + 0x500, 1, DmaOps.Direction.FROM_DEVICE) : 0;
        for (long a : List.of(hW, dW, sW, hR, dR, sR)) {
            unmap(a);
        }
        afterUnmap();
        String afterUnmap = null;
        if (probe) {
            // a read whose data buffer is the unmapped IOVA of the last one (fresh header and status)
            int mark2 = q.accessCount();
            post(r, new Seg(hS, 16, false), new Seg(dR, len, true), new Seg(sS, 1, true));
            kick(r);
            kernel.takeInterrupts();
            afterUnmap = stale(mark2, "data", Arrays.equals(read(rPage, len), got));
            unmap(hS);
            unmap(sS);
        }
        return new Outcome(len + " B written to sector " + sector + " of the model disk (VIRTIO_BLK_T_OUT), then read"
                + " back into another page (VIRTIO_BLK_T_IN)",
                "write data " + where(dW, wPage) + ", " + len + " B device-readable; read data " + where(dR, rPage)
                        + ", " + len + " B device-writable; headers and status bytes in the page at GPA "
                        + String.format(Locale.ROOT, "0x%x", req), requestAccesses, 2 * len + 2,
                len + " the device read against the guest's data and the model disk's sectors, " + len
                        + " it wrote into the read buffer against guest RAM, 2 status bytes (VIRTIO_BLK_S_OK)",
                matched, re[1], afterUnmap,
                usedIdx(r) >= 2 ? null : "the device completed " + usedIdx(r) + " of 2 requests");
    }

    /** struct virtio_blk_outhdr: le32 type, le32 reserved, le64 sector. */
    private void header(long gpa, int type, long sector) {
        mem.write(PhysAddr.of(gpa), type, 4);
        mem.write(PhysAddr.of(gpa + 4), 0, 4);
        mem.write(PhysAddr.of(gpa + 8), sector, 8);
    }

    private Outcome problem(String why) {
        return new Outcome(null, null, 0, 0, null, false, 0, null, why);
    }
}
