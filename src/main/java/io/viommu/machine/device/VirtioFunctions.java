package io.viommu.machine.device;

import io.viommu.machine.device.VirtioModern.Chain;
import io.viommu.machine.device.VirtioModern.Desc;
import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The device halves of the virtio kinds the model serves: virtio-rng, virtio-net and virtio-blk.
 * Each request moves its bytes by DMA through the transport ({@link VirtioModern}), so a buffer
 * the driver mapped through the vIOMMU is reached through it, and a stale one faults.
 */
public final class VirtioFunctions {
    private VirtioFunctions() {
    }

    /**
     * virtio-rng (hw/virtio/virtio-rng.c virtio_rng_process): one queue of 8; every
     * device-writable buffer of a chain is filled with entropy, the chain returned with the bytes
     * written. The entropy is a fixed sequence (QEMU reads its rng backend, /dev/urandom by
     * default), so tests can compare every byte.
     */
    public static final class Rng implements VirtioFunction {
        private long counter;

        @Override
        public long features() {
            return 0;
        }

        @Override
        public int[] queueSizes() {
            return new int[] {VirtioModern.RNG_QUEUE_SIZE};
        }

        @Override
        public long config(int offset, int size) {
            return 0; // virtio-rng has no device configuration
        }

        @Override
        public void notified(VirtioModern t, int queue) {
            int avail = t.availIdx(queue);
            for (Chain c = t.pop(queue, avail); c != null; c = t.pop(queue, avail)) {
                int written = 0;
                for (Desc d : c.descs()) {
                    if (d.writable() && d.length() > 0 && d.length() <= 1 << 16) {
                        if (!t.dma("buffer", d.address(), entropy(d.length()), true)) {
                            return;
                        }
                        written += d.length();
                    }
                }
                if (!t.push(queue, c, written)) {
                    return;
                }
            }
        }

        private byte[] entropy(int len) {
            byte[] out = new byte[len];
            for (int i = 0; i < len; i++) {
                long z = (counter++ + 0x9e3779b97f4a7c15L) * 0xbf58476d1ce4e5b9L;
                out[i] = (byte) (z ^ (z >>> 31));
            }
            return out;
        }
    }

    /**
     * virtio-net (hw/net/virtio-net.c): queues receiveq (0), transmitq (1) and controlq (2) of
     * 256, 256 and 64 entries (QEMU 7.2's defaults; the control queue is not offered, so it is
     * never served); VIRTIO_NET_F_MAC with the MAC in the device configuration. A frame the
     * driver transmits is read by DMA after its 12-byte virtio_net_hdr (VERSION_1's size). The
     * model has no host network behind the NIC ({@code -netdev user} or {@code tap} have no
     * effect), so the backend is a loopback: each transmitted frame is received again, written
     * by DMA into the next receive buffer after a zeroed header (no GSO, no checksum offload). A
     * frame waits while no receive buffer is available (virtio_net_can_receive); one that does
     * not fit its buffer is dropped and counted.
     */
    public static final class Net implements VirtioFunction {
        public static final int RX = 0;
        public static final int TX = 1;
        /** sizeof(struct virtio_net_hdr_mrg_rxbuf): the header with VERSION_1. */
        public static final int HDR = 12;
        /** VIRTIO_NET_F_MAC. */
        public static final long F_MAC = 1L << 5;
        private static final int MAX_PENDING = 256;

        private final byte[] mac;
        private final ArrayDeque<byte[]> pending = new ArrayDeque<>();
        private long sent;
        private long received;
        private long dropped;

        public Net(byte[] mac) {
            this.mac = mac.clone();
        }

        @Override
        public long features() {
            return F_MAC;
        }

        @Override
        public int[] queueSizes() {
            return new int[] {256, 256, 64};
        }

        /**
         * struct virtio_net_config as QEMU 7.2 sizes it for the features offered: mac[6], then
         * status (VIRTIO_NET_S_LINK_UP); beyond its 8 bytes a read is all ones
         * (virtio_config_modern_read* past config_len). Captured: src/test/resources/vmm/virtio-regs.
         */
        @Override
        public long config(int offset, int size) {
            if (offset + size > 8) {
                return size == 8 ? -1L : (1L << (8 * size)) - 1;
            }
            long v = 0;
            for (int i = size - 1; i >= 0; i--) {
                int o = offset + i;
                v = v << 8 | (o < mac.length ? mac[o] & 0xff : o == 6 ? 1 : 0);
            }
            return v;
        }

