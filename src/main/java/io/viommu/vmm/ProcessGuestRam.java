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
    /**
     * Where the bytes finally are: {@code hostRam}, or, when that is the RAM block of a VM
     * beneath (this VMM runs in a guest: its frames are that VM's RAM, {@link Block}), that
     * VM's own bottom. The frame cache holds addresses in this space, so an L2 guest's access
     * goes to the host's memory in one step instead of through every level's RAM.
     */
    private final AddressSpace bottomRam;
    private final List<Section> sections;
    private final long[] starts;
    /**
     * A direct-mapped cache of guest page -> frame in {@link #bottomRam} for pages already
     * faulted in, at this level and every level beneath. An anonymous page of the model never
     * moves while it is mapped (no swap, no migration) and the VM's RAM stays mapped for the
     * VM's life, so an entry never goes stale. Indexed by a
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
        this.bottomRam = hostRam instanceof Block b ? b.ram.bottomRam : hostRam;
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

    /**
     * The frame in {@link #bottomRam} of guest page {@code gpa} (in section {@code s}), or -1
     * while it (or the page beneath it, in a VM beneath) is untouched: then the access takes
     * the level-by-level path, which reads zero or faults the page in as each level does.
     */
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
        long f = p.value();
        if (hostRam instanceof Block b) {
            f = b.ram.frameOfBlockOffset(f);
            if (f < 0) {
                return -1;
            }
        }
        cachedPage[slot] = page;
        cachedFrame[slot] = f;
        return f;
    }

    /** {@link #frame} of the page at RAM block offset {@code offset} (see {@link Block}), or -1. */
    private long frameOfBlockOffset(long offset) {
        long gpa = blockGpa(offset);
        Section s = sectionOf(gpa);
        return s == null ? -1 : frame(s, gpa);
    }

    /** The guest-physical address of RAM block offset {@code offset}: below-4G RAM, then above 4 GiB. */
    private long blockGpa(long offset) {
        long below = sections.get(0).size();
        return offset < below ? offset : FOUR_GB + (offset - below);
    }

    /** The level-by-level path of an access to a page {@link #frame} did not resolve: the host frame now, or null. */
    private PhysAddr untouchedOrBeneath(Section s, long addr) {
        return process.physical(s.vaddrOf(new PhysAddr(addr)));
    }

    /**
     * The machine's view of this RAM (QEMU's pc.ram block): addressed by offset in the block,
     * below-4G RAM first, then the RAM above 4 GiB; what the VM's machine maps and, when a VMM
     * runs inside this VM, its kernel's frames.
     */
    public AddressSpace block() {
        return new Block(this);
    }

    private static final class Block implements AddressSpace {
        private final ProcessGuestRam ram;
        private final long below;

        Block(ProcessGuestRam ram) {
            this.ram = ram;
            this.below = ram.sections().get(0).size();
        }

        @Override
        public long read(PhysAddr addr, int size) {
            return ram.read(PhysAddr.of(ram.blockGpa(addr.value())), size);
        }

        @Override
        public void write(PhysAddr addr, long value, int size) {
            ram.write(PhysAddr.of(ram.blockGpa(addr.value())), value, size);
        }

        @Override
        public Status probe(PhysAddr addr, int size) {
            return ram.probe(PhysAddr.of(ram.blockGpa(addr.value())), size);
        }

        @Override
        public void readBytes(PhysAddr addr, byte[] dst, int off, int len) {
            if (addr.value() < below && addr.value() + len > below) {
                AddressSpace.super.readBytes(addr, dst, off, len);
            } else {
                ram.readBytes(PhysAddr.of(ram.blockGpa(addr.value())), dst, off, len);
            }
        }

        @Override
        public void writeBytes(PhysAddr addr, byte[] src, int off, int len) {
            if (addr.value() < below && addr.value() + len > below) {
                AddressSpace.super.writeBytes(addr, src, off, len);
            } else {
                ram.writeBytes(PhysAddr.of(ram.blockGpa(addr.value())), src, off, len);
            }
        }
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
            if (f >= 0) {
                return bottomRam.read(PhysAddr.of(f + (addr & (Page.SIZE - 1))), size);
            }
            PhysAddr p = untouchedOrBeneath(s, addr);
            return p == null ? 0 : hostRam.read(p, size);
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
            bottomRam.write(PhysAddr.of(f + (addr & (Page.SIZE - 1))), value, size);
            return;
        }
        PhysAddr p = withinPage(addr, size) ? untouchedOrBeneath(s, addr) : null;
        if (p != null) {
            hostRam.write(p, value, size); // touched here, not yet beneath: the level beneath faults it in
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
