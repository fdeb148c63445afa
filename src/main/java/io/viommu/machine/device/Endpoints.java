package io.viommu.machine.device;

import io.viommu.memory.Page;
import io.viommu.pci.AccessRules;
import io.viommu.pci.AtsCapability;
import io.viommu.pci.Bar;
import io.viommu.pci.ConfigSpace;
import io.viommu.pci.MsixCapability;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.PcieCapability.Layout;
import io.viommu.pci.PcieCapability.PortType;
import io.viommu.pci.PcieCapability;
import io.viommu.pci.PmCapability;
import io.viommu.pci.SriovCapability;
import io.viommu.pci.VirtualFunction;
import java.util.List;

/**
 * QEMU 7.2's endpoint devices as their configuration space shows them (IDs, class, BAR sizes,
 * capability lists and key register values read back from QEMU 7.2; see
 * src/test/resources/qemu-pci/*.golden). Most functions (display, USB, the e1000, virtio-net and
 * virtio-blk) are not modelled: their BARs size and program like QEMU's but decode nothing. The
 * e1000e ({@link E1000eCore}), the 82576's VFs ({@link IgbVfCore}), nvme ({@link NvmeController})
 * and virtio-rng ({@link VirtioModern}) decode their registers and DMA.
 *
 * <p>Where QEMU puts a PCIe endpoint decides its shape ({@code do_pci_register_device},
 * {@code pcie_endpoint_cap_common_init}): on pcie.0 a PCIe endpoint is a root-complex integrated
 * endpoint (type 9) with 4 KiB of config space; below a PCIe port an endpoint (type 0); on a
 * conventional bus (behind pci-bridge) it keeps its PCIe capability in a 256-byte space and
 * loses the extended ones. virtio devices add the PCIe capability only below a PCIe port.
 */
public final class Endpoints {
    private Endpoints() {
    }

    /** Where a device is being placed: the bus is PCI Express, and is it the root bus. */
    public record Placement(boolean expressBus, boolean rootBus) {
        int configSize() {
            return expressBus ? ConfigSpace.PCIE_SIZE : ConfigSpace.CONVENTIONAL_SIZE;
        }

        PortType endpointType() {
            return expressBus && rootBus ? PortType.RC_INTEGRATED_ENDPOINT : PortType.ENDPOINT;
        }
    }

    /** VGA (hw/display/vga-pci.c): 1234:1111, 16 MiB prefetchable VRAM BAR0, 4 KiB MMIO BAR2. */
    public static final class StdVga extends PciFunction {
        public StdVga(int vgamemMb, boolean mmio) {
            super("VGA", 0x1234, 0x1111, 0x030000, 2, false, ConfigSpace.CONVENTIONAL_SIZE);
            registerBar(0, Bar.Kind.MEMORY32, Long.highestOneBit(Math.max(1, vgamemMb)) << 20, true, null, AccessRules.ANY);
            if (mmio) {
                registerBar(2, Bar.Kind.MEMORY32, 0x1000, false, null, AccessRules.ANY);
            }
        }
    }

    /** e1000 (hw/net/e1000.c): Intel 82540EM 8086:100e rev 3, 128 KiB MMIO BAR0, 64-byte I/O BAR1. */
    public static final class E1000 extends PciFunction {
        public E1000() {
            super("e1000", 0x8086, 0x100e, 0x020000, 3, false, ConfigSpace.CONVENTIONAL_SIZE);
            setInterruptPin(1);
            registerBar(0, Bar.Kind.MEMORY32, 0x20000, false, null, AccessRules.ANY);
            registerBar(1, Bar.Kind.IO, 0x40, false, null, AccessRules.ANY);
        }
    }

    /**
     * e1000e (hw/net/e1000e.c): Intel 82574L 8086:10d3, subsystem 8086:0000. BARs: 128 KiB MMIO,
     * 128 KiB flash, 32-byte I/O, 16 KiB MSI-X. Caps: PM@c8 MSI@d0 PCIe v1@e0 MSI-X@a0 (5
     * vectors); extended AER@100 and DSN@140 (the serial number is the MAC).
     */
    public static final class E1000e extends PciFunction {
        private final E1000eCore core;

