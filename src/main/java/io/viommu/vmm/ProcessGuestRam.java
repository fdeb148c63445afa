package io.viommu.vmm;

import io.viommu.linux.vfio.PageFrames;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.memory.AddressSpace;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.VirtAddr;
import java.util.ArrayList;
import java.util.List;

/**
 * A VM's RAM as one anonymous mapping of its VMM process (QEMU's {@code pc.ram} RAM block), and
 * the same RAM seen as the VM's physical address space: what the VM's devices, and its vIOMMU
 * reading the guest's tables, load and store. A guest-physical address resolves to the process
 * address of its section, and that to the host frame behind it (faulted in on a store; an
 * untouched page reads as zero, as a fresh anonymous page does).
 *
 * <p>Layout as q35 (hw/i386/pc_q35.c pc_q35_init): RAM up to 2 GiB (or up to 0xb0000000 when the
 * RAM is smaller than that) at guest-physical 0, the rest at 4 GiB; both sections are pieces of
 * the one block and carry its name. Nothing else (no MMIO) decodes here.
 */
public final class ProcessGuestRam implements GuestRam, AddressSpace {
    private static final long FOUR_GB = 1L << 32;

    private final UserProcess process;
    private final AddressSpace hostRam;
    private final List<Section> sections;
    private final long[] starts;
    /**
     * A direct-mapped cache of guest page -> host frame for pages already faulted in. An
     * anonymous page of the model never moves while it is mapped (no swap, no migration) and
     * the VM's RAM stays mapped for the VM's life, so an entry never goes stale. Indexed by a
     * multiplicative hash of the page number ({@link #slot}): indexed by its low bits, pages
     * a multiple of 256 pages apart (an L1 guest's page tables at 16 MiB, its invalidation
     * queue at 96 MiB) shared slots and evicted each other on every nested map.
     */
    private static final int CACHE_BITS = 10;
    private static final int CACHE = 1 << CACHE_BITS;
    private final long[] cachedPage = new long[CACHE];
    private final long[] cachedFrame = new long[CACHE];

    private ProcessGuestRam(UserProcess process, AddressSpace hostRam, List<Section> sections) {
        this.process = process;
        this.hostRam = hostRam;
        this.sections = List.copyOf(sections);
        java.util.Arrays.fill(cachedPage, -1L);
        this.starts = new long[this.sections.size()];
        for (int i = 0; i < starts.length; i++) {
            starts[i] = this.sections.get(i).gpa().value();
        }
    }

    /**
     * {@code size} bytes of RAM mmap'ed in {@code process} (whose frames come from
     * {@code frames}), laid out as q35 does.
     */
    public static ProcessGuestRam allocate(UserProcess process, PageFrames frames, long size) {
        if (size <= 0 || (size & (Page.SIZE - 1)) != 0) {
            throw new IllegalArgumentException("guest RAM size must be whole pages: " + size);
        }
        long base = process.mmapAnon(size).value();
        long lowLimit = size >= 0xb000_0000L ? 0x8000_0000L : 0xb000_0000L;
        long below = Math.min(size, lowLimit);
        List<Section> s = new ArrayList<>();
        s.add(new Section("pc.ram", new PhysAddr(0), below, new VirtAddr(base)));
        if (size > below) {
            s.add(new Section("pc.ram", new PhysAddr(FOUR_GB), size - below, new VirtAddr(base + below)));
        }
        return new ProcessGuestRam(process, frames.ram(), s);
    }

    /**
     * RAM of an explicit layout: {@code sections} (ascending, non-overlapping) whose process
     * addresses lie in mappings of {@code process}; e.g. a machine with holes, or sections
     * whose process addresses are not contiguous.
     */
    public static ProcessGuestRam of(UserProcess process, PageFrames frames, List<Section> sections) {
        for (int i = 1; i < sections.size(); i++) {
            Section a = sections.get(i - 1);
            if (Long.compareUnsigned(a.gpa().value() + a.size(), sections.get(i).gpa().value()) > 0) {
                throw new IllegalArgumentException("RAM sections overlap or are out of order: " + sections);
            }
        }
        return new ProcessGuestRam(process, frames.ram(), sections);
    }

    public UserProcess process() {
        return process;
    }

    @Override
    public List<Section> sections() {
        return sections;
    }

    private Section sectionOf(long gpa) {
        for (int i = starts.length - 1; i >= 0; i--) {
            if (Long.compareUnsigned(gpa, starts[i]) >= 0) {
                Section s = sections.get(i);
                return Long.compareUnsigned(gpa - starts[i], s.size()) < 0 ? s : null;
            }
        }
        return null;
    }

