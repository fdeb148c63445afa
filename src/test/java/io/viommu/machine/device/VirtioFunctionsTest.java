package io.viommu.machine.device;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.PhysAddr;
import io.viommu.memory.PhysicalMemory;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The virtio devices' request handling on guest-physical addresses (the route without
 * ACCESS_PLATFORM, straight on a RAM): virtio-blk's statuses and used lengths as QEMU 7.2's
 * virtio_blk_handle_request gives them, virtio-net's loopback, and a malformed chain stopping the
 * device (DEVICE_NEEDS_RESET) instead of throwing.
 */
class VirtioFunctionsTest {
    private static final long DESC = 0x10000;
    private static final long AVAIL = 0x11000;
    private static final long USED = 0x12000;

    private final PhysicalMemory ram = new PhysicalMemory(16 << 20);
    private int availIdx;
    private int nextDesc;

    private VirtioModern device(VirtioFunction f, int... queues) {
        VirtioModern d = new VirtioModern("test", false, f);
        d.attach(() -> null, ram);
        d.store(VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER, 1);
        d.store(VirtioModern.DRIVER_FEATURE_SELECT, 1, 4);
        d.store(VirtioModern.DRIVER_FEATURE, 1, 4); // VERSION_1
        d.store(VirtioModern.DEVICE_STATUS, 0xb, 1);
        for (int q : queues) {
            d.store(VirtioModern.QUEUE_SELECT, q, 2);
            d.store(VirtioModern.QUEUE_DESC, DESC + 0x100000L * q, 8);
            d.store(VirtioModern.QUEUE_DRIVER, AVAIL + 0x100000L * q, 8);
            d.store(VirtioModern.QUEUE_DEVICE, USED + 0x100000L * q, 8);
            d.store(VirtioModern.QUEUE_ENABLE, 1, 2);
        }
        d.store(VirtioModern.DEVICE_STATUS, 0xf, 1);
        return d;
    }

    /** Posts a chain of {addr, len, writable} on queue q and notifies it. */
    private void post(VirtioModern d, int q, long[]... segs) {
        long base = 0x100000L * q;
        int head = nextDesc;
        for (int k = 0; k < segs.length; k++) {
            long at = base + DESC + 16L * (head + k);
            ram.write(PhysAddr.of(at), segs[k][0], 8);
            ram.write(PhysAddr.of(at + 8), segs[k][1], 4);
            ram.write(PhysAddr.of(at + 12), (segs[k][2] != 0 ? 2 : 0) | (k + 1 < segs.length ? 1 : 0), 2);
            ram.write(PhysAddr.of(at + 14), head + k + 1, 2);
        }
        nextDesc += segs.length;
        ram.write(PhysAddr.of(base + AVAIL + 4 + 2L * availIdx), head, 2);
        availIdx++;
        ram.write(PhysAddr.of(base + AVAIL + 2), availIdx, 2);
        d.store(VirtioModern.NOTIFY + 4L * q, q, 2);
    }

    private long usedLen(int q, int k) {
        return ram.read(PhysAddr.of(0x100000L * q + USED + 4 + 8L * k + 4), 4);
    }

    private void header(long at, int type, long sector) {
        ram.write(PhysAddr.of(at), type, 4);
        ram.write(PhysAddr.of(at + 8), sector, 8);
    }

