package io.viommu.machine.device;

import io.viommu.memory.Mmio;
import io.viommu.pci.AccessRules;
import io.viommu.pci.Bar;
import io.viommu.pci.ConfigSpace;
import io.viommu.pci.PciBridge;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.SriovCapability;
import io.viommu.pci.VirtualFunction;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A PCI function of a recorded real host (a tree saved by {@code viommu host snapshot}): its
 * configuration space is the saved bytes (64, 256 or 4096 of them; what was not saved reads 0),
 * so its ids, class, header type and capability lists (PCIe port type, ACS, SR-IOV, PM with
 * No_Soft_Reset, MSI/MSI-X) are the recorded ones. The model keeps its own write rules: the
 * header's registers as any function has them, everything after the header writable (QEMU's
 * {@code pci_init_wmask}), so the kernel model can enable ACS, program MSI or start an FLR.
 *
 * <p>A recorded device has no behaviour: its memory BARs (sizes from the saved {@code resource}
 * file) read back what was last written and 0 before, and it never issues DMA by itself. An
 * SR-IOV physical function gets a working SR-IOV capability (VF Enable creates VFs with the
 * recorded offset, stride and VF device id, whose configuration spaces come from the saved VFs).
 */
public final class RecordedFunction extends PciFunction {
    /** The saved shape of one function: configuration bytes and BAR sizes (0: none or not saved). */
    public record Shape(byte[] config, long[] barSizes) {
        public Shape {
            config = config.clone();
            barSizes = barSizes.clone();
        }

        int vendor() {
            return u16(config, PciRegs.VENDOR_ID);
        }

        int device() {
            return u16(config, PciRegs.DEVICE_ID);
        }

        int classCode() {
            return (int) (u32(config, PciRegs.REVISION_ID) >>> 8);
        }

        int revision() {
            return config.length > PciRegs.REVISION_ID ? config[PciRegs.REVISION_ID] & 0xff : 0;
        }

        boolean multiFunction() {
            return config.length > PciRegs.HEADER_TYPE && (config[PciRegs.HEADER_TYPE] & 0x80) != 0;
        }

        int configSize() {
            return config.length > ConfigSpace.CONVENTIONAL_SIZE ? ConfigSpace.PCIE_SIZE : ConfigSpace.CONVENTIONAL_SIZE;
        }
    }

    /** The SR-IOV part of a recorded PF: per-VF BAR sizes (saved IOV resources / TotalVFs) and each VF's shape. */
    public record Sriov(long[] vfBarSizes, Map<Integer, Shape> vfShapes) {
    }

    public static final String TYPE = "host-device";

    public RecordedFunction(Shape shape, Sriov sriov) {
        super(TYPE, shape.vendor(), shape.device(), shape.classCode(), shape.revision(), shape.multiFunction(),
                shape.configSize());
        overlay(config, shape.config());
        registerBars(shape, this::declareBar);
        int sriovAt = findExtendedCapability(PciRegs.EXT_CAP_ID_SRIOV);
        if (sriovAt >= 0 && sriov != null) {
            attachRecordedSriov(sriovAt, sriov);
        }
    }

    private void declareBar(int index, Bar.Kind kind, long size, boolean prefetch, long recorded) {
        registerBar(index, kind, size, prefetch, new InertRegisters(), AccessRules.ANY);
        config.set(PciRegs.BAR0 + 4 * index, 4, recorded & 0xffff_ffffL);
        if (kind == Bar.Kind.MEMORY64) {
            config.set(PciRegs.BAR0 + 4 * index + 4, 4, recorded >>> 32);
        }
    }