        public E1000e(Placement at, byte[] mac, int subsysVendor, int subsys) {
            super("e1000e", 0x8086, 0x10d3, 0x020000, 0, false, at.configSize());
            config.define(PciRegs.SUBSYSTEM_VENDOR_ID, 2, subsysVendor, 0, 0);
            config.define(PciRegs.SUBSYSTEM_ID, 2, subsys, 0, 0);
            setInterruptPin(1);
            core = new E1000eCore(this, mac);
            registerBar(0, Bar.Kind.MEMORY32, 0x20000, false, core.bar0(), AccessRules.ANY);
            registerBar(1, Bar.Kind.MEMORY32, 0x20000, false, E1000eCore.FLASH, AccessRules.ANY);
            registerBar(2, Bar.Kind.IO, 0x20, false, null, AccessRules.ANY);
            addCapability(0xc8, PmCapability.SIZE);
            PmCapability.declare(config, 0xc8, 0x0022, 0);
            addMsi(0xd0, true);
            Layout l = Layout.endpoint(1, at.endpointType(), false);
            addCapability(0xe0, l.size());
            PcieCapability.declare(config, 0xe0, l);
            io.viommu.pci.MsixTable msix = addMsix(0xa0, E1000eCore.MSIX_VECTORS, 3, 0, 3, 0x2000);
            for (int v = 0; v < E1000eCore.MSIX_VECTORS; v++) {
                msix.use(v); // e1000e_use_msix_vectors at realize
            }
            registerBar(3, Bar.Kind.MEMORY32, 0x4000, false, msix.overlay(3, null), AccessRules.ANY);
            if (at.expressBus()) {
                addExtendedCapability(PciRegs.EXT_CAP_ID_AER, 2, 0x100, 0x40);
                CapTables.aer(config, 0x100, false);
                addExtendedCapability(PciRegs.EXT_CAP_ID_DSN, 1, 0x140, 12);
                CapTables.dsn(config, 0x140, CapTables.dsnFromMac(mac));
            }
        }

        /** The MAC and its rings behind BAR0. */
        public E1000eCore core() {
            return core;
        }
    }

    /** The virtio device kinds modelled: virtio id, class, legacy I/O BAR size. */
    public enum VirtioKind {
        NET("virtio-net-pci", 1, 0x1000, 0x020000, 0x20),
        BLK("virtio-blk-pci", 2, 0x1001, 0x010000, 0x80),
        /** virtio-rng-pci: 1af4:1005, class 00ff, legacy I/O 0x20 (checked with QEMU 7.2's info pci). */
        RNG("virtio-rng-pci", 4, 0x1005, 0x00ff00, 0x20),
        /** virtio-balloon-pci: 1af4:1002, class 00ff, legacy I/O 0x40, no MSI-X (checked with QEMU 7.2's info pci). */
        BALLOON("virtio-balloon-pci", 5, 0x1002, 0x00ff00, 0x40);

        final String typeName;
        final int virtioId;
        /** The transitional device id (PCI_DEVICE_ID_VIRTIO_*: not 0x1000 + id - 1 for every kind). */
        final int legacyDeviceId;
        final int classCode;
        final int legacyIoSize;

        VirtioKind(String typeName, int virtioId, int legacyDeviceId, int classCode, int legacyIoSize) {
            this.typeName = typeName;
            this.virtioId = virtioId;
            this.legacyDeviceId = legacyDeviceId;
            this.classCode = classCode;
            this.legacyIoSize = legacyIoSize;
        }
    }

    /**
     * virtio-pci (hw/virtio/virtio-pci.c). Transitional devices (legacy enabled) are 1af4:1000+n
     * rev 0 with subsystem 1af4:&lt;virtio id&gt; and a legacy I/O BAR0; modern-only ones are
     * 1af4:1040+id rev 1, subsystem 1af4:1100. BAR1 MSI-X (4 KiB), BAR4 modern registers (16 KiB,
     * 64-bit prefetchable). Caps: MSI-X, then the virtio structures (pci cfg, notify, device, isr,
     * common), and below a PCIe port PM and an endpoint PCIe v2 capability, plus ATS with ats=on.
     */
    public static final class VirtioPci extends PciFunction {
        final boolean modern;
        final boolean legacy;

        /** The modern registers with working virtqueues (virtio-rng, -net, -blk; null for balloon or legacy-only). */
        private final VirtioModern queue;
        private final AtsCapability atsCapability;

        public VirtioPci(VirtioKind kind, Placement at, boolean legacy, boolean modern, int vectors, boolean ats) {
            this(kind, at, legacy, modern, vectors, ats, false);
        }