    @Test
    void blkWritesAndReadsItsDiskAndAnswersBadRequestsWithTheirStatus() {
        VirtioFunctions.Blk blk = new VirtioFunctions.Blk(1, 1 << 20); // 2048 sectors
        VirtioModern d = device(blk, 0);
        assertThat(d.load(VirtioModern.DEVICE, 8)).isEqualTo(2048); // capacity in sectors
        assertThat(d.load(VirtioModern.NUM_QUEUES, 2)).isEqualTo(1);
        byte[] data = new byte[1024];
        Arrays.fill(data, (byte) 0x5a);
        ram.writeBytes(PhysAddr.of(0x200000), data, 0, data.length);
        header(0x300000, VirtioFunctions.Blk.T_OUT, 7);
        post(d, 0, new long[] {0x300000, 16, 0}, new long[] {0x200000, 1024, 0}, new long[] {0x300100, 1, 1});
        assertThat(ram.read(PhysAddr.of(0x300100), 1)).isEqualTo(VirtioFunctions.Blk.S_OK);
        assertThat(usedLen(0, 0)).isEqualTo(1);
        assertThat(blk.disk(7 * 512, 1024)).isEqualTo(data);
        assertThat(blk.disk(6 * 512, 512)).containsOnly(0);
        // read back two sectors into a buffer
        header(0x300200, VirtioFunctions.Blk.T_IN, 7);
        post(d, 0, new long[] {0x300200, 16, 0}, new long[] {0x210000, 1024, 1}, new long[] {0x300300, 1, 1});
        byte[] got = new byte[1024];
        ram.readBytes(PhysAddr.of(0x210000), got, 0, 1024);
        assertThat(got).isEqualTo(data);
        assertThat(usedLen(0, 1)).isEqualTo(1025);
        // past the end, not whole sectors, an unknown type
        header(0x300400, VirtioFunctions.Blk.T_IN, 2047);
        post(d, 0, new long[] {0x300400, 16, 0}, new long[] {0x220000, 1024, 1}, new long[] {0x300500, 1, 1});
        assertThat(ram.read(PhysAddr.of(0x300500), 1)).isEqualTo(VirtioFunctions.Blk.S_IOERR);
        header(0x300600, VirtioFunctions.Blk.T_OUT, 0);
        post(d, 0, new long[] {0x300600, 16, 0}, new long[] {0x200000, 100, 0}, new long[] {0x300700, 1, 1});
        assertThat(ram.read(PhysAddr.of(0x300700), 1)).isEqualTo(VirtioFunctions.Blk.S_IOERR);
        assertThat(blk.disk(0, 100)).containsOnly(0);
        header(0x300800, 99, 0);
        post(d, 0, new long[] {0x300800, 16, 0}, new long[] {0x300900, 1, 1});
        assertThat(ram.read(PhysAddr.of(0x300900), 1)).isEqualTo(VirtioFunctions.Blk.S_UNSUPP);
        assertThat(blk.reads()).isEqualTo(1);
        assertThat(blk.writes()).isEqualTo(1);
        assertThat(d.needsReset()).isFalse();
        // a request without a status byte: virtio_error, the device stops until reset
        post(d, 0, new long[] {0x300800, 16, 0});
        assertThat(d.needsReset()).isTrue();
        assertThat(d.load(VirtioModern.DEVICE_STATUS, 1) & VirtioModern.STATUS_NEEDS_RESET).isNotZero();
        d.store(VirtioModern.DEVICE_STATUS, 0, 1);
        assertThat(d.needsReset()).isFalse();
    }

    @Test
    void netLoopsATransmittedFrameIntoTheNextReceiveBufferAndHoldsItUntilThereIsOne() {
        byte[] mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
        VirtioFunctions.Net net = new VirtioFunctions.Net(mac);
        VirtioModern d = device(net, 0, 1);
        assertThat(d.load(VirtioModern.NUM_QUEUES, 2)).isEqualTo(3);
        assertThat(d.load(VirtioModern.DEVICE, 4)).isEqualTo(0x12005452L);
        assertThat(d.load(VirtioModern.DEVICE + 4, 4)).isEqualTo(0x15634); // then status: LINK_UP
        assertThat(d.load(VirtioModern.DEVICE + 8, 4)).isEqualTo(0xffffffffL); // past config_len
        assertThat(d.hostFeatures() & VirtioFunctions.Net.F_MAC).isNotZero();
        byte[] pkt = new byte[12 + 60];
        for (int i = 12; i < pkt.length; i++) {
            pkt[i] = (byte) i;
        }
        ram.writeBytes(PhysAddr.of(0x400000), pkt, 0, pkt.length);
        int rxAvail = 0;
        availIdx = 0;
        post(d, 1, new long[] {0x400000, pkt.length, 0}); // no receive buffer yet: the frame waits
        assertThat(net.sent()).isEqualTo(1);
        assertThat(net.received()).isZero();
        availIdx = rxAvail;
        nextDesc = 0;
        post(d, 0, new long[] {0x500000, 1530, 1});
        byte[] got = new byte[pkt.length];
        ram.readBytes(PhysAddr.of(0x500000), got, 0, got.length);
        assertThat(got).isEqualTo(pkt); // a zero header, then the frame
        assertThat(usedLen(0, 0)).isEqualTo(pkt.length);
        assertThat(net.received()).isEqualTo(1);
        assertThat(d.accesses()).extracting(VirtioModern.Access::what).contains("tx buffer", "rx buffer");
        assertThat(d.accesses()).allMatch(a -> !a.translated() && a.ok());
    }
}