    /**
     * The section holding all of {@code [gpa, gpa + size)}, or null (not RAM, or running off its
     * section's end): one section look-up for both ends; {@code size} at least 1.
     */
    private Section sectionOf(long gpa, int size) {
        for (int i = starts.length - 1; i >= 0; i--) {
            if (Long.compareUnsigned(gpa, starts[i]) >= 0) {
                Section s = sections.get(i);
                long rel = gpa - starts[i];
                return Long.compareUnsigned(rel, s.size()) < 0 && Long.compareUnsigned(rel + size - 1, s.size()) < 0
                        ? s : null;
            }
        }
        return null;
    }

    @Override
    public VirtAddr vaddrOf(PhysAddr a) {
        Section s = sectionOf(a.value());
        return s == null ? null : s.vaddrOf(a);
    }

    /** The host frame address behind {@code gpa} now (null: not RAM, or not touched yet). */
    public PhysAddr hostPhysical(long gpa) {
        Section s = sectionOf(gpa);
        return s == null ? null : process.physical(s.vaddrOf(new PhysAddr(gpa)));
    }

    /** The host frame of guest page {@code gpa} (in section {@code s}), or -1 while untouched. */
    private long frame(Section s, long gpa) {
        long page = gpa >>> 12;
        int slot = slot(page);
        if (cachedPage[slot] == page) {
            return cachedFrame[slot];
        }
        PhysAddr p = process.physical(new VirtAddr(s.vaddr().value() + ((gpa & -Page.SIZE) - s.gpa().value())));
        if (p == null) {
            return -1;
        }
        cachedPage[slot] = page;
        cachedFrame[slot] = p.value();
        return p.value();
    }

    /** Fibonacci hashing: the top bits of page x 2^64/phi spread pages at any common stride. */
    private static int slot(long page) {
        return (int) ((page * 0x9E37_79B9_7F4A_7C15L) >>> (64 - CACHE_BITS));
    }

    private boolean withinPage(long addr, int size) {
        return ((addr & (Page.SIZE - 1)) + size) <= Page.SIZE;
    }

    @Override
    public long read(PhysAddr addr, int size) {
        return load(addr.value(), size);
    }

    // load/store/decodes take the raw value: readQuadOrOnes (the vIOMMU's page-walk load,
    // see AddressSpace#readQuadOrOnes) calls them without wrapping each entry address.

    private long load(long addr, int size) {
        Section s = sectionOf(addr, size);
        if (s == null) {
            return 0;
        }
        if (withinPage(addr, size)) {
            long f = frame(s, addr);
            return f < 0 ? 0 : hostRam.read(PhysAddr.of(f + (addr & (Page.SIZE - 1))), size);
        }
        byte[] b = process.read(s.vaddrOf(new PhysAddr(addr)), size);
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = v << 8 | (b[i] & 0xff);
        }
        return v;
    }

    @Override
    public long readQuadOrOnes(long addr) {
        return decodes(addr, 8) ? load(addr, 8) : -1L;
    }

    @Override
    public void write(PhysAddr pa, long value, int size) {
        long addr = pa.value();
        Section s = sectionOf(addr, size);
        if (s == null) {
            return; // unassigned: the store is dropped
        }
        long f = withinPage(addr, size) ? frame(s, addr) : -1;
        if (f >= 0) {
            hostRam.write(PhysAddr.of(f + (addr & (Page.SIZE - 1))), value, size);
            return;
        }
        VirtAddr va = s.vaddrOf(new PhysAddr(addr));
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        process.write(va, b);
    }

    @Override
    public Status probe(PhysAddr addr, int size) {
        return decodes(addr.value(), size) ? Status.OK : Status.DECODE_ERROR;
    }

    private boolean decodes(long addr, int size) {
        Section s = sectionOf(addr);
        return s != null && (size >= 1 ? sectionOf(addr, size) == s : sectionOf(addr + size - 1) == s);
    }

    @Override
    public void readBytes(PhysAddr pa, byte[] dst, int off, int len) {
        long addr = pa.value();
        Section s = sectionOf(addr);
        if (s == null || len == 0 || sectionOf(addr + len - 1) != s) {
            AddressSpace.super.readBytes(pa, dst, off, len);
            return;
        }
        byte[] b = process.read(s.vaddrOf(pa), len);
        System.arraycopy(b, 0, dst, off, len);
    }

    @Override
    public void writeBytes(PhysAddr pa, byte[] src, int off, int len) {
        long addr = pa.value();
        Section s = sectionOf(addr);
        if (s == null || len == 0 || sectionOf(addr + len - 1) != s) {
            AddressSpace.super.writeBytes(pa, src, off, len);
            return;
        }
        byte[] b = new byte[len];
        System.arraycopy(src, off, b, 0, len);
        process.write(s.vaddrOf(pa), b);
    }
}
