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

    /**
     * One region in decoding order. {@code fixed}: the hit of a static region (null for a
     * window), checked without calling through the window. {@code cacheable}: a static region
     * that nothing earlier in the order can decode any byte of (every earlier entry is static
     * and disjoint from it), so any address inside it decodes to it for as long as the map is
     * unchanged.
     */
    private record Entry(int priority, int order, Window window, Hit fixed, boolean cacheable) {
    }

    private final String name;
    private final int unassignedByte;
    private final List<Entry> entries = new ArrayList<>();
    /** {@link #entries} as an array, for the per-access loop. */
    private Entry[] order = new Entry[0];
    /**
     * The last cacheable hit (QEMU keeps the last section of a flat view for the same reason:
     * consecutive accesses mostly stay in one RAM region). A Hit is immutable, so a racing
     * reader sees either the old or the new one, both right.
     */
    private Hit lastHit;

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
        add(priority, a -> hit.contains(a) ? hit : null, hit);
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
        add(priority, a -> hit.contains(a) ? hit : null, hit);
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
        add(priority, window, null);
    }

    private void add(int priority, Window w, Hit fixed) {
        entries.add(new Entry(priority, entries.size(), w, fixed, false));
        entries.sort(Comparator.comparingInt((Entry e) -> -e.priority).thenComparingInt(Entry::order));
        Entry[] sorted = new Entry[entries.size()];
        boolean staticPrefix = true;
        for (int i = 0; i < sorted.length; i++) {
            Entry e = entries.get(i);
            boolean cacheable = staticPrefix && e.fixed != null;
            for (int j = 0; cacheable && j < i; j++) {
                cacheable = !overlap(sorted[j].fixed, e.fixed);
            }
            sorted[i] = new Entry(e.priority, e.order, e.window, e.fixed, cacheable);
            staticPrefix &= e.fixed != null;
        }
        order = sorted;
        lastHit = null;
    }

    private static boolean overlap(Hit a, Hit b) {
        return Long.compareUnsigned(b.base() - a.base(), a.size()) < 0
                || Long.compareUnsigned(a.base() - b.base(), b.size()) < 0;
    }

    /** The region decoding {@code addr}, or null. */
    public Hit lookup(PhysAddr addr) {
        return decode(addr.value());
    }

    /** {@link #lookup} on the raw value: the dispatch loops below call it once per piece. */
    private Hit decode(long addr) {
        Hit last = lastHit;
        if (last != null && last.contains(addr)) {
            return last;
        }
        for (Entry e : order) {
            Hit h = e.fixed != null ? (e.fixed.contains(addr) ? e.fixed : null) : e.window.lookup(addr);
            if (h != null) {
                if (e.cacheable) {
                    lastHit = h;
                }
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

    /** An access of 1, 2, 4 or 8 bytes lying wholly in the RAM region {@code h} (which takes it as one piece). */
    private static boolean wholeInRam(Hit h, long addr, int size) {
        return h != null && h.ram() != null && h.rules() == AccessRules.ANY && size > 0 && size <= 8
                && (size & (size - 1)) == 0 && Long.compareUnsigned(addr - h.base() + size - 1, h.size()) < 0;
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    @Override
    public long read(PhysAddr pa, int size) {
        long addr = pa.value();
        Hit first = decode(addr);
        if (wholeInRam(first, addr, size)) {
            // what the loop below does for it, without the RAM view's indirection: one piece
            // (AccessRules.ANY takes any 1, 2, 4 or 8 bytes, aligned or not)
            return first.ram().read(PhysAddr.of(first.ramOffset() + (addr - first.base())), size) & mask(size);
        }
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
        Hit first = decode(addr);
        if (wholeInRam(first, addr, size)) {
            first.ram().write(PhysAddr.of(first.ramOffset() + (addr - first.base())), value & mask(size), size);
            return;
        }
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
        // every byte of a decoded region decodes (to it, or to a region above it): one
        // decode per region crossed, not per byte
        long done = 0;
        while (done < size) {
            long a = addr + done;
            Hit h = decode(a);
            if (h == null) {
                return Status.DECODE_ERROR;
            }
            long inRegion = h.size() - (a - h.base());
            done = Long.compareUnsigned(inRegion, size - done) >= 0 ? size : done + inRegion;
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
