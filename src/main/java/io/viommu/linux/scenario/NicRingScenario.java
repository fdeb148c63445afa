package io.viommu.linux.scenario;

import io.viommu.linux.Kernel;
import io.viommu.linux.iommu.DmaApi;
import io.viommu.linux.iommu.DmaDirection;
import io.viommu.linux.iommu.IntelIommuDriver;
import io.viommu.linux.scenario.NicRingRun.Mapping;
import io.viommu.linux.scenario.NicRingRun.Policy;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.notify.IovaRange;
import io.viommu.vtd.notify.MapNotifier;
import io.viommu.vtd.notify.NotifierFlag;
import io.viommu.vtd.notify.NotifierRefusedException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;

/**
 * The headline scenario: a NIC-like device receives packets into a ring of DMA buffers, in a
 * guest under a vIOMMU, and the run counts what each packet costs.
 *
 * <p>The guest is a q35 machine from a QEMU-like command line ({@link #commandLine}) with
 * {@code -device intel-iommu[,caching-mode=on]} and {@code -device edu} as the NIC
 * ({@link EduNic}), booted by the kernel model, whose intel-iommu driver programs the VT-d
 * model through its registers. With caching mode the device's address space gets a MAP|UNMAP
 * notifier, as QEMU registers for a vfio-pci device behind the vIOMMU
 * (vfio_listener_region_add): its events are the host IOMMU updates QEMU would make.
 *
 * <p>Two ways to map the ring:
 * <ul>
 * <li>{@link Mapping#DYNAMIC}: a Linux network driver. Setup maps every ring slot
 *     (dma_map_single FROM_DEVICE, as an RX refill); per packet the device DMAs the frame into
 *     the slot, the driver's completion unmaps it (dma_unmap_single), hands the bytes on (here:
 *     checks them), and refills the slot with a fresh mapping. Packets arrive at 10 GbE line
 *     rate for 1500-byte frames on the kernel's virtual clock, which matters only for the
 *     lazy flush queue's 10 ms timer.</li>
 * <li>{@link Mapping#STATIC_VFIO}: a DPDK-style user-space driver: the buffer area is mapped
 *     once with VFIO_IOMMU_MAP_DMA at setup; per packet the device DMAs into the slot's fixed
 *     IOVA and nothing is mapped or unmapped.</li>
 * </ul>
 */
public final class NicRingScenario {
    /** Frame length (an Ethernet MTU payload). */
    public static final int FRAME_BYTES = 1500;
    /** Receive buffer per ring slot (the 2 KiB buffers of igb/ixgbe), one page each here. */
    public static final int BUFFER_BYTES = 2048;
    /** Time between packets: a 1538-byte frame on the wire at 10 Gb/s. */
    public static final long INTER_PACKET_NANOS = 1230;
    /** Idle time after the last packet: the flush queue's timeout, so lazy work is counted. */
    public static final long IDLE_AFTER_NANOS = 10_000_000;
    /** Where the firmware puts edu's BAR0 (there is no BIOS to assign it). */
    static final long EDU_BAR = 0xfe00_0000L;
    /** Guest RAM. */
    static final String RAM = "512M";

    private NicRingScenario() {
    }

    /**
     * The QEMU command line of the guest: q35, {@value #RAM} RAM, intel-iommu (with caching
     * mode when asked), edu, and the kernel's {@code -append} line.
     */
    public static List<String> commandLine(boolean cachingMode, String append) {
        List<String> a = new ArrayList<>(List.of("-machine", "q35", "-m", RAM, "-nodefaults",
                "-device", "intel-iommu,intremap=on" + (cachingMode ? ",caching-mode=on" : ""),
                "-device", "edu"));
        if (append != null) {
            a.add("-append");
            a.add(append);
        }
        return a;
    }

