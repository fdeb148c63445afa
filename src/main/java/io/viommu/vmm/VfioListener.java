package io.viommu.vmm;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.linux.vfio.VfioException;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.VirtAddr;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.ContextEntry;
import io.viommu.vtd.ContextResult;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.InvalidationListener;
import io.viommu.vtd.TranslationState;
import io.viommu.vtd.notify.IommuEvent;
import io.viommu.vtd.notify.InvalidationCause;
import io.viommu.vtd.notify.IovaRange;
import io.viommu.vtd.notify.MapNotifier;
import io.viommu.vtd.notify.Mapping;
import io.viommu.vtd.notify.MappingListener;
import io.viommu.vtd.notify.NotifierFlag;
import io.viommu.vtd.notify.NotifierRefusedException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Where an assigned device's guest mappings become host mappings: QEMU 7.2's VFIO memory
 * listener (hw/vfio/common.c: vfio_listener_region_add/del, vfio_iommu_map_notify,
 * vfio_dma_map/unmap) for one container and the VM's RAM.
 *
 * <ul>
 * <li>The device's address space is system memory (no vIOMMU, DMAR off, or a pass-through
 *     context): every RAM section is MAP_DMA'd with iova = guest-physical, vaddr = the VMM
 *     process's address of it, READ|WRITE ({@link #mapGuestRam()}).</li>
 * <li>It is the vIOMMU (DMAR on, a translated context): the listener registers on the vIOMMU's
 *     map notifier (MAP|UNMAP, QEMU's IOMMU_NOTIFIER_IOTLB_EVENTS), which replays the guest's
 *     existing mappings, and mirrors every MAP, UNMAP and REPLACE into MAP_DMA/UNMAP_DMA
 *     (guest IOVA -> guest-physical -> process address; read-only when the guest gave no
 *     write).</li>
 * <li>The guest switching between the two (TE, SRTP, context invalidations:
 *     vtd_switch_address_space) re-attaches: QEMU's region_del of the old view (every host
 *     mapping unmapped) then region_add of the new.</li>
 * </ul>
 * Errors as QEMU: while the container is being set up a RAM mapping failure is an
 * {@link InitFailure} ({@code memory listener initialization failed: Region pc.ram: ...});
 * afterwards it is {@code vfio: DMA mapping failed, unable to continue} (hw_error,
 * {@link #hardwareError()}); a failing map from the notifier is only reported and the guest
 * keeps running.
 *
 * <p>VFIO type1 cannot unmap part of a mapping, and the notifier announces contiguous runs: an
 * UNMAP or REPLACE covering part of an earlier run unmaps that host mapping whole and maps back
 * the parts that stay (QEMU never meets this, its events are one page-table entry each).
 */
public final class VfioListener {
    /** Where the listener's QEMU messages go (the VMM's stderr). */
    @FunctionalInterface
    public interface ErrorSink {
        /**
         * error_report(message): the text only; the VMM prints it as error_report does (with
         * its {@code qemu-system-x86_64: } prefix and location).
         */
        void report(String message);

        /**
         * hw_error(message): QEMU prints {@code qemu: hardware error: } + message (no program
         * prefix), dumps the vCPUs and aborts. The listener stops nothing itself; the default
         * does nothing ({@link VfioListener#hardwareError()} keeps the message).
         */
        default void hardwareError(String message) {
        }
    }

    /** What the device's address space currently is in this listener's view. */
    public enum Mode { DETACHED, SYSTEM_MEMORY, IOMMU }

    /**
     * What the listener did: guest invalidations it saw trapped on the vIOMMU, VFIO MAP_DMA
     * and UNMAP_DMA calls made (successful or not), 4 KiB pages mapped and unmapped by them,
     * errors reported.
     */
    public record Counters(long invalidationsTrapped, long mapCalls, long unmapCalls, long pagesMapped,
                           long pagesUnmapped, long errors, long walksAborted) {
    }

    /**
     * One section of the flat view QEMU's listener meets (for its trace): RAM (mapped, with the
     * process address {@code hva}), an IOMMU region, or anything else (MMIO: skipped).
     */
    public record ViewSection(long first, long last, Kind kind, long hva) {
        public enum Kind { RAM, IOMMU, SKIP }
    }

    /**
     * QEMU's trace of the listener ({@code vfio_listener_region_add_ram/_add_iommu/_add_skip},
     * {@code vfio_listener_region_del/_del_skip}): where the events go, and system memory's flat
     * view as QEMU has it now (RAM pieces, the board's MMIO, the BIOS), in ascending order.
     */
    public interface SectionTrace {
        void event(String name, String args);

        List<ViewSection> systemView();
    }

    /** The container could not be set up: QEMU's container->error, composed. */
    public static final class InitFailure extends Exception {
        InitFailure(String message) {
            super(message);
        }
    }

    /** QEMU's {@code %p} of the container in its messages (a heap address; the model's is fixed). */
    public static final long CONTAINER_POINTER = 0x5581_2c3d_4e50L;

    private record HostMap(long iova, long size, long vaddr, boolean readOnly) {
        long last() {
            return iova + size - 1;
        }
    }

    private final VfioContainer container;
    private final GuestRam ram;
    private final ErrorSink errors;
    private final TreeMap<Long, HostMap> host = new TreeMap<>(Long::compareUnsigned);
    private IntelIommu viommu;
    private MapNotifier notifier;
    private java.util.function.Supplier<RequesterId> deviceId;
    private MapNotifier.Registration registration;
    private final Trap trap = new Trap();
    private Mode mode = Mode.DETACHED;
    private SectionTrace sectionTrace;
    private boolean initialized;
    private String hardwareError;
    private long invalidations;
    private long mapCalls;
    private long unmapCalls;
    private long pagesMapped;
    private long pagesUnmapped;
    private long errorCount;
    private long walksAborted;

    public VfioListener(VfioContainer container, GuestRam ram, ErrorSink errors) {
        this.container = container;
        this.ram = ram;
        this.errors = errors;
    }

    /** Prints QEMU's listener trace events from now on (before {@link #mapGuestRam} or {@link #attach}). */
    public void setSectionTrace(SectionTrace t) {
        this.sectionTrace = t;
    }

    // ====================================================================================
    // Attaching
    // ====================================================================================

    /**
     * No vIOMMU: the device's address space is system memory. Maps every RAM section at its
     * guest-physical address (vfio_listener_region_add at vfio_connect_container). On failure
     * nothing stays mapped and the exception carries QEMU's text.
     */
    public void mapGuestRam() throws InitFailure {
        requireDetached();
        String failure = mapAllRam();
        if (failure != null) {
            unmapAll();
            throw new InitFailure("memory listener initialization failed: " + failure);
        }
        mode = Mode.SYSTEM_MEMORY;
        initialized = true;
    }

    /**
     * With a vIOMMU: the device (guest requester id {@code device}) sits behind
     * {@code viommu}, whose notifier is {@code notifier}. Attaches to what the unit currently
     * gives the device (system memory while DMAR is off or the context is pass-through, the
     * notifier otherwise) and follows the guest's switches from then on.
     */
    public void attach(IntelIommu viommu, MapNotifier notifier, RequesterId device) throws InitFailure {
        attach(viommu, notifier, () -> device);
    }

    /** As {@link #attach(IntelIommu, MapNotifier, RequesterId)} for a device whose requester id is read when used. */
    public void attach(IntelIommu viommu, MapNotifier notifier, java.util.function.Supplier<RequesterId> device)
            throws InitFailure {
        requireDetached();
        this.viommu = viommu;
        this.notifier = notifier;
        this.deviceId = device;
        viommu.addInvalidationListener(trap);
        String failure = enter(wanted());
        if (failure != null) {
            detach();
            throw new InitFailure("memory listener initialization failed: " + failure);
        }
        initialized = true;
    }

    /** Stops listening and unmaps everything this listener mapped (vfio_listener_release, container close). */
    public void detach() {
        if (viommu != null) {
            viommu.removeInvalidationListener(trap);
        }
        if (registration != null) {
            registration.unregister();
            registration = null;
        }
        unmapAll();
        mode = Mode.DETACHED;
        viommu = null;
        notifier = null;
    }

    private void requireDetached() {
        if (mode != Mode.DETACHED || viommu != null) {
            throw new IllegalStateException("listener already attached");
        }
    }

    public Mode mode() {
        return mode;
    }

    public Counters counters() {
        return new Counters(invalidations, mapCalls, unmapCalls, pagesMapped, pagesUnmapped, errorCount, walksAborted);
    }

    /** Set once a mapping failed after initialisation: QEMU's hw_error, after which it aborts. */
    public Optional<String> hardwareError() {
        return Optional.ofNullable(hardwareError);
    }

    /** The notifier registration while the device is translated by the vIOMMU. */
    public Optional<MapNotifier.Registration> registration() {
        return Optional.ofNullable(registration);
    }

    /** Guest IOVA ranges this listener has mapped in the container, in IOVA order. */
    public List<IovaRange> hostRanges() {
        List<IovaRange> out = new ArrayList<>();
        for (HostMap m : host.values()) {
            out.add(new IovaRange(m.iova, m.last()));
        }
        return out;
    }

    // ====================================================================================
    // The device's address space: system memory or the vIOMMU (vtd_switch_address_space)
    // ====================================================================================

    /** vtd_switch_address_space: use_iommu = DMAR enabled and the context not pass-through. */
    private Mode wanted() {
        if (viommu.translationState() != TranslationState.ENABLED) {
            return Mode.SYSTEM_MEMORY;
        }
        // vtd_dev_pt_enabled: a context that does not resolve is not pass-through (DMA faults).
        return viommu.readContext(device()) instanceof ContextResult.Legacy l && l.passThrough()
                ? Mode.SYSTEM_MEMORY : Mode.IOMMU;
    }

    /** region_add of the new view; returns QEMU's "Region NAME: ..." text on failure, else null. */
    private String enter(Mode next) {
        mode = next;
        if (next == Mode.SYSTEM_MEMORY) {
            return mapAllRam();
        }
        try {
            // vfio_listener_region_add for an IOMMU section: register (IOMMU_NOTIFIER_IOTLB_EVENTS)
            // and replay; MapNotifier.register replays at once.
            registration = notifier.register(deviceId, IovaRange.ALL, EnumSet.of(NotifierFlag.MAP, NotifierFlag.UNMAP),
                    new Mirror(), this::traceIommuSectionAdded);
            return null;
        } catch (NotifierRefusedException e) {
            return "Region " + iommuRegionName() + ": " + e.qemuErrorText();
        }
    }

    /** The IOMMU memory region's name (vtd_find_add_as: "vtd-%02x.%x" of slot and function). */
    private String iommuRegionName() {
        return String.format("vtd-%02x.%x", device().devfn() >> 3, device().devfn() & 7);
    }

    /** region_del of the current view: the notifier goes, every host mapping is unmapped. */
    private void leave() {
        if (sectionTrace != null) {
            for (ViewSection v : mode == Mode.IOMMU ? iommuView() : mode == Mode.SYSTEM_MEMORY
                    ? sectionTrace.systemView() : List.<ViewSection>of()) {
                traceDel(v);
            }
        }
        if (registration != null) {
            registration.unregister();
            registration = null;
        }
        unmapAll();
    }

    /** Called at every point where QEMU re-evaluates the device's address space. */
    private void reevaluate() {
        if (mode == Mode.DETACHED) {
            return;
        }
        Mode next = wanted();
        if (next == mode) {
            return;
        }
        leave();
        String failure = enter(next);
        if (failure != null) {
            runtimeFailure(failure);
        }
    }

    private void runtimeFailure(String text) {
        if (!initialized) {
            return; // attach() turns it into an InitFailure
        }
        report(text.substring(text.indexOf(": ") + 2)); // error_report_err prints the error without "Region %s: "
        hardwareError = "vfio: DMA mapping failed, unable to continue";
        errorCount++;
        errors.hardwareError(hardwareError);
    }

    // ====================================================================================
    // QEMU's trace of the listener
    // ====================================================================================

    /**
     * The vIOMMU's view (QEMU's vtd address space with DMAR on): the IOMMU region on both sides
     * of the interrupt window, which is MMIO (vtd_find_add_as: the IR region above the IOMMU one).
     */
    private static List<ViewSection> iommuView() {
        return List.of(new ViewSection(0, io.viommu.pci.MsiAddress.FIRST - 1, ViewSection.Kind.IOMMU, 0),
                new ViewSection(io.viommu.pci.MsiAddress.FIRST, io.viommu.pci.MsiAddress.LAST, ViewSection.Kind.SKIP, 0),
                new ViewSection(io.viommu.pci.MsiAddress.LAST + 1, -1L, ViewSection.Kind.IOMMU, 0));
    }

    /**
     * The notifier replays QEMU's notifier of one IOMMU section: vfio_listener_region_add of
     * that section comes first, and before the one above the interrupt window, the window's skip.
     */
    private void traceIommuSectionAdded(IovaRange section) {
        if (sectionTrace == null) {
            return;
        }
        for (ViewSection v : iommuView()) {
            if (v.kind() == ViewSection.Kind.SKIP && Long.compareUnsigned(section.first(), v.last()) > 0) {
                traceAdd(v);
            } else if (v.kind() == ViewSection.Kind.IOMMU && v.first() == section.first()) {
                traceAdd(v);
            }
        }
    }

    private void traceAdd(ViewSection v) {
        switch (v.kind()) {
            case RAM -> sectionTrace.event("vfio_listener_region_add_ram", String.format("region_add [ram] 0x%x - 0x%x [0x%x]",
                    v.first(), v.last(), v.hva()));
            case IOMMU -> sectionTrace.event("vfio_listener_region_add_iommu", String.format("region_add [iommu] 0x%x - 0x%x",
                    v.first(), v.last()));
            default -> sectionTrace.event("vfio_listener_region_add_skip", String.format("SKIPPING region_add 0x%x - 0x%x",
                    v.first(), v.last()));
        }
    }

    private void traceDel(ViewSection v) {
        if (v.kind() == ViewSection.Kind.SKIP) {
            sectionTrace.event("vfio_listener_region_del_skip", String.format("SKIPPING region_del 0x%x - 0x%x",
                    v.first(), v.last()));
        } else {
            sectionTrace.event("vfio_listener_region_del", String.format("region_del 0x%x - 0x%x", v.first(), v.last()));
        }
    }

    /**
     * System memory's flat view changed from {@code before} to what {@link SectionTrace#systemView}
     * gives now (e.g. the reset's PAM registers putting ROM over 0xC0000-0xFFFFF): QEMU's
     * listener hears region_del of each section that went, then region_add of each that came,
     * while the device's address space is system memory. The model's host mappings stay.
     */
    public void systemViewChanged(List<ViewSection> before) {
        if (sectionTrace == null || mode != Mode.SYSTEM_MEMORY) {
            return;
        }
        List<ViewSection> after = sectionTrace.systemView();
        for (ViewSection v : before) {
            if (!after.contains(v)) {
                traceDel(v);
            }
        }
        for (ViewSection v : after) {
            if (!before.contains(v)) {
                traceAdd(v);
            }
        }
    }

    // ====================================================================================
    // System memory
    // ====================================================================================

    /** vfio_listener_region_add for each RAM section; the first failure's text, or null. */
    private String mapAllRam() {
        if (sectionTrace != null) {
            for (ViewSection v : sectionTrace.systemView()) {
                traceAdd(v);
            }
        }
        String first = null;
        for (GuestRam.Section s : ram.sections()) {
            long iova = s.gpa().value();
            int ret = dmaMap(iova, s.size(), s.vaddr().value(), false);
            if (ret != 0) {
                String text = "Region " + s.name() + ": " + mapText(iova, s.size(), s.vaddr().value(), ret);
                if (initialized) {
                    runtimeFailure(text);
                } else if (first == null) {
                    first = text;
                }
            }
        }
        return initialized ? null : first;
    }

    // ====================================================================================
    // The notifier's events (vfio_iommu_map_notify)
    // ====================================================================================

    private final class Mirror implements MappingListener {
        @Override
        public void onEvent(IommuEvent event) {
            try {
                switch (event) {
                    case IommuEvent.Map m -> map(m.mapping());
                    case IommuEvent.Unmap u -> unmap(u.range());
                    case IommuEvent.Replace r -> {
                        unmap(r.range());
                        map(r.mapping());
                    }
                }
            } catch (RuntimeException e) {
                // never let the notifier mark this registration failed: QEMU reports and goes on
                report("vfio: " + e.getMessage());
            }
        }

        @Override
        public void walkAborted(InvalidationCause cause, String reason) {
            walksAborted++;
        }
    }

    /** A guest run IOVA -> GPA: each piece that is RAM maps to its process address. */
    private void map(Mapping m) {
        long iova = m.range().first();
        long gpa = m.phys().value();
        long size = m.size();
        boolean readOnly = !m.permission().writable(); // vfio_get_xlat_addr: !(perm & IOMMU_WO)
        long done = 0;
        while (done < size) {
            long at = gpa + done;
            GuestRam.Section s = sectionAt(at);
            if (s == null) {
                // vfio_get_xlat_addr: the target is not RAM (QEMU: one message per entry)
                report(String.format("iommu map to non memory area %x", at));
                done += Math.min(size - done, nonRamLength(at, size - done));
                continue;
            }
            long piece = Math.min(size - done, s.gpa().value() + s.size() - at);
            long vaddr = s.vaddrOf(new PhysAddr(at)).value();
            int ret = dmaMap(iova + done, piece, vaddr, readOnly);
            if (ret != 0) {
                report(mapText(iova + done, piece, vaddr, ret));
            }
            done += piece;
        }
    }

    /** The guest range is gone: every host mapping meeting it goes, the parts outside are mapped back. */
    private void unmap(IovaRange r) {
        List<HostMap> hit = overlapping(r.first(), r.last());
        if (hit.isEmpty()) {
            return;
        }
        for (HostMap h : hit) {
            int ret = dmaUnmap(h.iova, h.size);
            if (ret != 0) {
                report(String.format("vfio_dma_unmap(%s, 0x%x, 0x%x) = %d (%s)",
                        pointer(CONTAINER_POINTER), h.iova, h.size, ret, strerror(ret)));
                continue;
            }
            if (Long.compareUnsigned(h.iova, r.first()) < 0) {
                long keep = r.first() - h.iova;
                remap(h.iova, keep, h.vaddr, h.readOnly);
            }
            if (Long.compareUnsigned(h.last(), r.last()) > 0) {
                long off = r.last() + 1 - h.iova;
                remap(r.last() + 1, h.size - off, h.vaddr + off, h.readOnly);
            }
        }
    }

    private void remap(long iova, long size, long vaddr, boolean readOnly) {
        int ret = dmaMap(iova, size, vaddr, readOnly);
        if (ret != 0) {
            report(mapText(iova, size, vaddr, ret));
        }
    }

    private List<HostMap> overlapping(long first, long last) {
        List<HostMap> out = new ArrayList<>();
        Map.Entry<Long, HostMap> below = host.floorEntry(first);
        Long from = below != null && Long.compareUnsigned(below.getValue().last(), first) >= 0 ? below.getKey() : first;
        for (HostMap h : host.tailMap(from, true).values()) {
            if (Long.compareUnsigned(h.iova, last) > 0) {
                break;
            }
            out.add(h);
        }
        return out;
    }

    private GuestRam.Section sectionAt(long gpa) {
        for (GuestRam.Section s : ram.sections()) {
            if (s.contains(new PhysAddr(gpa))) {
                return s;
            }
        }
        return null;
    }

    /** Bytes from {@code gpa} (at most {@code max}) before the next RAM section starts. */
    private long nonRamLength(long gpa, long max) {
        long best = max;
        for (GuestRam.Section s : ram.sections()) {
            long start = s.gpa().value();
            if (Long.compareUnsigned(start, gpa) > 0 && Long.compareUnsigned(start - gpa, best) < 0) {
                best = start - gpa;
            }
        }
        return best;
    }

    // ====================================================================================
    // VFIO ioctls, as QEMU's vfio_dma_map / vfio_dma_unmap call them
    // ====================================================================================

    /**
     * vfio_dma_map: MAP_DMA READ (|WRITE unless read-only); EBUSY -> unmap and retry once.
     * Returns 0 or -errno after QEMU's {@code VFIO_MAP_DMA failed: %s} line.
     */
    private int dmaMap(long iova, long size, long vaddr, boolean readOnly) {
        int flags = VfioContainer.MAP_READ | (readOnly ? 0 : VfioContainer.MAP_WRITE);
        Errno err = mapOnce(iova, size, vaddr, flags);
        if (err == Errno.EBUSY && dmaUnmap(iova, size) == 0) {
            err = mapOnce(iova, size, vaddr, flags);
        }
        if (err == null) {
            host.put(iova, new HostMap(iova, size, vaddr, readOnly));
            pagesMapped += size / Page.SIZE;
            return 0;
        }
        report("VFIO_MAP_DMA failed: " + err.strerror);
        return err.negative();
    }

    private Errno mapOnce(long iova, long size, long vaddr, int flags) {
        mapCalls++;
        try {
            container.mapDma(new VirtAddr(vaddr), new Iova(iova), size, flags);
            return null;
        } catch (VfioException e) {
            return e.errno();
        }
    }

    /** vfio_dma_unmap: 0 or -errno after QEMU's {@code VFIO_UNMAP_DMA failed: %s} line. */
    private int dmaUnmap(long iova, long size) {
        unmapCalls++;
        try {
            long n = container.unmapDma(new Iova(iova), size);
            for (HostMap h : overlapping(iova, iova + size - 1)) {
                host.remove(h.iova);
            }
            pagesUnmapped += n / Page.SIZE;
            return 0;
        } catch (VfioException e) {
            report("VFIO_UNMAP_DMA failed: " + e.errno().strerror);
            return e.errno().negative();
        }
    }

    private void unmapAll() {
        for (HostMap h : List.copyOf(host.values())) {
            dmaUnmap(h.iova, h.size);
        }
    }

    private static String mapText(long iova, long size, long vaddr, int ret) {
        return String.format("vfio_dma_map(%s, 0x%x, 0x%x, %s) = %d (%s)", pointer(CONTAINER_POINTER), iova, size,
                pointer(vaddr), ret, strerror(ret));
    }

    private static String strerror(int ret) {
        Errno e = Errno.fromReturn(ret);
        return e == null ? "Unknown error " + -ret : e.strerror;
    }

    /** glibc's {@code %p}: 0x-prefixed lower-case hex, "(nil)" for NULL. */
    private static String pointer(long p) {
        return p == 0 ? "(nil)" : "0x" + Long.toHexString(p);
    }

    private void report(String line) {
        errorCount++;
        errors.report(line);
    }

    // ====================================================================================
    // The vIOMMU's invalidations, as the VMM traps them
    // ====================================================================================

    /**
     * Counts the guest's trapped invalidations and re-evaluates the device's address space
     * where QEMU calls vtd_switch_address_space: TE and SRTP (caches reset), global and
     * device-selective context invalidation. Mapping changes arrive through the notifier.
     */
    private final class Trap implements InvalidationListener {
        @Override
        public void cachesReset() {
            invalidations++;
            reevaluate();
        }

        @Override
        public void contextCacheGlobal() {
            invalidations++;
            reevaluate();
        }

        @Override
        public void contextCacheDevice(RequesterId sid, int fm) {
            invalidations++;
            if (ContextEntry.coveredByFunctionMask(device().value(), sid.value(), fm)) {
                reevaluate();
            }
        }

        @Override
        public void iotlbGlobal() {
            invalidations++;
        }

        @Override
        public void iotlbDomain(int domainId) {
            invalidations++;
        }

        @Override
        public void iotlbPages(int domainId, Iova addr, int am) {
            invalidations++;
        }

        @Override
        public void deviceTlb(RequesterId sid, Iova addr, long size) {
            invalidations++;
        }
    }

    @Override
    public String toString() {
        return "VfioListener[" + mode + (deviceId == null ? "" : " " + device()) + ", " + host.size() + " host mappings]";
    }

    /** The device's requester id now (its bus number is its port's secondary bus number). */
    private RequesterId device() {
        return deviceId.get();
    }
}
