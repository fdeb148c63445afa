package io.viommu.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.vfio.DmaMapping;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.Vfio;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.linux.vfio.VfioDevice;
import io.viommu.linux.vfio.VfioGroup;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaPort;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.notify.GuestTables;
import io.viommu.vtd.notify.IovaRange;
import io.viommu.vtd.notify.Mapping;
import io.viommu.vtd.notify.MappingView;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * A host and a VM without the VM builder: the host is a model machine (-m 512M, intel-iommu with
 * interrupt remapping, edu at 00:01.0) booted by the kernel model, edu bound to vfio-pci as the
 * linux/vfio tests do, a VMM process ("qemu-system-x86", root) holding the container, the group
 * and the device fd, and the VM's RAM mmap'ed in it. The vIOMMU is a second VT-d unit
 * ({@code -device intel-iommu,caching-mode=on}) whose table memory is that process memory seen as
 * the VM's physical address space; the guest's driver writes its tables and invalidates through
 * {@link GuestTables}. The assigned device is guest 00:01.0 ({@link GuestTables#DEV}).
 */
final class ShadowBed {
    static final String EDU = "0000:00:01.0";
    static final RequesterId GUEST_RID = GuestTables.DEV;
    static final long PAGE = 4096;
    static final long GUEST_RAM = 32L << 20;

    final Machine host;
    final Kernel kernel;
    final UserProcess vmm;
    final VfioContainer container;
    final VfioDevice device;
    final EduDevice edu;
    final RequesterId hostRid;
    final ProcessGuestRam ram;
    final GuestTables guest;
    final VfioListener listener;
    final List<String> errors = new ArrayList<>();

    /** The guest's top-level table for the device (after {@link #translated()}). */
    long top;

    private ShadowBed(long memlock, String... viommuProps) throws Exception {
        this(memlock, null, viommuProps);
    }

    /** @param layout (process, frames) -> the VM's RAM; null for {@link #GUEST_RAM} laid out as q35 */
    ShadowBed(long memlock, java.util.function.BiFunction<UserProcess, io.viommu.linux.vfio.PageFrames, ProcessGuestRam> layout,
              String... viommuProps) throws Exception {
        host = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-m", "512M", "-device", "intel-iommu,intremap=on",
                "-device", "edu"), MachineLog.SILENT);
        kernel = Kernel.boot(host);
        DriverCore core = kernel.drivers();
        if (core.loadModule("vfio-pci") != 0) {
            throw new IllegalStateException("modprobe vfio-pci");
        }
        PciDevice d = core.device(EDU).orElseThrow();
        core.setDriverOverride(d, "vfio-pci");
        if (d.driver() != null) {
            core.deviceReleaseDriver(d);
        }
        if (core.deviceDriverAttach(core.driver("vfio-pci").orElseThrow(), d) != 0) {
            throw new IllegalStateException("bind edu to vfio-pci");
        }
        hostRid = d.rid();
        vmm = memlock == 0 ? UserProcess.root("qemu-system-x86", kernel.userMemory())
                : UserProcess.user("qemu-system-x86", kernel.userMemory(), memlock);
        Vfio vfio = kernel.vfio().orElseThrow();
        VfioGroup g = vfio.openGroup(vmm, "/dev/vfio/" + core.groupOf(d).getAsInt());
        container = vfio.openContainer(vmm);
        g.setContainer(container);
        container.setIommu(Vfio.TYPE1v2_IOMMU);
        device = g.deviceFd(EDU);
        long cfg = (long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT;
        device.write(cfg + PciRegs.COMMAND, device.read(cfg + PciRegs.COMMAND, 2) | PciRegs.COMMAND_MASTER, 2);
        edu = (EduDevice) host.rootBus().route(hostRid.bus(), hostRid.devfn());
        ram = layout == null ? ProcessGuestRam.allocate(vmm, kernel.userMemory(), GUEST_RAM)
                : layout.apply(vmm, kernel.userMemory());
        String[] props = viommuProps.length == 0 ? new String[] {"caching-mode=on"} : viommuProps;
        guest = new GuestTables(ram, props);
        listener = new VfioListener(container, ram, new VfioListener.ErrorSink() {
            @Override
            public void report(String message) {
                errors.add(message);
            }

            @Override
            public void hardwareError(String message) {
                errors.add("qemu: hardware error: " + message);
            }
        });
    }

    /** The bed with the listener attached to the vIOMMU for the assigned device (DMAR still off). */
    static ShadowBed attached(String... viommuProps) throws Exception {
        ShadowBed b = new ShadowBed(0, viommuProps);
        b.listener.attach(b.guest.iommu, b.guest.notifier, GUEST_RID);
        return b;
    }

    static ShadowBed detached(String... viommuProps) throws Exception {
        return new ShadowBed(0, viommuProps);
    }

    /** A VMM process without CAP_IPC_LOCK whose RLIMIT_MEMLOCK is {@code memlock} bytes. */
    static ShadowBed unprivileged(long memlock) throws Exception {
        return new ShadowBed(memlock);
    }

    /** Guest context for the device in domain 1, tables at the bed's allocator, DMAR on. */
    ShadowBed translated() {
        top = guest.context(GUEST_RID, 1);
        guest.enable();
        return this;
    }

    // ---- the host device, driven through the VFIO device fd (BAR0) as the VMM forwards guest MMIO

    private void bar0(int off, long v) {
        device.write(((long) VfioDevice.BAR0_REGION << VfioDevice.OFFSET_SHIFT) + off, v, 8);
    }

    /** The host edu writes {@code data} to DMA address {@code iova} (a guest IOVA). */
    DmaPort.Outcome deviceWrites(long iova, byte[] data) {
        System.arraycopy(data, 0, edu.state().buffer, 0, data.length);
        bar0(EduDevice.REG_DMA_SRC, EduDevice.DMA_BUFFER_BASE);
        bar0(EduDevice.REG_DMA_DST, iova);
        bar0(EduDevice.REG_DMA_COUNT, data.length);
        bar0(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START | EduDevice.DMA_CMD_TO_RAM);
        return edu.lastDma();
    }

    /** The host edu reads {@code len} bytes from DMA address {@code iova} into its buffer. */
    byte[] deviceReads(long iova, int len) {
        bar0(EduDevice.REG_DMA_SRC, iova);
        bar0(EduDevice.REG_DMA_DST, EduDevice.DMA_BUFFER_BASE);
        bar0(EduDevice.REG_DMA_COUNT, len);
        bar0(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START);
        return edu.lastDma().ok() ? java.util.Arrays.copyOf(edu.state().buffer, len) : null;
    }

    byte[] guestRead(long gpa, int len) {
        byte[] b = new byte[len];
        ram.readBytes(gpa, b, 0, len);
        return b;
    }

    void guestWrite(long gpa, byte[] data) {
        ram.writeBytes(gpa, data, 0, data.length);
    }

    // ---- what the host has vs what the guest says

    /** The container's mappings, page by page: IOVA -> {vaddr, readable, writable}. */
    TreeMap<Long, long[]> hostPages() {
        TreeMap<Long, long[]> out = new TreeMap<>(Long::compareUnsigned);
        for (DmaMapping m : container.mappings()) {
            for (long o = 0; o < m.size(); o += PAGE) {
                out.put(m.iova() + o, new long[] {m.vaddr() + o, m.readable() ? 1 : 0, m.writable() ? 1 : 0});
            }
        }
        return out;
    }

    /**
     * What the host must hold for the guest's translations over {@code window}: each guest page
     * whose target is RAM, at the process address of its GPA, readable, writable when the guest
     * PTE allows writes (QEMU maps read-only only when W is clear).
     */
    TreeMap<Long, long[]> expectedPages(IovaRange window) {
        MappingView truth = guest.truth(GUEST_RID, window);
        TreeMap<Long, long[]> out = new TreeMap<>(Long::compareUnsigned);
        for (Mapping m : truth.mappings(window)) {
            for (long o = 0; o < m.size(); o += PAGE) {
                var va = ram.vaddrOf(new PhysAddr(m.physAt(m.range().first() + o)));
                if (va != null) {
                    out.put(m.range().first() + o, new long[] {va.value(), 1, m.permission().writable() ? 1 : 0});
                }
            }
        }
        return out;
    }

    /**
     * The invariant at an invalidation boundary: the container holds exactly the guest's
     * translations of {@code window} (nothing outside it), and the host unit translates each
     * mapped IOVA to the host frame behind the guest page (so no DMA can leave the VM's RAM).
     */
    void assertMirrors(IovaRange window) {
        TreeMap<Long, long[]> have = hostPages();
        TreeMap<Long, long[]> want = expectedPages(window);
        assertThat(have.keySet()).as("host IOVAs").containsExactlyElementsOf(want.keySet());
        for (var e : want.entrySet()) {
            assertThat(have.get(e.getKey())).as("host mapping of iova 0x%x", e.getKey()).containsExactly(e.getValue());
            PhysAddr frame = container.iovaToPhys(new io.viommu.memory.Iova(e.getKey()));
            assertThat(frame).as("host unit, iova 0x%x", e.getKey()).isEqualTo(vmm.physical(new io.viommu.memory.VirtAddr(e.getValue()[0])));
        }
    }
}