    /**
     * Every combination asked for: per CM setting, dynamic mappings under each policy, then
     * (when {@code staticVfio}) the static VFIO mappings.
     */
    public static List<NicRingRun> runAll(List<Policy> policies, List<Boolean> cachingModes, boolean staticVfio,
                                          int packets, int ringSize) {
        List<NicRingRun> runs = new ArrayList<>();
        for (boolean cm : cachingModes) {
            for (Policy p : policies) {
                runs.add(dynamic(p, cm, packets, ringSize));
            }
            if (staticVfio) {
                runs.add(staticVfio(cm, packets, ringSize));
            }
        }
        return runs;
    }

    /** {@link Mapping#STATIC_VFIO}: the buffer area mapped once through VFIO by a user-space driver. */
    public static NicRingRun staticVfio(boolean cachingMode, int packets, int ringSize) {
        return StaticVfioRing.run(cachingMode, packets, ringSize);
    }

    /**
     * {@link Mapping#STATIC_VFIO} on a booted guest (its intel-iommu driver running): the NIC is
     * bound to the guest's vfio-pci and a DPDK-style process of the guest maps its buffer area once.
     */
    public static NicRingRun staticVfioOn(Kernel kernel, Nic nic, boolean cachingMode, int packets, int ringSize) {
        return StaticVfioRing.on(kernel, nic, cachingMode, packets, ringSize);
    }

    /** {@link Mapping#DYNAMIC}: map on refill, unmap on completion, through the guest's DMA API. */
    public static NicRingRun dynamic(Policy policy, boolean cachingMode, int packets, int ringSize) {
        checkSizes(packets, ringSize);
        Guest g = Guest.boot(cachingMode, "intel_iommu=on " + policy.option());
        IntelIommuDriver driver = g.kernel.iommuDriver();
        if (driver == null) {
            throw new IllegalStateException("the guest's intel-iommu driver did not start");
        }
        EduDevice edu = g.edu;
        RequesterId rid = edu.address();
        // the edu driver's probe: pci_enable_device, pci_set_master, dma_set_mask(28 bits)
        g.enableDevice();
        if (!DmaApi.of(driver).translated(rid)) {
            throw new IllegalStateException("edu's DMA does not go through an IOMMU DMA domain");
        }
        CostMeter meter = g.meter(driver);
        return ring(g.kernel, new Nic(edu, rid, EDU_BAR), meter, policy, cachingMode, g.shadowed, packets, ringSize);
    }

    /**
     * The NIC as the guest's driver drives it: the device that moves the bytes (an edu, an
     * e1000e or an 82576 VF; for an assigned one the HOST's device, which the frame arrives at
     * and whose DMA the host unit translates), its requester id in the guest, and where the
     * guest placed its BAR0.
     */
    public record Nic(io.viommu.pci.PciFunction device, RequesterId guestRid, long bar0) {
        public Nic {
            if (!(device instanceof EduDevice) && !RingNic.drives(device)) {
                throw new IllegalArgumentException(device + " is not a NIC the scenario drives (edu, e1000e, 82576 VF)");
            }
        }

        /** The DMA mask the device's driver sets: edu's 28-bit engine, 64 bits for the NICs. */
        long dmaMask() {
            return device instanceof EduDevice e ? e.dmaMask() : -1L;
        }
    }

