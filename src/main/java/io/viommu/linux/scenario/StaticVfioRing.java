package io.viommu.linux.scenario;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.iommu.IntelIommuDriver;
import io.viommu.linux.scenario.NicRingRun.Mapping;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.Vfio;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.linux.vfio.VfioDevice;
import io.viommu.linux.vfio.VfioGroup;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.VirtAddr;
import io.viommu.pci.PciRegs;
import java.util.Arrays;

/**
 * {@link Mapping#STATIC_VFIO}: the same NIC traffic driven by a DPDK-style user-space driver in
 * the guest. At setup the process binds edu to vfio-pci, opens its group and a type1v2
 * container, and maps its whole buffer area ONCE with VFIO_IOMMU_MAP_DMA (the guest kernel's
 * intel-iommu driver writes the unmanaged domain's tables; with caching mode it invalidates,
 * and QEMU's shadow maps the area into the host IOMMU). Per packet the device DMAs into the
 * slot's fixed IOVA and the process reads its own memory: no map, no unmap, no invalidation,
 * no VM exit for the IOMMU, no host update.
 */
final class StaticVfioRing {
    /** Where the process puts its buffer area in the device's IOVA space (below edu's 28-bit mask). */
    static final long AREA_IOVA = 0x0010_0000L;
    private static final long BAR0 = (long) VfioDevice.BAR0_REGION << VfioDevice.OFFSET_SHIFT;
    private static final long CONFIG = (long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT;

    private StaticVfioRing() {
    }

    static NicRingRun run(boolean cachingMode, int packets, int ringSize) {
        NicRingScenario.checkSizes(packets, ringSize);
        NicRingScenario.Guest g = NicRingScenario.Guest.boot(cachingMode, "intel_iommu=on");
        IntelIommuDriver driver = g.kernel.iommuDriver();
        if (driver == null) {
            throw new IllegalStateException("the guest's intel-iommu driver did not start");
        }
        g.assignBar();
        CostMeter meter = g.meter(driver);
        return ring(g.kernel, new NicRingScenario.Nic(g.edu, g.edu.address(), NicRingScenario.EDU_BAR), meter,
                cachingMode, g.shadowed, packets, ringSize);
    }

    /**
     * On a booted guest whose intel-iommu driver runs (VFIO in the guest needs it): the device is
     * bound to the guest's vfio-pci and driven by a process of the guest. The meter counts the
     * guest's side only.
     *
     * <p>On a guest without an IOMMU, only VFIO's no-IOMMU mode lets the process have the device
     * (vfio loaded with {@code enable_unsafe_noiommu_mode=1}, as DPDK's EAL then runs with
     * {@code --iova-mode=pa}): it opens {@code /dev/vfio/noiommu-N}, sets the container's type to
     * {@code VFIO_NOIOMMU_IOMMU}, which maps nothing, and gives the device each buffer's physical
     * address from {@code /proc/self/pagemap}. Nothing in the guest checks those addresses.
     */
    static NicRingRun on(Kernel kernel, NicRingScenario.Nic nic, boolean cachingMode, int packets, int ringSize) {
        NicRingScenario.checkSizes(packets, ringSize);
        IntelIommuDriver driver = kernel.iommuDriver();
        if (driver == null) {
            if (!kernel.drivers().moduleFlag("vfio", "enable_unsafe_noiommu_mode")) {
                throw new IllegalStateException("VFIO in the guest needs the guest's intel-iommu driver, which did not"
                        + " start (no -device intel-iommu, or intel_iommu=off), or VFIO's unsafe no-IOMMU mode"
                        + " (modprobe vfio enable_unsafe_noiommu_mode=1 before vfio-pci)");
            }
            return ring(kernel, nic, new CostMeter(null), cachingMode, false, packets, ringSize);
        }
        CostMeter meter = new CostMeter(driver);
        kernel.machine().iommu().addInvalidationListener(meter);
        try {
            return ring(kernel, nic, meter, cachingMode, false, packets, ringSize);
        } finally {
            kernel.machine().iommu().removeInvalidationListener(meter);
        }
    }

    private static NicRingRun ring(Kernel kernel, NicRingScenario.Nic nic, CostMeter meter, boolean cachingMode,
                                   boolean shadowed, int packets, int ringSize) {
        IntelIommuDriver driver = kernel.iommuDriver();
        boolean noiommu = driver == null; // VFIO's no-IOMMU mode (on() checked it is on)
        NicRingCost start = meter.snapshot();

        // setup, as dpdk-devbind and the EAL do it
        DriverCore core = kernel.drivers();
        String bdf = "0000:" + nic.guestRid();
        PciDevice dev = core.device(bdf).orElseThrow();
        check(core.loadModule("vfio-pci"), "modprobe vfio-pci");
        core.setDriverOverride(dev, "vfio-pci");
        if (dev.driver() != null && !dev.driver().name().equals("vfio-pci")) {
            core.deviceReleaseDriver(dev);
        }
        if (dev.driver() == null) {
            check(core.deviceDriverAttach(core.driver("vfio-pci").orElseThrow(), dev), "bind " + bdf + " to vfio-pci");
        }
        Vfio vfio = kernel.vfio().orElseThrow();
        UserProcess dpdk = UserProcess.root("dpdk", kernel.userMemory());
        VfioContainer container = vfio.openContainer(dpdk);
        VfioGroup group = vfio.openGroup(dpdk, noiommu ? "/dev/vfio/noiommu-" + vfio.noiommuGroup(bdf).orElseThrow()
                : "/dev/vfio/" + core.groupOf(dev).orElseThrow());
        group.setContainer(container);
        container.setIommu(noiommu ? Vfio.NOIOMMU_IOMMU : Vfio.TYPE1v2_IOMMU);
        VfioDevice device = group.deviceFd(bdf);
        long cmd = device.read(CONFIG + PciRegs.COMMAND, 2);
        device.write(CONFIG + PciRegs.COMMAND, cmd | PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        long area = Page.alignUp((long) ringSize * NicRingScenario.BUFFER_BYTES);
        boolean ringNic = RingNic.drives(nic.device());
        // a NIC's RX descriptor ring sits in the same mapping, in the page after the buffers
        long mapped = ringNic ? area + Page.SIZE : area;
        VirtAddr vaddr = dpdk.mmapAnon(mapped);
        if (!noiommu) {
            container.mapDma(vaddr, Iova.of(AREA_IOVA), mapped, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
            meter.maps++;
        }
        NicRingCost afterSetup = meter.snapshot();

        RxPath edu;
        if (ringNic) {
            VirtAddr ringVa = vaddr.checkedAdd(area);
            edu = new RingNic(nic.device(), (off, v) -> device.write(BAR0 + off, v & 0xffff_ffffL, 4), new RingNic.Ring() {
                @Override
                public void write(int index, byte[] desc) {
                    dpdk.write(ringVa.checkedAdd((long) RingNic.DESC * index), desc);
                }

                @Override
                public byte[] read(int index) {
                    return dpdk.read(ringVa.checkedAdd((long) RingNic.DESC * index), RingNic.DESC);
                }
            }, dmaAddress(dpdk, vaddr, area, noiommu));
        } else {
            edu = new EduNic((io.viommu.machine.device.EduDevice) nic.device(), (off, v) -> device.write(BAR0 + off, v, 8));
        }
        long delivered = 0;
        long faults = 0;
        byte[] frame = new byte[NicRingScenario.FRAME_BYTES];
        for (int p = 0; p < packets; p++) {
            long off = (long) (p % ringSize) * NicRingScenario.BUFFER_BYTES;
            NicRingScenario.fillFrame(frame, p);
            boolean ok = edu.receive(frame, dmaAddress(dpdk, vaddr, off, noiommu));
            // the poll-mode driver reads the packet in place: its memory, its IOVA, nothing to unmap
            if (!ok) {
                faults++;
            } else if (Arrays.equals(frame, dpdk.read(vaddr.checkedAdd(off), frame.length))) {
                delivered++;
            }
            if (driver != null) {
                driver.clock().advance(NicRingScenario.INTER_PACKET_NANOS);
            }
        }
        if (driver != null) {
            driver.clock().advance(NicRingScenario.IDLE_AFTER_NANOS);
        }
        NicRingCost end = meter.snapshot();
        // the process ends: its device file, group and container closed (the mapping goes with them)
        if (edu instanceof RingNic r) {
            r.stop();
        }
        device.close();
        group.unsetContainer();
        group.close();
        dpdk.munmap(vaddr);
        return new NicRingRun(Mapping.STATIC_VFIO, null, cachingMode, true, packets, ringSize,
                afterSetup.minus(start), end.minus(afterSetup), shadowed, delivered, faults);
    }

    /**
     * The address the device is given for byte {@code off} of the process's area: its fixed IOVA,
     * or under the no-IOMMU mode the physical address pagemap shows (within one page: a slot and
     * the descriptor ring never cross one).
     */
    private static Iova dmaAddress(UserProcess dpdk, VirtAddr area, long off, boolean noiommu) {
        return noiommu ? new Iova((dpdk.pagemapPfn(area.checkedAdd(off)) << 12) + (off & (Page.SIZE - 1)))
                : new Iova(AREA_IOVA + off);
    }

    private static void check(int rc, String what) {
        if (rc != 0) {
            throw new IllegalStateException(what + ": error " + rc);
        }
    }
}