        /** {@code iommuPlatform}: VIRTIO_F_ACCESS_PLATFORM offered; virtio-rng's queue served. */
        public VirtioPci(VirtioKind kind, Placement at, boolean legacy, boolean modern, int vectors, boolean ats,
                         boolean iommuPlatform) {
            this(kind, at, legacy, modern, vectors, ats, iommuPlatform,
                    kind == VirtioKind.RNG ? new VirtioFunctions.Rng() : null);
        }

        /**
         * {@code function}: what the device does with its queues' requests (null: config space
         * only, no queue is served, as for virtio-balloon).
         */
        public VirtioPci(VirtioKind kind, Placement at, boolean legacy, boolean modern, int vectors, boolean ats,
                         boolean iommuPlatform, VirtioFunction function) {
            super(kind.typeName, 0x1af4, legacy ? kind.legacyDeviceId : 0x1040 + kind.virtioId,
                    kind.classCode, legacy ? 0 : 1, false, at.expressBus() && !at.rootBus()
                            ? ConfigSpace.PCIE_SIZE : ConfigSpace.CONVENTIONAL_SIZE);
            this.modern = modern;
            this.legacy = legacy;
            boolean pcie = at.expressBus() && !at.rootBus();
            if (legacy) {
                config.define(PciRegs.SUBSYSTEM_ID, 2, kind.virtioId, 0, 0);
                registerBar(0, Bar.Kind.IO, kind.legacyIoSize, false, null, AccessRules.ANY);
            }
            setInterruptPin(1);
            if (vectors > 0) {
                registerBar(1, Bar.Kind.MEMORY32, 0x1000, false, null, AccessRules.ANY);
            }
            queue = modern && function != null ? new VirtioModern(kind.typeName, iommuPlatform, function) : null;
            if (modern) {
                registerBar(4, Bar.Kind.MEMORY64, 0x4000, true, queue, AccessRules.ANY);
            }
            int base = pcie ? 0x84 : 0x40;
            AtsCapability atsCap = null;
            if (vectors > 0) {
                addCapability(base + 0x58, MsixCapability.SIZE);
                MsixCapability.declare(config, base + 0x58, vectors, 1, 0, 1, 0x800);
            }
            if (modern) {
                addCapability(base + 0x44, 0x14);
                CapTables.virtio(config, base + 0x44, 0x14, 5, 0, 0, 0);
                addCapability(base + 0x30, 0x14);
                CapTables.virtio(config, base + 0x30, 0x14, 2, 4, 0x3000, 0x1000);
                config.define(base + 0x30 + 16, 4, 4, 0, 0); // notify_off_multiplier
                addCapability(base + 0x20, 0x10);
                CapTables.virtio(config, base + 0x20, 0x10, 4, 4, 0x2000, 0x1000);
                addCapability(base + 0x10, 0x10);
                CapTables.virtio(config, base + 0x10, 0x10, 3, 4, 0x1000, 0x1000);
                addCapability(base, 0x10);
                CapTables.virtio(config, base, 0x10, 1, 4, 0, 0x1000);
            }
            if (pcie) {
                addCapability(0x7c, PmCapability.SIZE);
                PmCapability.declare(config, 0x7c, 0x0003, 0);
                Layout l = Layout.endpoint(2, PortType.ENDPOINT, true);
                addCapability(0x40, l.size());
                PcieCapability.declare(config, 0x40, l);
                if (ats) {
                    addExtendedCapability(PciRegs.EXT_CAP_ID_ATS, 1, 0x100, 8);
                    atsCap = new AtsCapability(config, 0x100, 0);
                    CapTables.ats(config, 0x100); // QEMU's pcie_ats_init values (page-aligned requests only)
                }
            }
            atsCapability = atsCap;
        }

        /** The working virtqueues' registers, or null (a kind whose queues are not modelled, or legacy-only). */
        public VirtioModern queue() {
            return queue;
        }

        /** The ATS capability (ats=on below a PCIe port), or null. */
        public AtsCapability atsCapability() {
            return atsCapability;
        }

        /** Gives the queue its routes to memory: this function's bus-master port, and system memory for the bypass. */
        public void attachMemory(io.viommu.memory.AddressSpace systemMemory) {
            if (queue != null) {
                queue.attach(this::dma, systemMemory);
            }
        }
    }

