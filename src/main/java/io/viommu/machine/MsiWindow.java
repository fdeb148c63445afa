package io.viommu.machine;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.MsiAddress;
import io.viommu.pci.MsiSink;
import io.viommu.pci.RequesterId;
import java.util.function.Supplier;

/**
 * One device's view of memory for DMA, with the interrupt address range 0xFEE00000-0xFEEFFFFF
 * turned into MSIs, as in QEMU: a device write there is an interrupt request with the
 * device's requester id (behind VT-d: the vtd-ir region, vtd_mem_ir_ops; without it: the
 * APIC's MSI region in system memory). The region takes 4-byte accesses only, so a wider or
 * longer write is cut into naturally aligned DWORDs, each one MSI, and pieces smaller than
 * 4 bytes (unaligned or short) are dropped. Reads there return zeros (vtd_mem_ir_read).
 */
final class MsiWindow implements AddressSpace {
    private final AddressSpace memory;
    private final Supplier<RequesterId> requester;
    private final MsiSink sink;

    MsiWindow(AddressSpace memory, Supplier<RequesterId> requester, MsiSink sink) {
        this.memory = memory;
        this.requester = requester;
        this.sink = sink;
    }

    static boolean inWindow(long addr) {
        return MsiAddress.contains(addr);
    }

    @Override
    public long read(PhysAddr addr, int size) {
        return inWindow(addr.value()) ? 0 : memory.read(addr, size);
    }

    @Override
    public void write(PhysAddr addr, long value, int size) {
        if (!inWindow(addr.value())) {
            memory.write(addr, value, size);
            return;
        }
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        writeBytes(addr, b, 0, size);
    }

    @Override
    public Status probe(PhysAddr addr, int size) {
        return inWindow(addr.value()) ? Status.OK : memory.probe(addr, size);
    }

    @Override
    public void readBytes(PhysAddr pa, byte[] dst, int off, int len) {
        long addr = pa.value();
        int done = 0;
        while (done < len) {
            long a = addr + done;
            int n = runLength(a, len - done);
            if (inWindow(a)) {
                java.util.Arrays.fill(dst, off + done, off + done + n, (byte) 0);
            } else {
                memory.readBytes(new PhysAddr(a), dst, off + done, n);
            }
            done += n;
        }
    }

    @Override
    public void writeBytes(PhysAddr pa, byte[] src, int off, int len) {
        long addr = pa.value();
        int done = 0;
        while (done < len) {
            long a = addr + done;
            int n = runLength(a, len - done);
            if (inWindow(a)) {
                interruptWrites(a, src, off + done, n);
            } else {
                memory.writeBytes(new PhysAddr(a), src, off + done, n);
            }
            done += n;
        }
    }

    /** Bytes from {@code a} that stay on the same side of the window boundary. */
    private static int runLength(long a, int remaining) {
        long boundary = inWindow(a) ? MsiAddress.LAST + 1 : (a < MsiAddress.FIRST ? MsiAddress.FIRST : Long.MAX_VALUE);
        return (int) Math.min(remaining, boundary - a);
    }

    /** QEMU memory_access_size with max 4, no unaligned access: DWORD pieces, smaller ones dropped. */
    private void interruptWrites(long addr, byte[] src, int off, int len) {
        int done = 0;
        while (done < len) {
            long a = addr + done;
            int piece = Math.min(4, len - done);
            long align = a & -a;
            if (align < piece) {
                piece = (int) align;
            }
            piece = Integer.highestOneBit(piece);
            if (piece == 4) {
                int data = (src[off + done] & 0xff) | (src[off + done + 1] & 0xff) << 8
                        | (src[off + done + 2] & 0xff) << 16 | (src[off + done + 3] & 0xff) << 24;
                sink.deliver(a, data, requester.get());
            }
            done += piece;
        }
    }
}