        /** Frames the device read from the transmit queue, wrote into receive buffers, dropped. */
        public long sent() {
            return sent;
        }

        public long received() {
            return received;
        }

        public long dropped() {
            return dropped;
        }

        @Override
        public void notified(VirtioModern t, int queue) {
            if (queue == TX) {
                int avail = t.availIdx(TX);
                for (Chain c = t.pop(TX, avail); c != null; c = t.pop(TX, avail)) {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    for (Desc d : c.descs()) {
                        if (d.writable() || d.length() > 65536 + HDR) {
                            t.deviceError(); // virtio_net_flush_tx: "virtio-net header not in first element" and the like
                            return;
                        }
                        byte[] b = new byte[d.length()];
                        if (!t.dma("tx buffer", d.address(), b, false)) {
                            return;
                        }
                        out.writeBytes(b);
                    }
                    byte[] all = out.toByteArray();
                    if (all.length < HDR) {
                        t.deviceError(); // "virtio-net header incorrect"
                        return;
                    }
                    if (!t.push(TX, c, 0)) {
                        return;
                    }
                    sent++;
                    if (pending.size() == MAX_PENDING) {
                        pending.removeFirst();
                        dropped++;
                    }
                    pending.addLast(Arrays.copyOfRange(all, HDR, all.length));
                }
            }
            if (queue == TX || queue == RX) {
                deliver(t);
            }
        }

        private void deliver(VirtioModern t) {
            if (pending.isEmpty()) {
                return;
            }
            int avail = t.availIdx(RX);
            while (!pending.isEmpty()) {
                Chain c = t.pop(RX, avail);
                if (c == null) {
                    return; // no receive buffer: the frame waits
                }
                byte[] frame = pending.removeFirst();
                byte[] bytes = new byte[HDR + frame.length];
                System.arraycopy(frame, 0, bytes, HDR, frame.length);
                long room = c.descs().stream().filter(Desc::writable).mapToLong(Desc::length).sum();
                if (room < bytes.length) {
                    dropped++;
                    if (!t.push(RX, c, 0)) {
                        return;
                    }
                    continue;
                }
                int off = 0;
                for (Desc d : c.descs()) {
                    if (!d.writable() || off == bytes.length) {
                        continue;
                    }
                    int n = Math.min(d.length(), bytes.length - off);
                    if (!t.dma("rx buffer", d.address(), Arrays.copyOfRange(bytes, off, off + n), true)) {
                        return;
                    }
                    off += n;
                }
                if (!t.push(RX, c, bytes.length)) {
                    return;
                }
                received++;
            }
        }

        @Override
        public void reset() {
            pending.clear();
        }
    }

    /**
     * virtio-blk (hw/block/virtio-blk.c virtio_blk_handle_request) over a model disk: request
     * queues of 256; a request is a 16-byte header (type, reserved, sector) the device reads,
     * data buffers, and a status byte (the last device-writable byte) it writes. VIRTIO_BLK_T_IN
     * reads the disk into the device-writable buffers, T_OUT writes the readable ones to it,
     * T_FLUSH succeeds; a range outside the disk or not a whole number of sectors is
     * VIRTIO_BLK_S_IOERR, another type VIRTIO_BLK_S_UNSUPP. The disk is the model's own (sparse,
     * zero where never written): the image of {@code -drive}/{@code -blockdev} is not read or
     * written. The used length is the device-writable bytes (QEMU's in_len).
     */
    public static final class Blk implements VirtioFunction {
        public static final int SECTOR = 512;
        public static final int T_IN = 0;
        public static final int T_OUT = 1;
        public static final int T_FLUSH = 4;
        public static final int S_OK = 0;
        public static final int S_IOERR = 1;
        public static final int S_UNSUPP = 2;
        /** The model disk's size: the image is not read, so its size is not known (1 GiB). */
        public static final long MODEL_DISK_BYTES = 1L << 30;

        private final int queues;
        private final long capacitySectors;
        private final Map<Long, byte[]> sectors = new HashMap<>();
        private long reads;
        private long writes;

        public Blk(int queues, long capacityBytes) {
            this.queues = Math.max(1, queues);
            this.capacitySectors = capacityBytes / SECTOR;
        }

        @Override
        public long features() {
            return 0;
        }

        @Override
        public int[] queueSizes() {
            int[] s = new int[queues];
            Arrays.fill(s, 256);
            return s;
        }