    /**
     * qemu-xhci (hw/usb/hcd-xhci-pci.c): 1b36:000d rev 1, class 0c0330, subsystem 1af4:1100,
     * pin A, one 64-bit 16 KiB MMIO BAR0 (checked with QEMU 7.2: info pci and config reads over
     * qtest). No USB is modelled: the function occupies its slot, with QEMU's ids and BAR, so the
     * other devices keep QEMU's addresses (libvirt adds one to every q35 domain).
     */
    public static final class QemuXhci extends PciFunction {
        public QemuXhci(Placement at) {
            super("qemu-xhci", 0x1b36, 0x000d, 0x0c0330, 1, false, at.configSize());
            config.define(PciRegs.SUBSYSTEM_VENDOR_ID, 2, 0x1af4, 0, 0);
            config.define(PciRegs.SUBSYSTEM_ID, 2, 0x1100, 0, 0);
            setInterruptPin(1);
            registerBar(0, Bar.Kind.MEMORY64, 0x4000, false, null, AccessRules.ANY);
        }
    }

    /** nvme_mbar_size (hw/nvme/ctrl.c): registers and doorbells, MSI-X table, PBA, rounded up. */
    static long nvmeBarSize(int queues, int vectors, long[] tableAndPba) {
        long size = align4k(0x1000 + 8L * queues);
        tableAndPba[0] = size;
        size = align4k(size + 16L * vectors);
        tableAndPba[1] = size;
        size += ((vectors + 63) / 64) * 8L;
        return Long.highestOneBit(size - 1) << 1;
    }

    private static long align4k(long v) {
        return Page.alignUp(v);
    }

    /**
     * nvme (hw/nvme/ctrl.c): 1b36:0010 rev 2, class 010802. BAR0 64-bit with registers, MSI-X
     * table and PBA. Caps: MSI-X@40, PCIe v2@80 (FLR), PM@60; with sriov_max_vfs, ARI@100 (next
     * function 1, as QEMU) and SR-IOV@120 (VF offset 1, stride 1, VF device 0x0010). The PF
     * decodes its BAR0: the admin path of {@link NvmeController} and the MSI-X table and PBA.
     */
    public static final class Nvme extends PciFunction {
        private final NvmeController controller;

        public Nvme(Placement at, NvmeParams p) {
            super("nvme", 0x1b36, 0x0010, 0x010802, 2, false, at.configSize());
            setInterruptPin(1);
            int vectors = p.maxVfs() > 0 ? p.msixQsize() - p.viFlexible() : p.msixQsize();
            int ioQueuePairs = p.maxVfs() > 0 ? p.maxIoQueuePairs() - p.vqFlexible() : p.maxIoQueuePairs();
            this.controller = new NvmeController(this, p.serial(), ioQueuePairs, p.mdts());
            int queues = p.maxIoQueuePairs() + 1;
            long[] offs = new long[2];
            long size = nvmeBarSize(queues, vectors, offs);
            io.viommu.memory.Mmio[] decoded = new io.viommu.memory.Mmio[1];
            registerBar(0, Bar.Kind.MEMORY64, size, false, new io.viommu.memory.Mmio() {
                @Override
                public long load(long offset, int sz) {
                    return decoded[0].load(offset, sz);
                }

                @Override
                public void store(long offset, long value, int sz) {
                    decoded[0].store(offset, value, sz);
                }
            }, AccessRules.ANY);
            io.viommu.pci.MsixTable msix = addMsix(0x40, vectors, 0, offs[0], 0, offs[1]);
            decoded[0] = msix.overlay(0, controller.bar0());
            declareRest(this, at.endpointType());
            if (p.maxVfs() > 0 && at.expressBus()) {
                addExtendedCapability(PciRegs.EXT_CAP_ID_ARI, 1, 0x100, 8);
                io.viommu.pci.AriCapability.declare(config, 0x100, 1);
                int vfQueues = p.vfQueues();
                int vfVectors = p.vfVectors();
                long vfBar = nvmeBarSize(vfQueues, vfVectors, new long[2]);
                SriovCapability.attach(this, 0x120,
                        new SriovCapability.Params(p.maxVfs(), p.maxVfs(), 1, 1, 0x0010, 0),
                        List.of(new SriovCapability.VfBar(0, Bar.Kind.MEMORY64, vfBar, false)),
                        (pf, i) -> new NvmeVf(pf, i, at, vfQueues, vfVectors));
            }
        }

        /** The controller behind BAR0 (tests). */
        public NvmeController controller() {
            return controller;
        }

        @Override
        protected void resetDevice() {
            controller.functionReset();
        }