    private void attachRecordedSriov(int at, Sriov sriov) {
        // the recorded fields; VF Enable and NumVFs start cleared (Linux's sriov_init clears a VF
        // Enable it finds at boot; the driver that enabled the VFs on the real host does it again)
        int total = (int) config.get(at + SriovCapability.TOTAL_VFS, 2);
        SriovCapability.Params p = new SriovCapability.Params((int) config.get(at + SriovCapability.INITIAL_VFS, 2),
                total, (int) config.get(at + SriovCapability.VF_OFFSET, 2),
                (int) config.get(at + SriovCapability.VF_STRIDE, 2),
                (int) config.get(at + SriovCapability.VF_DEVICE_ID, 2),
                (int) config.get(at + SriovCapability.FUNC_DEP_LINK, 1));
        List<SriovCapability.VfBar> bars = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            long size = i < sriov.vfBarSizes().length ? sriov.vfBarSizes()[i] : 0;
            long reg = config.get(at + SriovCapability.VF_BAR0 + 4 * i, 4);
            if (size <= 0 || (reg & 1) != 0) {
                continue;
            }
            Bar.Kind kind = (reg & 0x6) == 0x4 ? Bar.Kind.MEMORY64 : Bar.Kind.MEMORY32;
            bars.add(new SriovCapability.VfBar(i, kind, Long.highestOneBit(size), (reg & 0x8) != 0));
            if (kind == Bar.Kind.MEMORY64) {
                i++;
            }
        }
        // SriovCapability.attach links a header; the recorded list is kept as it was saved
        Map<Integer, Long> headers = new HashMap<>();
        for (CapabilityRef c : capabilityList()) {
            if (c.extended()) {
                headers.put(c.offset(), config.get(c.offset(), 4));
            }
        }
        SriovCapability.attach(this, at, p, bars, (pf, index) -> {
            int vfRid = pf.address().value() + p.vfOffset() + index * p.vfStride();
            Shape s = sriov.vfShapes().get(vfRid & 0xffff);
            return new Vf(pf, index, s != null ? s : new Shape(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff,
                (byte) 0xff}, new long[6]));
        });
        headers.forEach((off, h) -> config.set(off, 4, h));
    }

    /** A VF of a recorded PF: its saved configuration space (ids read 0xffff, as on the hardware). */
    static final class Vf extends VirtualFunction {
        Vf(PciFunction pf, int index, Shape shape) {
            super(pf, index, shape.classCode(), shape.revision(), ConfigSpace.PCIE_SIZE);
            overlay(config, shape.config());
        }
    }

    /** A PCI-to-PCI bridge (root port, switch port, PCIe-to-PCI bridge) of a recorded host, bus numbers as saved. */
    public static final class Bridge extends PciBridge {
        public Bridge(Shape shape, String busName) {
            super(TYPE, shape.vendor(), shape.device(), shape.revision(), shape.configSize(), busName,
                    isExpressBus(shape.config()), WindowReset.ZERO, 0);
            overlay(config, shape.config());
            registerBars(shape, (index, kind, size, prefetch, recorded) -> {
                registerBar(index, kind, size, prefetch, new InertRegisters(), AccessRules.ANY);
                config.set(PciRegs.BAR0 + 4 * index, 4, recorded & 0xffff_ffffL);
            });
        }
    }

    /** A bridge's secondary bus is PCI Express when the bridge is a PCIe port (not a PCIe-to-PCI bridge). */
    static boolean isExpressBus(byte[] cfg) {
        int p = findStandardCapability(cfg, PciRegs.CAP_ID_EXP);
        if (p < 0) {
            return false;
        }
        int type = (u16(cfg, p + 2) >> 4) & 0xf;
        return type == 0x4 || type == 0x5 || type == 0x6 || type == 0x8; // root, upstream, downstream port, PCI-to-PCIe
    }

    private static int findStandardCapability(byte[] cfg, int id) {
        if ((u16(cfg, PciRegs.STATUS) & PciRegs.STATUS_CAP_LIST) == 0) {
            return -1;
        }
        int p = cfg.length > PciRegs.CAPABILITY_LIST ? cfg[PciRegs.CAPABILITY_LIST] & 0xfc : 0;
        for (int n = 0; p >= PciRegs.HEADER_SIZE && p + 1 < cfg.length && n < 48; n++) {
            if ((cfg[p] & 0xff) == id) {
                return p;
            }
            p = cfg[p + 1] & 0xfc;
        }
        return -1;
    }

    /** The saved bytes as values; the model's write masks stay. */
    static void overlay(ConfigSpace c, byte[] bytes) {
        int n = Math.min(bytes.length, c.size());
        for (int i = 0; i < n; i++) {
            c.set(i, 1, bytes[i] & 0xff);
        }
    }

    @FunctionalInterface
    interface BarSink {
        void declare(int index, Bar.Kind kind, long size, boolean prefetch, long recorded);
    }

    /** Memory and I/O BARs whose size was saved, with the address the recorded firmware gave them. */
    static void registerBars(Shape shape, BarSink sink) {
        byte[] cfg = shape.config();
        int bars = (cfg.length > PciRegs.HEADER_TYPE && (cfg[PciRegs.HEADER_TYPE] & 0x7f) == 1) ? 2 : 6;
        for (int i = 0; i < bars; i++) {
            long size = i < shape.barSizes().length ? shape.barSizes()[i] : 0;
            long reg = u32(cfg, PciRegs.BAR0 + 4 * i);
            if (size <= 0) {
                continue;
            }
            size = Long.highestOneBit(size) == size ? size : Long.highestOneBit(size) << 1;
            if ((reg & 1) != 0) {
                sink.declare(i, Bar.Kind.IO, size, false, reg);
            } else if ((reg & 0x6) == 0x4 && i < bars - 1) {
                sink.declare(i, Bar.Kind.MEMORY64, size, (reg & 0x8) != 0, reg | u32(cfg, PciRegs.BAR0 + 4 * i + 4) << 32);
                i++;
            } else {
                sink.declare(i, Bar.Kind.MEMORY32, size, (reg & 0x8) != 0, reg);
            }
        }
    }

    static int u16(byte[] b, int off) {
        return off + 1 < b.length ? (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 : 0;
    }

    static long u32(byte[] b, int off) {
        return off + 3 < b.length ? (u16(b, off) | (long) u16(b, off + 2) << 16) : 0;
    }

    /**
     * The registers behind a recorded device's BAR: what was written reads back, 0 before (the
     * model knows nothing of the real device's registers).
     */
    static final class InertRegisters implements Mmio {
        private final Map<Long, Byte> bytes = new HashMap<>();

        @Override
        public long load(long offset, int size) {
            long v = 0;
            for (int i = 0; i < size; i++) {
                v |= (bytes.getOrDefault(offset + i, (byte) 0) & 0xffL) << (8 * i);
            }
            return v;
        }

        @Override
        public void store(long offset, long value, int size) {
            for (int i = 0; i < size; i++) {
                bytes.put(offset + i, (byte) (value >>> (8 * i)));
            }
        }
    }
}
