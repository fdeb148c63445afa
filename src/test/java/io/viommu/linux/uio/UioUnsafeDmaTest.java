package io.viommu.linux.uio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.iommu.DomainType;
import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.vfio.DevNode;
import io.viommu.linux.vfio.PageFrames;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.Vfio;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.linux.vfio.VfioDevice;
import io.viommu.linux.vfio.VfioException;
import io.viommu.linux.vfio.VfioGroup;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.PciRegs;
import io.viommu.vtd.VtdRegisters;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The unsafe path made visible. One user-space edu driver with one bug — it programs the
 * device with its buffer's page number where the address belongs (it forgot {@code << 12}) —
 * run twice on the same machine: through UIO, with nothing translating the device's DMA, the
 * write lands in kernel memory and changes it; through VFIO with the IOMMU, the same write is a
 * recorded VT-d fault and not a byte of kernel memory changes.
 */
class UioUnsafeDmaTest {
    static final String EDU = "0000:00:01.0";
    static final long KERNEL_LOW = 0x1000;
    static final int KERNEL_SPAN = 0x10_0000 - 0x1000; // "kernel memory": low RAM below the frames

    /** What the buggy driver does, whatever gives it the device's registers. */
    interface Registers {
        void write8(int offset, long value);
    }

    /**
     * The driver: fills its buffer, has the device fetch it (correct address), then asks for
     * the result back, computing the address as the page number only (the bug).
     */
    static long runBuggyDriver(Registers regs, UserProcess p, long buf, long dmaBase) {
        byte[] payload = new byte[64];
        Arrays.fill(payload, (byte) 0xEE);
        p.write(buf, payload);
        regs.write8(EduDevice.REG_DMA_SRC, dmaBase);
        regs.write8(EduDevice.REG_DMA_DST, EduDevice.DMA_BUFFER_BASE);
        regs.write8(EduDevice.REG_DMA_COUNT, payload.length);
        regs.write8(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START);
        long wrong = dmaBase >>> 12; // BUG: a page number used as an address
        regs.write8(EduDevice.REG_DMA_SRC, EduDevice.DMA_BUFFER_BASE);
        regs.write8(EduDevice.REG_DMA_DST, wrong);
        regs.write8(EduDevice.REG_DMA_COUNT, payload.length);
        regs.write8(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START | EduDevice.DMA_CMD_TO_RAM);
        return wrong;
    }

    static byte[] kernelImage(PhysicalMemory ram) {
        byte[] b = new byte[KERNEL_SPAN];
        ram.readBytes(KERNEL_LOW, b, 0, b.length);
        return b;
    }