        /** A VF's capabilities: MSI-X declared only (its BAR decodes nothing), then the rest. */
        static void declareVf(PciFunction f, PortType type, int queues, int vectors) {
            long[] offs = new long[2];
            nvmeBarSize(queues, vectors, offs);
            ConfigSpace c = f.configSpace();
            f.addCapability(0x40, MsixCapability.SIZE);
            MsixCapability.declare(c, 0x40, vectors, 0, (int) offs[0], 0, (int) offs[1]);
            declareRest(f, type);
        }

        private static void declareRest(PciFunction f, PortType type) {
            ConfigSpace c = f.configSpace();
            Layout l = Layout.endpoint(2, type, true);
            f.addCapability(0x80, l.size());
            PcieCapability.declare(c, 0x80, l);
            f.addCapability(0x60, PmCapability.SIZE);
            PmCapability.declare(c, 0x60, 0x0003, PmCapability.PMCSR_NO_SOFT_RESET);
        }
    }

    /** The nvme properties that shape the PCI function and its controller. */
    public record NvmeParams(int maxIoQueuePairs, int msixQsize, int maxVfs, int vqFlexible, int viFlexible,
                      int maxVqPerVf, int maxViPerVf, String serial, int mdts) {
        int vfQueues() {
            return maxVqPerVf > 0 ? maxVqPerVf : vqFlexible / maxVfs;
        }

        int vfVectors() {
            return maxViPerVf > 0 ? maxViPerVf : viFlexible / maxVfs;
        }
    }

    /** An nvme VF: same capability list, its own MSI-X size, ARI@100 (next function 1). */
    static final class NvmeVf extends VirtualFunction {
        NvmeVf(PciFunction pf, int index, Placement at, int queues, int vectors) {
            super(pf, index, 0x010802, 2, ConfigSpace.PCIE_SIZE);
            setInterruptPin(1);
            Nvme.declareVf(this, at.endpointType(), queues, vectors);
            addExtendedCapability(PciRegs.EXT_CAP_ID_ARI, 1, 0x100, 8);
            io.viommu.pci.AriCapability.declare(config, 0x100, 1);
        }
    }

    /**
     * An SR-IOV NIC with real Intel 82576 ids, which QEMU 7.2 lacks (QEMU 8.0 added {@code igb},
     * same ids; both names are accepted). PF 8086:10c9 rev 1, class 020000, subsystem 8086:0000;
     * VF 8086:10ca. Layout follows QEMU 8.0's igb / the 82576 datasheet (not checkable against
     * QEMU 7.2): BARs 128 KiB MMIO, 128 KiB flash, 32-byte I/O, 16 KiB MSI-X; caps PM@c8 MSI@d0
     * PCIe v2@e0 (FLR) MSI-X@70 (10 vectors); extended AER@100 DSN@140 ARI@150 SR-IOV@160 with
     * InitialVFs = TotalVFs = 8, First VF Offset 0x80, VF Stride 2 (as real 82576 hardware: VFs
     * of a PF at 01:00.0 are 01:10.0, 01:10.2 ... 01:11.6), VF BAR0 and BAR3 16 KiB 64-bit
     * prefetchable. Single port (the real part is a dual-port multi-function device). Linux
     * treats its PF functions as isolated through the ACS quirk for multi-function endpoints
     * ({@code pci_quirk_mf_endpoint_acs}, which lists 0x10c9): that belongs to the kernel model.
     */
    public static final class Igb82576 extends PciFunction {
        static final int PF_DEVICE = 0x10c9;
        static final int VF_DEVICE = 0x10ca;
        static final int TOTAL_VFS = 8;
        static final int VF_OFFSET = 0x80;
        static final int VF_STRIDE = 2;

        private final Igb82576Switch fabric = new Igb82576Switch();

