package io.viommu.machine;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.Mmio;
import io.viommu.pci.AccessRules;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A dispatching address space (system memory or port I/O): an access is cut at region
 * boundaries and, inside a region, into naturally aligned pieces no wider than the region
 * accepts, as QEMU's {@code flatview_read_continue}/{@code memory_access_size} do. A piece
 * the region's {@link AccessRules} refuse is not delivered and reads 0 (QEMU
 * {@code unassigned_mem_read}); bytes no region decodes read as the space's unassigned byte
 * (0x00 for memory, 0xff for I/O ports, both checked with QEMU 7.2).
 *
 * <p>Regions are static ({@link #map}) or dynamic {@link Window}s consulted on every access
 * (PCI BARs, whose placement the guest changes). Higher priority wins where they overlap;
 * RAM sits above PCI space as in QEMU, so a BAR programmed over RAM is hidden.
 */
public final class AddressMap implements AddressSpace {
    /** A decoded range: {@code mmio} sees offsets relative to {@code base}. */
    public record Hit(String name, long base, long size, Mmio mmio, AccessRules rules,
                      AddressSpace ram, long ramOffset) {
        boolean contains(long addr) {
            return Long.compareUnsigned(addr - base, size) < 0;
        }
    }

    /** A region whose placement can change between accesses. */
    @FunctionalInterface
    public interface Window {
        /**
         * The region decoding {@code addr}, or null. A raw value on purpose: the dispatch calls
         * every window once per access piece, and the same map type decodes I/O ports too.
         */
        Hit lookup(long addr);
    }

    private record Entry(int priority, int order, Window window) {
    }

    private final String name;
    private final int unassignedByte;
    private final List<Entry> entries = new ArrayList<>();

    public AddressMap(String name, int unassignedByte) {
        this.name = name;
        this.unassignedByte = unassignedByte & 0xff;
    }

    public String name() {
        return name;
    }

    /** Maps a register block at a fixed address. */
    public void map(String regionName, long base, long size, Mmio mmio, AccessRules rules, int priority) {
        Hit hit = new Hit(regionName, base, size, mmio, rules, null, 0);
        add(priority, a -> hit.contains(a) ? hit : null);
    }

    /** Maps {@code size} bytes of RAM (or any address space) at {@code base}, starting at {@code ramOffset}. */
    public void mapRam(String regionName, long base, long size, AddressSpace ram, long ramOffset, int priority) {
        Mmio view = new Mmio() {
            @Override
            public long load(long offset, int sz) {
                return ram.read(PhysAddr.of(ramOffset + offset), sz);
            }

            @Override
            public void store(long offset, long value, int sz) {
                ram.write(PhysAddr.of(ramOffset + offset), value, sz);
            }
        };
        Hit hit = new Hit(regionName, base, size, view, AccessRules.ANY, ram, ramOffset);
        add(priority, a -> hit.contains(a) ? hit : null);
    }

    /**
     * Port input on an I/O-space map (x86 {@code in}): a port number is not a physical address,
     * so port accesses name it as such; the decoding is the same as for memory.
     */
    public long in(int port, int size) {
        return read(new PhysAddr(Integer.toUnsignedLong(port)), size);
    }

    /** Port output on an I/O-space map (x86 {@code out}); see {@link #in}. */
    public void out(int port, long value, int size) {
        write(new PhysAddr(Integer.toUnsignedLong(port)), value, size);
    }

    public void addWindow(Window window, int priority) {
        add(priority, window);
    }

    private void add(int priority, Window w) {
        entries.add(new Entry(priority, entries.size(), w));
        entries.sort(Comparator.comparingInt((Entry e) -> -e.priority).thenComparingInt(Entry::order));
    }

    /** The region decoding {@code addr}, or null. */
    public Hit lookup(PhysAddr addr) {
        return decode(addr.value());
    }

    /** {@link #lookup} on the raw value: the dispatch loops below call it once per piece. */
    private Hit decode(long addr) {
        for (Entry e : entries) {
            Hit h = e.window.lookup(addr);
            if (h != null) {
                return h;
            }
        }
        return null;
    }

    /** Width of the next piece at region offset {@code rel} (QEMU {@code memory_access_size}). */
    static int pieceSize(AccessRules rules, long rel, long remaining) {
        long max = rules.maxSize();
        if (!rules.unaligned() && rel != 0) {
            long align = rel & -rel;
            if (align < max) {
                max = align;
            }
        }
        long l = Math.min(remaining, max);
        return (int) Long.highestOneBit(l);
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    @Override
    public long read(PhysAddr pa, int size) {
        long addr = pa.value();
        long v = 0;
        int done = 0;
        while (done < size) {
            long a = addr + done;
            Hit h = decode(a);
            int piece;
            long pv;
            if (h == null) {
                piece = 1;
                pv = unassignedByte;
            } else {
                long rel = a - h.base();
                long avail = h.size() - rel;
                piece = pieceSize(h.rules(), rel, Math.min(size - done, Long.compareUnsigned(avail, 8) > 0 ? 8 : avail));
                pv = h.rules().accepts(rel, piece) ? h.mmio().load(rel, piece) & mask(piece) : 0;
            }
            v |= pv << (8 * done);
            done += piece;
        }
        return v;
    }

    @Override
    public void write(PhysAddr pa, long value, int size) {
        long addr = pa.value();
        int done = 0;
        while (done < size) {
            long a = addr + done;
            Hit h = decode(a);
            if (h == null) {
                done++;
                continue;
            }
            long rel = a - h.base();
            long avail = h.size() - rel;
            int piece = pieceSize(h.rules(), rel, Math.min(size - done, Long.compareUnsigned(avail, 8) > 0 ? 8 : avail));
            if (h.rules().accepts(rel, piece)) {
                h.mmio().store(rel, (value >>> (8 * done)) & mask(piece), piece);
            }
            done += piece;
        }
    }

    @Override
    public Status probe(PhysAddr pa, int size) {
        long addr = pa.value();
        for (int i = 0; i < size; i++) {
            if (decode(addr + i) == null) {
                return Status.DECODE_ERROR;
            }
        }
        return Status.OK;
    }

    /** Bulk read (qtest {@code read}, device DMA): RAM runs are copied directly. */
    @Override
    public void readBytes(PhysAddr addr, byte[] dst, int off, int len) {
        copy(addr.value(), dst, off, len, false);
    }

    @Override
    public void writeBytes(PhysAddr addr, byte[] src, int off, int len) {
        copy(addr.value(), src, off, len, true);
    }

    /** RAM runs are zeroed by their backing memory (a sparse one stays unbacked); the rest byte by byte. */
    @Override
    public void zero(PhysAddr pa, long len) {
        long addr = pa.value();
        long done = 0;
        while (done < len) {
            long a = addr + done;
            Hit h = decode(a);
            if (h != null && h.ram() != null) {
                long rel = a - h.base();
                long n = Math.min(len - done, h.size() - rel);
                h.ram().zero(PhysAddr.of(h.ramOffset() + rel), n);
                done += n;
            } else {
                write(PhysAddr.of(a), 0, 1);
                done++;
            }
        }
    }

    /**
     * One bulk transfer: RAM runs go straight to the backing memory; anything else is cut into
     * accesses of at most 8 bytes that stay inside one region (1 byte where nothing decodes),
     * each through {@link #read}/{@link #write} with QEMU's access rules.
     */
    private void copy(long addr, byte[] buf, int off, int len, boolean write) {
        int done = 0;
        while (done < len) {
            long a = addr + done;
            Hit h = decode(a);
            int n;
            if (h != null && h.ram() != null) {
                long rel = a - h.base();
                n = (int) Math.min(len - done, Math.min(h.size() - rel, Integer.MAX_VALUE));
                if (write) {
                    h.ram().writeBytes(PhysAddr.of(h.ramOffset() + rel), buf, off + done, n);
                } else {
                    h.ram().readBytes(PhysAddr.of(h.ramOffset() + rel), buf, off + done, n);
                }
            } else {
                n = h == null ? 1 : (int) Math.min(Math.min(8, len - done), h.size() - (a - h.base()));
                if (write) {
                    long v = 0;
                    for (int i = 0; i < n; i++) {
                        v |= (buf[off + done + i] & 0xffL) << (8 * i);
                    }
                    write(PhysAddr.of(a), v, n);
                } else {
                    long v = read(PhysAddr.of(a), n);
                    for (int i = 0; i < n; i++) {
                        buf[off + done + i] = (byte) (v >>> (8 * i));
                    }
                }
            }
            done += n;
        }
    }
}
