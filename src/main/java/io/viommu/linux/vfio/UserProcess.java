package io.viommu.linux.vfio;

import io.viommu.linux.driver.Errno;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.VirtAddr;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A user-space process of the kernel model: a virtual address space of anonymous mappings whose
 * pages are frames of the machine's RAM ({@link PageFrames}), faulted in on first touch, the
 * capabilities VFIO and UIO look at, and the memlock accounting ({@code mm->locked_vm} against
 * {@code RLIMIT_MEMLOCK}) that type1 charges pinned pages to.
 *
 * <p>This is what {@code VFIO_IOMMU_MAP_DMA} maps: its {@code vaddr} is an address here, and
 * type1 pins the frames behind it ({@code pin_user_pages_remote}) and programs them into the
 * IOMMU; the device's DMA then lands in this process's memory. A frame that is pinned stays
 * allocated after {@link #munmap} until it is unpinned, as a pinned page outlives its mapping.
 */
public final class UserProcess {
    /** The POSIX capabilities the modelled paths check. */
    public enum Cap {
        /** {@code CAP_SYS_RAWIO}: VFIO no-IOMMU groups and devices. */
        SYS_RAWIO,
        /** {@code CAP_IPC_LOCK}: pinning beyond RLIMIT_MEMLOCK. */
        IPC_LOCK,
        /** {@code CAP_SYS_ADMIN}. */
        SYS_ADMIN
    }

    /** Linux's default RLIMIT_MEMLOCK since 5.16: 8 MiB. */
    public static final long DEFAULT_MEMLOCK = 8L << 20;
    /** Where {@link #mmap} starts placing mappings (below the x86-64 user-space top). */
    public static final long MMAP_BASE = 0x7f00_0000_0000L;

    /**
     * One anonymous mapping and the frames behind its pages ({@code frames[i]} for page i, 0
     * while not faulted in; frame 0 is never user memory). One array per mapping rather than a
     * map entry per page: a VMM's whole guest RAM is one mapping, faulted in page by page.
     */
    private static final class Vma {
        final long start;
        final long length;
        final long[] frames;

        Vma(long start, long length) {
            this.start = start;
            this.length = length;
            this.frames = new long[(int) (length / Page.SIZE)];
        }

        long end() {
            return start + length;
        }

        int page(long addr) {
            return (int) ((addr - start) / Page.SIZE);
        }
    }

    private final String comm;
    private final int pid;
    private final PageFrames frames;
    private final Set<Cap> caps;
    private final long memlockLimit;
    private final TreeMap<Long, Vma> vmas = new TreeMap<>();
    /** Pins per frame (frames without pins are not here). */
    private final FrameCounts pins = new FrameCounts();
    /** Frames still pinned after their mapping went (munmap of pinned memory): freed at their last unpin. */
    private final Set<Long> orphans = new HashSet<>();
    private long resident;
    private long nextMmap = MMAP_BASE;
    private long lockedPages;

    public UserProcess(String comm, int pid, PageFrames frames, Set<Cap> caps, long memlockLimit) {
        this.comm = comm;
        this.pid = pid;
        this.frames = frames;
        this.caps = caps.isEmpty() ? EnumSet.noneOf(Cap.class) : EnumSet.copyOf(caps);
        this.memlockLimit = memlockLimit;
    }

    /** A root process: every capability (so RLIMIT_MEMLOCK does not bind, CAP_IPC_LOCK). */
    public static UserProcess root(String comm, PageFrames frames) {
        return new UserProcess(comm, 1000, frames, EnumSet.allOf(Cap.class), DEFAULT_MEMLOCK);
    }

    /** An unprivileged process (the usual VFIO user after the group's /dev node was chowned). */
    public static UserProcess user(String comm, PageFrames frames, long memlockLimit) {
        return new UserProcess(comm, 2000, frames, EnumSet.noneOf(Cap.class), memlockLimit);
    }

    public String comm() {
        return comm;
    }

    public int pid() {
        return pid;
    }

    public boolean capable(Cap c) {
        return caps.contains(c);
    }

    public long memlockLimit() {
        return memlockLimit;
    }

    /** Pages of this process faulted in (its resident anonymous memory, {@code RssAnon} in pages). */
    public long residentPages() {
        return resident;
    }

    /** {@code mm->locked_vm} in pages. */
    public long lockedPages() {
        return lockedPages;
    }

    // ---------------------------------------------------------------- mappings

    /** {@code mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS)}: page aligned. */
    public VirtAddr mmapAnon(long length) {
        long len = roundUp(length);
        long at = nextMmap;
        nextMmap += len + Page.SIZE; // a guard gap keeps mappings apart
        vmas.put(at, new Vma(at, len));
        return new VirtAddr(at);
    }

    /** {@code munmap} of a whole mapping made by {@link #mmap}; frames still pinned stay allocated. */
    public void munmap(VirtAddr va) {
        long addr = va.value();
        Vma v = vmas.remove(addr);
        if (v == null) {
            throw new VfioException(Errno.EINVAL, String.format("no mapping at %#x", addr));
        }
        for (long f : v.frames) {
            if (f == 0) {
                continue;
            }
            resident--;
            if (pins.get(f) > 0) {
                orphans.add(f);
            } else {
                frames.release(new PhysAddr(f));
            }
        }
    }

    private Vma vmaOf(long addr) {
        Map.Entry<Long, Vma> e = vmas.floorEntry(addr);
        return e != null && addr < e.getValue().end() ? e.getValue() : null;
    }

    /** The frame behind {@code vaddr}'s page, faulting it in; null outside every mapping (SIGSEGV / -EFAULT). */
    private Long fault(long vaddr) {
        Vma v = vmaOf(vaddr);
        if (v == null) {
            return null;
        }
        int i = v.page(vaddr);
        long f = v.frames[i];
        if (f == 0) {
            PhysAddr p = frames.allocate();
            if (p == null) {
                return null;
            }
            f = p.value();
            v.frames[i] = f;
            resident++;
        }
        return f;
    }

    /** The frame behind {@code vaddr}'s page now, or 0. */
    private long frameOf(long vaddr) {
        Vma v = vmaOf(vaddr);
        return v == null ? 0 : v.frames[v.page(vaddr)];
    }

    /** Where {@code vaddr} is in physical memory now (without faulting it in), if it is. */
    public PhysAddr physical(VirtAddr va) {
        long vaddr = va.value();
        long f = frameOf(vaddr);
        return f == 0 ? null : new PhysAddr(f + (vaddr & (Page.SIZE - 1)));
    }

    /**
     * {@code /proc/self/pagemap}: the page frame number behind {@code vaddr}, faulting the page
     * in; 0 without CAP_SYS_ADMIN (PFNs are hidden from unprivileged readers since Linux 4.2) or
     * outside the mappings. What a UIO driver in user space needs to program a device with a
     * physical address.
     */
    public long pagemapPfn(VirtAddr vaddr) {
        Long f = fault(vaddr.value());
        if (f == null || !capable(Cap.SYS_ADMIN)) {
            return 0;
        }
        return f / Page.SIZE;
    }

    /** A store by the process; outside its mappings it is a segmentation fault (-EFAULT here). */
    public void write(VirtAddr va, byte[] data) {
        long vaddr = va.value();
        for (int done = 0; done < data.length; ) {
            long a = vaddr + done;
            Long f = fault(a);
            if (f == null) {
                throw new VfioException(Errno.EFAULT, String.format("SIGSEGV: store at %#x", a));
            }
            int n = (int) Math.min(data.length - done, Page.SIZE - (a & (Page.SIZE - 1)));
            frames.ram().writeBytes(PhysAddr.of(f + (a & (Page.SIZE - 1))), data, done, n);
            done += n;
        }
    }

    public byte[] read(VirtAddr va, int len) {
        long vaddr = va.value();
        byte[] out = new byte[len];
        for (int done = 0; done < len; ) {
            long a = vaddr + done;
            Long f = fault(a);
            if (f == null) {
                throw new VfioException(Errno.EFAULT, String.format("SIGSEGV: load at %#x", a));
            }
            int n = (int) Math.min(len - done, Page.SIZE - (a & (Page.SIZE - 1)));
            frames.ram().readBytes(PhysAddr.of(f + (a & (Page.SIZE - 1))), out, done, n);
            done += n;
        }
        return out;
    }

    // ---------------------------------------------------------------- pinning

    /**
     * {@code pin_user_pages_remote(FOLL_WRITE | FOLL_LONGTERM)} of {@code npages} pages from
     * {@code vaddr} (page aligned): faults them in and takes a pin on each frame. All or nothing:
     * -EFAULT (and nothing pinned) when a page lies outside the process's mappings.
     */
    long[] pin(long vaddr, long npages) {
        long[] out = new long[(int) npages];
        for (int i = 0; i < npages; i++) {
            Long f = fault(vaddr + i * Page.SIZE);
            if (f == null) {
                unpin(java.util.Arrays.copyOf(out, i));
                throw new VfioException(Errno.EFAULT, String.format("vaddr %#x is not mapped", vaddr + i * Page.SIZE));
            }
            pins.add(f, 1);
            out[i] = f;
        }
        return out;
    }

    /** {@code unpin_user_pages}. */
    void unpin(long[] pinned) {
        for (long f : pinned) {
            if (pins.add(f, -1) == 0 && orphans.remove(f)) {
                frames.release(new PhysAddr(f));
            }
        }
    }

    /**
     * {@code __account_locked_vm}: charges (or with a negative count, returns) pinned pages;
     * -ENOMEM when the charge would pass RLIMIT_MEMLOCK and the process lacks CAP_IPC_LOCK.
     */
    boolean accountLocked(long npages) {
        if (npages > 0 && !capable(Cap.IPC_LOCK) && (lockedPages + npages) * Page.SIZE > memlockLimit) {
            return false;
        }
        lockedPages = Math.max(0, lockedPages + npages);
        return true;
    }

    /** Pins held on frames of this process (for tests). */
    public Map<PhysAddr, Integer> pinCounts() {
        Map<PhysAddr, Integer> out = new TreeMap<>();
        pins.forEach((f, n) -> out.put(new PhysAddr(f), n));
        return Collections.unmodifiableMap(out);
    }

    private static long roundUp(long length) {
        if (length <= 0) {
            throw new VfioException(Errno.EINVAL, "mmap of length " + length);
        }
        return (length + Page.SIZE - 1) & -Page.SIZE;
    }

    @Override
    public String toString() {
        return comm + ":" + pid;
    }
}