        public Igb82576(String typeName, Placement at, byte[] mac) {
            super(typeName, 0x8086, PF_DEVICE, 0x020000, 1, false, at.configSize());
            config.define(PciRegs.SUBSYSTEM_VENDOR_ID, 2, 0x8086, 0, 0);
            config.define(PciRegs.SUBSYSTEM_ID, 2, 0, 0, 0);
            setInterruptPin(1);
            registerBar(0, Bar.Kind.MEMORY32, 0x20000, false, null, AccessRules.ANY);
            registerBar(1, Bar.Kind.MEMORY32, 0x20000, false, null, AccessRules.ANY);
            registerBar(2, Bar.Kind.IO, 0x20, false, null, AccessRules.ANY);
            registerBar(3, Bar.Kind.MEMORY32, 0x4000, false, null, AccessRules.ANY);
            addCapability(0xc8, PmCapability.SIZE);
            PmCapability.declare(config, 0xc8, 0x0023, PmCapability.PMCSR_NO_SOFT_RESET);
            addMsi(0xd0, true);
            Layout l = Layout.endpoint(2, at.endpointType(), true);
            addCapability(0xe0, l.size());
            PcieCapability.declare(config, 0xe0, l);
            addCapability(0x70, MsixCapability.SIZE);
            MsixCapability.declare(config, 0x70, 10, 3, 0, 3, 0x2000);
            if (at.expressBus()) {
                addExtendedCapability(PciRegs.EXT_CAP_ID_AER, 2, 0x100, 0x40);
                CapTables.aer(config, 0x100, false);
                addExtendedCapability(PciRegs.EXT_CAP_ID_DSN, 1, 0x140, 12);
                CapTables.dsn(config, 0x140, CapTables.dsnFromMac(mac));
                addExtendedCapability(PciRegs.EXT_CAP_ID_ARI, 1, 0x150, 8);
                io.viommu.pci.AriCapability.declare(config, 0x150, 0);
                SriovCapability.attach(this, 0x160,
                        new SriovCapability.Params(TOTAL_VFS, TOTAL_VFS, VF_OFFSET, VF_STRIDE, VF_DEVICE, 0),
                        List.of(new SriovCapability.VfBar(0, Bar.Kind.MEMORY64, 0x4000, true),
                                new SriovCapability.VfBar(3, Bar.Kind.MEMORY64, 0x4000, true)),
                        (pf, i) -> new Igb82576Vf(pf, i, at, fabric, vfMac(mac, i)));
            }
        }
    }

    /**
     * An 82576 VF: MSI-X@70 (3 vectors, table and PBA in VF BAR3), PCIe v2@a0 (FLR), ARI@100;
     * VF BAR0 decodes its queue pair and interrupt registers ({@link IgbVfCore}).
     */
    public static final class Igb82576Vf extends VirtualFunction {
        private final IgbVfCore core;
        private final io.viommu.pci.MsixTable msixTable;

        Igb82576Vf(PciFunction pf, int index, Placement at, Igb82576Switch fabric, byte[] mac) {
            super(pf, index, 0x020000, 1, ConfigSpace.PCIE_SIZE);
            core = new IgbVfCore(this, fabric, mac);
            fabric.attach(core);
            msixTable = addMsix(0x70, IgbVfCore.MSIX_VECTORS, 3, 0, 3, 0x2000);
            for (int v = 0; v < IgbVfCore.MSIX_VECTORS; v++) {
                msixTable.use(v);
            }
            Layout l = Layout.endpoint(2, at.endpointType(), true);
            addCapability(0xa0, l.size());
            PcieCapability.declare(config, 0xa0, l);
            addExtendedCapability(PciRegs.EXT_CAP_ID_ARI, 1, 0x100, 8);
            io.viommu.pci.AriCapability.declare(config, 0x100, 0);
        }

        /** A function-level reset (DEVCTL.BCR_FLR) resets the VF's queues and interrupt registers. */
        @Override
        protected void afterConfigWrite(int offset, int len) {
            int devctl = 0xa0 + io.viommu.pci.PcieCapability.DEVCTL;
            if (offset <= devctl + 1 && offset + len > devctl + 1
                    && (config.get(devctl, 2) & io.viommu.pci.PcieCapability.DEVCTL_BCR_FLR) != 0) {
                core.reset();
            }
        }

        @Override
        protected io.viommu.memory.Mmio barRegion(int i) {
            return switch (i) {
                case 0 -> core.bar0();
                case 3 -> msixTable.overlay(3, null);
                default -> null;
            };
        }

        /** The queue pair and interrupt registers behind VF BAR0. */
        public IgbVfCore core() {
            return core;
        }
    }

    /**
     * The MAC a VF starts with: its PF's with the locally administered bit set and the last byte
     * plus the VF number plus one (52:54:00:12:34:56 gives VF 0 52:54:00:12:34:57); on real
     * hardware the PF's driver assigns one over the mailbox (README deviations).
     */
    static byte[] vfMac(byte[] pfMac, int index) {
        byte[] m = pfMac.clone();
        m[0] = (byte) ((m[0] & 0xfc) | 0x02);
        m[5] = (byte) (m[5] + index + 1);
        return m;
    }
}
