package io.viommu.linux.iommu;

import io.viommu.linux.Kernel;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaPort;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A booted guest for the driver tests: a q35 machine, the kernel, and the edu device's DMA. */
final class Guest {
    static final String CM = "intel-iommu,intremap=off,caching-mode=on";
    static final String NO_CM = "intel-iommu,intremap=off";
    static final long EDU_BAR = 0xfe00_0000L;

    final Machine machine;
    final Kernel kernel;

    private Guest(Machine machine, Kernel kernel) {
        this.machine = machine;
        this.kernel = kernel;
    }

    /**
     * Boots {@code -machine q35 -m 512M -nodefaults}, the given {@code -device}s and an
     * {@code -append} line (null for none).
     */
    static Guest boot(String append, String... devices) throws Exception {
        List<String> a = new ArrayList<>(Arrays.asList("-machine q35 -m 512M -nodefaults".split(" ")));
        for (String d : devices) {
            a.add("-device");
            a.add(d);
        }
        if (append != null) {
            a.add("-append");
            a.add(append);
        }
        Machine m = MachineBuilder.fromCommandLine(a, MachineLog.SILENT);
        return new Guest(m, Kernel.boot(m));
    }

    IntelIommuDriver driver() {
        return kernel.iommuDriver();
    }

    DmaApi dma() {
        return DmaApi.of(kernel.iommuDriver());
    }

    IommuCounters counters() {
        return driver().counters();
    }

    /** The first function of {@code type} (-device order), with memory decoding and bus mastering on. */
    PciFunction device(String type) {
        PciFunction f = machine.devices().stream().filter(d -> d.typeName().equals(type)).findFirst().orElseThrow();
        int cmd = PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER;
        machine.configAccess().write(f.address(), PciRegs.COMMAND, cmd, 2);
        return f;
    }

    /** edu with its BAR0 at {@link #EDU_BAR}. */
    EduDevice edu() {
        EduDevice e = (EduDevice) device("edu");
        machine.configAccess().write(e.address(), 0x10, EDU_BAR, 4);
        return e;
    }

    /** edu's DMA engine: {@code count} bytes from {@code iova} into its buffer (command 1). */
    DmaPort.Outcome eduReadFromRam(EduDevice e, Iova iova, int count) {
        var mem = machine.memory();
        mem.write(EDU_BAR + EduDevice.REG_DMA_SRC, iova.value(), 8);
        mem.write(EDU_BAR + EduDevice.REG_DMA_DST, EduDevice.DMA_BUFFER_BASE, 8);
        mem.write(EDU_BAR + EduDevice.REG_DMA_COUNT, count, 8);
        mem.write(EDU_BAR + EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START, 8);
        return e.lastDma();
    }

    /** A device write of {@code data} at {@code iova} straight through the function's DMA port. */
    DmaPort.Outcome deviceWrite(PciFunction f, Iova iova, byte[] data) {
        return f.dma().write(iova, data, 0, data.length);
    }

    DmaPort.Outcome deviceRead(PciFunction f, Iova iova, byte[] into) {
        return f.dma().read(iova, into, 0, into.length);
    }

    /** A fresh kernel page filled with {@code fill}. */
    PhysAddr buffer(int fill) {
        PhysAddr p = driver() != null ? driver().pages().allocate() : new PhysAddr(0x0300_0000L);
        byte[] b = new byte[4096];
        Arrays.fill(b, (byte) fill);
        machine.memory().writeBytes(p.value(), b, 0, b.length);
        return p;
    }

    IommuGroup group(RequesterId rid) {
        return kernel.groups().groupOf(rid).orElseThrow();
    }

    long ram(long addr, int size) {
        return machine.memory().read(addr, size);
    }
}