    /**
     * {@link Mapping#DYNAMIC} on a guest that is already booted and a NIC whose BAR0 is placed
     * (e.g. a device assigned to a VM, whose host updates the VMM's listener makes: the meter
     * counts the guest's side only). Enables the device as its driver's probe does.
     */
    public static NicRingRun dynamicOn(Kernel kernel, Nic nic, boolean cachingMode, int packets, int ringSize) {
        checkSizes(packets, ringSize);
        Machine m = kernel.machine();
        m.configAccess().write(nic.guestRid(), PciRegs.COMMAND, PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        CostMeter meter = new CostMeter(kernel.iommuDriver());
        if (m.iommu() != null) {
            m.iommu().addInvalidationListener(meter);
        }
        Policy policy = kernel.strictInvalidation() ? Policy.STRICT : Policy.LAZY;
        try {
            return ring(kernel, nic, meter, policy, cachingMode, false, packets, ringSize);
        } finally {
            if (m.iommu() != null) {
                m.iommu().removeInvalidationListener(meter);
            }
        }
    }

    private static NicRingRun ring(Kernel kernel, Nic n, CostMeter meter, Policy policy, boolean cachingMode,
                                   boolean shadowed, int packets, int ringSize) {
        Machine machine = kernel.machine();
        IntelIommuDriver driver = kernel.iommuDriver();
        RequesterId rid = n.guestRid();
        DmaApi dma = DmaApi.of(driver);
        dma.setDmaMask(rid, n.dmaMask());
        var pages = kernel.drivers().dmaOps();
        NicRingCost start = meter.snapshot();
        PhysAddr ringPage = null;
        Iova ringIova = null;
        RxPath nic;
        if (n.device() instanceof EduDevice edu) {
            nic = new EduNic(edu, (off, v) -> machine.memory().write(PhysAddr.of(n.bar0() + off), v, 8));
        } else {
            // the driver's open: its RX descriptor ring, one coherent page
            long rp = pages.allocPages(1);
            if (rp < 0) {
                throw new IllegalStateException("the guest kernel ran out of pages for the descriptor ring");
            }
            ringPage = PhysAddr.of(rp);
            ringIova = refill(dma, rid, ringPage, meter, DmaDirection.BIDIRECTIONAL);
            PhysAddr ringBase = ringPage;
            nic = new RingNic(n.device(), (off, v) -> machine.memory().write(PhysAddr.of(n.bar0() + off), v & 0xffff_ffffL, 4),
                    new RingNic.Ring() {
                        @Override
                        public void write(int index, byte[] desc) {
                            machine.memory().writeBytes(PhysAddr.of(ringBase.value() + (long) RingNic.DESC * index), desc, 0,
                                    desc.length);
                        }

                        @Override
                        public byte[] read(int index) {
                            byte[] d = new byte[RingNic.DESC];
                            machine.memory().readBytes(PhysAddr.of(ringBase.value() + (long) RingNic.DESC * index), d, 0,
                                    d.length);
                            return d;
                        }
                    }, ringIova);
        }
        PhysAddr[] buffers = new PhysAddr[ringSize];
        Iova[] slots = new Iova[ringSize];
        for (int i = 0; i < ringSize; i++) {
            long p = pages.allocPages(1);
            if (p < 0) {
                throw new IllegalStateException("the guest kernel ran out of pages for the ring");
            }
            buffers[i] = PhysAddr.of(p);
            slots[i] = refill(dma, rid, buffers[i], meter);
        }
        NicRingCost afterSetup = meter.snapshot();

        long delivered = 0;
        long faults = 0;
        byte[] frame = new byte[FRAME_BYTES];
        byte[] got = new byte[FRAME_BYTES];
        for (int p = 0; p < packets; p++) {
            int s = p % ringSize;
            fillFrame(frame, p);
            boolean ok = nic.receive(frame, slots[s]);
            // completion (NAPI poll): unmap, then the stack reads the bytes
            dma.unmapSingle(rid, slots[s], BUFFER_BYTES, DmaDirection.FROM_DEVICE);
            meter.unmaps++;
            machine.memory().readBytes(PhysAddr.of(buffers[s].value()), got, 0, got.length);
            if (!ok) {
                faults++;
            } else if (Arrays.equals(frame, got)) {
                delivered++;
            }
            slots[s] = refill(dma, rid, buffers[s], meter);
            if (driver != null) {
                driver.clock().advance(INTER_PACKET_NANOS);
            }
        }
        if (driver != null) {
            driver.clock().advance(IDLE_AFTER_NANOS);
        }
        NicRingCost end = meter.snapshot();
        for (int i = 0; i < ringSize; i++) {
            dma.unmapSingle(rid, slots[i], BUFFER_BYTES, DmaDirection.FROM_DEVICE); // the driver's remove
            pages.freePages(buffers[i].value(), 1);
        }
        if (nic instanceof RingNic r) {
            r.stop();
            dma.unmapSingle(rid, ringIova, io.viommu.memory.Page.SIZE, DmaDirection.BIDIRECTIONAL);
            pages.freePages(ringPage.value(), 1);
        }
        return new NicRingRun(Mapping.DYNAMIC, policy, cachingMode, kernel.strictInvalidation(), packets, ringSize,
                afterSetup.minus(start), end.minus(afterSetup), shadowed, delivered, faults);
    }

    private static Iova refill(DmaApi dma, RequesterId rid, PhysAddr buf, CostMeter meter) {
        return refill(dma, rid, buf, meter, DmaDirection.FROM_DEVICE);
    }

    private static Iova refill(DmaApi dma, RequesterId rid, PhysAddr buf, CostMeter meter, DmaDirection dir) {
        Iova iova = dma.mapSingle(rid, buf, dir == DmaDirection.FROM_DEVICE ? BUFFER_BYTES : io.viommu.memory.Page.SIZE, dir);
        meter.maps++;
        if (DmaApi.isError(iova)) {
            throw new IllegalStateException("dma_map_single failed for " + buf);
        }
        return iova;
    }

    static void checkSizes(int packets, int ringSize) {
        if (packets < 1 || packets > 1_000_000) {
            throw new IllegalArgumentException("packets must be 1..1000000, not " + packets);
        }
        if (ringSize < 1 || ringSize > 4096) {
            throw new IllegalArgumentException("ring size must be 1..4096, not " + ringSize);
        }
    }

    /** Frame {@code seq}: its number in the first four bytes, then a pattern that differs per packet. */
    static void fillFrame(byte[] frame, int seq) {
        frame[0] = (byte) seq;
        frame[1] = (byte) (seq >>> 8);
        frame[2] = (byte) (seq >>> 16);
        frame[3] = (byte) (seq >>> 24);
        for (int i = 4; i < frame.length; i++) {
            frame[i] = (byte) (seq * 131 + i * 7);
        }
    }

    /** The booted guest of one run, with the shadowing notifier when caching mode allows it. */
    static final class Guest {
        final Machine machine;
        final Kernel kernel;
        final EduDevice edu;
        private final boolean cachingMode;
        boolean shadowed;

        private Guest(Machine machine, Kernel kernel, boolean cachingMode) {
            this.machine = machine;
            this.kernel = kernel;
            this.cachingMode = cachingMode;
            this.edu = machine.devices().stream().filter(EduDevice.class::isInstance).map(EduDevice.class::cast)
                    .findFirst().orElseThrow();
        }

        static Guest boot(boolean cachingMode, String append) {
            Machine m;
            try {
                m = MachineBuilder.fromCommandLine(commandLine(cachingMode, append), MachineLog.SILENT);
            } catch (MachineConfigException e) {
                throw new IllegalStateException("the scenario's machine: " + e.getMessage(), e);
            }
            return new Guest(m, Kernel.boot(m), cachingMode);
        }

        /** What the firmware does (there is no BIOS here): edu's BAR0 at {@link #EDU_BAR}. */
        void assignBar() {
            machine.configAccess().write(edu.address(), PciRegs.BAR0, EDU_BAR, 4);
        }

        /** BAR0 assigned, then the kernel driver's pci_enable_device and pci_set_master. */
        void enableDevice() {
            assignBar();
            machine.configAccess().write(edu.address(), PciRegs.COMMAND,
                    PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        }

        /**
         * A meter on the unit's invalidations and, with caching mode, a MAP|UNMAP registration
         * over edu's whole address space, as QEMU makes for an assigned device (without caching
         * mode QEMU refuses to assign a device behind the vIOMMU, and so does the notifier).
         */
        CostMeter meter(IntelIommuDriver driver) {
            CostMeter meter = new CostMeter(driver);
            machine.iommu().addInvalidationListener(meter);
            if (cachingMode) {
                MapNotifier n = MapNotifier.attach(machine.iommu());
                try {
                    n.register(edu.address(), IovaRange.ALL, EnumSet.of(NotifierFlag.MAP, NotifierFlag.UNMAP), meter);
                } catch (NotifierRefusedException e) {
                    throw new IllegalStateException("caching mode is on, yet the notifier was refused: "
                            + e.getMessage(), e);
                }
                shadowed = true;
            }
            return meter;
        }
    }
}