    @Test
    void theSameDriverBugCorruptsKernelMemoryThroughUioAndIsAVtdFaultThroughVfio() throws Exception {
        // iommu=pt: the kernel gives every group an identity default domain, as UIO setups do
        // (with a translating DMA domain the user's physical addresses would fault instead)
        Machine m = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-m", "256M", "-append", "iommu=pt",
                "-device", "intel-iommu,intremap=on", "-device", "edu"), MachineLog.SILENT);
        Kernel kernel = Kernel.boot(m);
        DriverCore core = kernel.drivers();
        assertThat(kernel.defaultDomainType()).isEqualTo(DomainType.IDENTITY);
        // the IOMMU is on (the driver set TE); the identity domain just does not stop anything
        assertThat(m.iommu().load(VtdRegisters.GSTS, 4) & VtdRegisters.GSTS_TES).isNotZero();
        PhysicalMemory ram = m.ram();
        for (long a = KERNEL_LOW; a < KERNEL_LOW + KERNEL_SPAN; a += 8) {
            ram.writeLong(a, 0x6b65726e656c2121L ^ a); // the kernel's data, recognisable
        }
        UserProcess dpdk = UserProcess.root("dpdk", kernel.userMemory());
        long buf = dpdk.mmap(4096);
        PciDevice edu = core.device(EDU).orElseThrow();

        // ---- 1. UIO: uio_pci_generic (modprobe loads uio first), the IOMMU not translating
        assertThat(kernel.uio()).isEmpty();
        core.loadModule("uio_pci_generic");
        Uio uio = kernel.uio().orElseThrow();
        core.setDriverOverride(edu, "uio_pci_generic");
        assertThat(core.deviceDriverAttach(core.driver("uio_pci_generic").orElseThrow(), edu)).isZero();
        assertThat(uio.devNodes()).extracting(DevNode::name).containsExactly("uio0");
        assertThat(uio.classAttribute(0, "name")).isEqualTo("uio_pci_generic\n");
        UioDevice u = uio.open(dpdk, "/dev/uio0");
        u.configWrite(PciRegs.COMMAND, u.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        long phys = dpdk.pagemapPfn(buf) << 12; // what DPDK reads from /proc/self/pagemap
        byte[] before = kernelImage(ram);
        long wrong = runBuggyDriver((off, v) -> u.barWrite(0, off, v, 8), dpdk, buf, phys);
        byte[] after = kernelImage(ram);
        assertThat(wrong).isBetween(KERNEL_LOW, KERNEL_LOW + KERNEL_SPAN - 64);
        assertThat(((EduDevice) m.rootBus().route(0, 8)).lastDma().ok()).isTrue();
        int changed = 0;
        for (int i = 0; i < after.length; i++) {
            if (after[i] != before[i]) {
                changed++;
                assertThat(after[i]).isEqualTo((byte) 0xEE);
            }
        }
        assertThat(changed).as("kernel bytes overwritten through UIO at %#x", wrong).isEqualTo(64);
        int off = (int) (wrong - KERNEL_LOW);
        assertThat(Arrays.copyOfRange(before, off, off + 8)).isNotEqualTo(Arrays.copyOfRange(after, off, off + 8));

        // ---- 2. the kernel is "repaired"; the same program through VFIO with the IOMMU
        ram.writeBytes(KERNEL_LOW, before, 0, before.length);
        core.deviceReleaseDriver(edu);
        assertThat(uio.devNodes()).isEmpty();
        Fails.assertErrno(Errno.ENODEV, () -> u.barRead(0, 0, 4));
        core.setDriverOverride(edu, "vfio-pci");
        core.loadModule("vfio-pci");
        assertThat(edu.driver().name()).isEqualTo("vfio-pci");
        Vfio vfio = kernel.vfio().orElseThrow();
        VfioContainer c = vfio.openContainer(dpdk);
        VfioGroup g = vfio.openGroup(dpdk, "/dev/vfio/1");
        g.setContainer(c);
        c.setIommu(Vfio.TYPE1v2_IOMMU);
        long iova = phys; // DPDK's iova-mode=pa: IOVA = physical address, so the program is unchanged
        c.mapDma(buf, iova, 4096, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
        VfioDevice d = g.deviceFd(EDU);
        long cfg = (long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT;
        d.write(cfg + PciRegs.COMMAND, d.read(cfg + PciRegs.COMMAND, 2) | PciRegs.COMMAND_MASTER, 2);
        long rootTable = m.iommu().load(VtdRegisters.RTADDR, 8) & ~0xfffL; // the table the kernel programmed
        assertThat(rootTable).isNotZero();
        byte[] rootBefore = new byte[4096];
        ram.readBytes(rootTable, rootBefore, 0, 4096);
        long wrong2 = runBuggyDriver((o, v) -> d.write(o, v, 8), dpdk, buf, iova);
        assertThat(wrong2).isEqualTo(wrong);
        assertThat(kernelImage(ram)).isEqualTo(before); // nothing corrupted
        EduDevice dev = (EduDevice) m.rootBus().route(0, 8);
        assertThat(dev.lastDma().bytesDone()).isZero();
        long frcdHi = m.iommu().load(VtdRegisters.FRCD + 8, 8);
        long frcdLo = m.iommu().load(VtdRegisters.FRCD, 8);
        assertThat(frcdHi & VtdRegisters.FRCD_F).isNotZero();
        assertThat(frcdHi & 0xffff).isEqualTo(edu.rid().value());
        assertThat(frcdLo & ~0xfffL).isEqualTo(wrong & ~0xfffL);
        // the same bug aimed at the IOMMU's own root table cannot reach it either
        runBuggyDriver((o, v) -> d.write(o, v, 8), dpdk, buf, rootTable << 12);
        byte[] rootAfter = new byte[4096];
        ram.readBytes(rootTable, rootAfter, 0, 4096);
        assertThat(rootAfter).isEqualTo(rootBefore);
    }

    /** Errno assertions for this package. */
    static final class Fails {
        static void assertErrno(Errno e, Runnable r) {
            try {
                r.run();
                throw new AssertionError("expected " + e);
            } catch (VfioException x) {
                assertThat(x.errno()).isEqualTo(e);
            }
        }
    }

    @Test
    void uioNodesAreRootsAndFollowBinding() throws Exception {
        Machine m = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-m", "256M", "-device", "edu", "-device", "edu"),
                MachineLog.SILENT);
        Kernel kernel = Kernel.boot(m);
        DriverCore core = kernel.drivers();
        core.loadModule("uio_pci_generic");
        Uio uio = kernel.uio().orElseThrow();
        for (String bdf : List.of(EDU, "0000:00:02.0")) {
            PciDevice d = core.device(bdf).orElseThrow();
            core.setDriverOverride(d, "uio_pci_generic");
            core.deviceAttach(d);
        }
        assertThat(uio.devNodes()).extracting(DevNode::lsLine)
                .containsExactly("crw-------    1 0        0         243,   0 uio0", "crw-------    1 0        0         243,   1 uio1");
        PageFrames frames = kernel.userMemory();
        Fails.assertErrno(Errno.EACCES, () -> uio.open(UserProcess.user("app", frames, 1 << 20), "/dev/uio0"));
        Fails.assertErrno(Errno.ENOENT, () -> uio.open(UserProcess.root("app", frames), "/dev/uio2"));
        core.deviceReleaseDriver(core.device(EDU).orElseThrow());
        assertThat(uio.devNodes()).extracting(DevNode::name).containsExactly("uio1");
        core.deviceAttach(core.device(EDU).orElseThrow());
        assertThat(uio.devNodes()).extracting(DevNode::name).containsExactly("uio0", "uio1"); // lowest free minor
        // INTx: the edu raises its interrupt, the handler masks it and counts, irqcontrol unmasks
        UioDevice u = uio.open(UserProcess.root("app", frames), "/dev/uio1");
        u.barWrite(0, EduDevice.REG_IRQ_RAISE, 1, 4);
        assertThat(u.serviceInterrupt()).isTrue();
        assertThat(u.serviceInterrupt()).isFalse(); // masked now
        assertThat(u.eventCount()).isEqualTo(1);
        u.irqControl(true);
        assertThat(u.configRead(PciRegs.COMMAND, 2) & PciRegs.COMMAND_INTX_DISABLE).isZero();
        assertThat(uio.classAttribute(1, "event")).isEqualTo("1\n");
    }
}