        @Override
        public long config(int offset, int size) {
            // struct virtio_blk_config: le64 capacity (sectors) at 0, seg_max (le32, queue size - 2) at 0x0c as
            // QEMU 7.2 fills it; the other fields belong to features the model does not offer (read 0)
            long v = 0;
            for (int i = size - 1; i >= 0; i--) {
                int o = offset + i;
                long b = o < 8 ? (capacitySectors >>> (8 * o)) & 0xff : o >= 0x0c && o < 0x10 ? (254L >>> (8 * (o - 0x0c))) & 0xff : 0;
                v = v << 8 | b;
            }
            return v;
        }

        public long capacitySectors() {
            return capacitySectors;
        }

        /** Requests served: reads and writes of the disk. */
        public long reads() {
            return reads;
        }

        public long writes() {
            return writes;
        }

        /** The disk's bytes at {@code offset} (what a later read returns). */
        public byte[] disk(long offset, int length) {
            byte[] out = new byte[length];
            for (int i = 0; i < length; ) {
                long at = offset + i;
                byte[] s = sectors.get(at / SECTOR);
                int in = (int) (at % SECTOR);
                int n = Math.min(SECTOR - in, length - i);
                if (s != null) {
                    System.arraycopy(s, in, out, i, n);
                }
                i += n;
            }
            return out;
        }

        private void store(long offset, byte[] data) {
            for (int i = 0; i < data.length; ) {
                long at = offset + i;
                byte[] s = sectors.computeIfAbsent(at / SECTOR, k -> new byte[SECTOR]);
                int in = (int) (at % SECTOR);
                int n = Math.min(SECTOR - in, data.length - i);
                System.arraycopy(data, i, s, in, n);
                i += n;
            }
        }

        @Override
        public void notified(VirtioModern t, int queue) {
            int avail = t.availIdx(queue);
            for (Chain c = t.pop(queue, avail); c != null; c = t.pop(queue, avail)) {
                if (!request(t, queue, c)) {
                    return;
                }
            }
        }

        private boolean request(VirtioModern t, int queue, Chain c) {
            java.util.List<Desc> outs = c.descs().stream().filter(d -> !d.writable()).toList();
            java.util.List<Desc> ins = c.descs().stream().filter(Desc::writable).toList();
            if (outs.isEmpty() || outs.get(0).length() < 16 || ins.isEmpty() || ins.get(ins.size() - 1).length() < 1) {
                t.deviceError(); // "virtio-blk missing headers"
                return false;
            }
            byte[] hdr = new byte[16];
            if (!t.dma("request header", outs.get(0).address(), hdr, false)) {
                return false;
            }
            int type = (int) VirtioModern.le(hdr, 0, 4);
            long sector = VirtioModern.le(hdr, 8, 8);
            Desc statusDesc = ins.get(ins.size() - 1);
            long inBytes = ins.stream().mapToLong(Desc::length).sum();
            long dataIn = inBytes - 1;
            int status;
            if (type == T_IN) {
                status = inRange(sector, dataIn) ? S_OK : S_IOERR;
                if (status == S_OK) {
                    long off = sector * SECTOR;
                    for (Desc d : ins) {
                        int n = d == statusDesc ? d.length() - 1 : d.length();
                        if (n > 0) {
                            if (!t.dma("data", d.address(), disk(off, n), true)) {
                                return false;
                            }
                            off += n;
                        }
                    }
                    reads++;
                }
            } else if (type == T_OUT) {
                ByteArrayOutputStream data = new ByteArrayOutputStream();
                for (int i = 1; i < outs.size(); i++) {
                    byte[] b = new byte[outs.get(i).length()];
                    if (!t.dma("data", outs.get(i).address(), b, false)) {
                        return false;
                    }
                    data.writeBytes(b);
                }
                // the header's own descriptor may carry data after the 16 bytes: Linux never does
                status = inRange(sector, data.size()) ? S_OK : S_IOERR;
                if (status == S_OK) {
                    store(sector * SECTOR, data.toByteArray());
                    writes++;
                }
            } else {
                status = type == T_FLUSH ? S_OK : S_UNSUPP;
            }
            if (!t.dma("status", statusDesc.address() + statusDesc.length() - 1, new byte[] {(byte) status}, true)) {
                return false;
            }
            return t.push(queue, c, (int) inBytes); // virtio_blk_req_complete pushes in_len, whatever the status
        }

        private boolean inRange(long sector, long bytes) {
            return bytes % SECTOR == 0 && sector >= 0 && sector <= capacitySectors
                    && bytes / SECTOR <= capacitySectors - sector;
        }
    }
}
