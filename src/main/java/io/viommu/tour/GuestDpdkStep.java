package io.viommu.tour;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.uio.Uio;
import io.viommu.linux.uio.UioDevice;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.Vfio;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.linux.vfio.VfioDevice;
import io.viommu.linux.vfio.VfioGroup;
import io.viommu.machine.device.EduDevice;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.VirtAddr;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.vmm.RunReport;
import io.viommu.vmm.VmRun;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Step 7: guest DPDK (QEMU's VT-d page, use case 2). Two host devices assigned to one VM with a
 * vIOMMU; inside it one user-space driver with one bug (it programs the device with its buffer's
 * page number where the address belongs) drives device 1 through the guest's VFIO, whose mappings
 * the vIOMMU enforces, and device 2 through UIO ({@code uio_pci_generic}, the guest booted with
 * {@code iommu=pt} as UIO setups are: nothing translates device 2). The bad DMA of device 1 is
 * stopped by the host unit and logged by the host kernel; the same bad DMA of device 2 overwrites
 * guest memory that belongs to the guest kernel. Then the per-packet cost of a kernel driver's
 * dynamic mappings against DPDK's static ones, on device 1.
 */
final class GuestDpdkStep extends TourStep {
    static final String VM = "-M q35,accel=kvm,kernel-irqchip=split -m 512M -nodefaults"
            + " -device intel-iommu,intremap=on,caching-mode=on -device vfio-pci,host=00:07.0 -device vfio-pci,host=00:08.0";
    static final String DEV1 = "0000:00:01.0";
    static final String DEV2 = "0000:00:02.0";
    static final long BAR0 = (long) VfioDevice.BAR0_REGION << VfioDevice.OFFSET_SHIFT;
    static final long CONFIG = (long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT;
    static final int LENGTH = 64;

    /** The driver's registers, whichever way user space reached them. */
    interface Registers {
        void write8(int offset, long value);
    }

    /** The buggy driver: fetch the buffer (right address), write the result back to its page number (the bug). */
    static long buggyDriver(Registers regs, long dmaBase) {
        regs.write8(EduDevice.REG_DMA_SRC, dmaBase);
        regs.write8(EduDevice.REG_DMA_DST, EduDevice.DMA_BUFFER_BASE);
        regs.write8(EduDevice.REG_DMA_COUNT, LENGTH);
        regs.write8(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START);
        long wrong = dmaBase >>> 12;
        regs.write8(EduDevice.REG_DMA_SRC, EduDevice.DMA_BUFFER_BASE);
        regs.write8(EduDevice.REG_DMA_DST, wrong);
        regs.write8(EduDevice.REG_DMA_COUNT, LENGTH);
        regs.write8(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START | EduDevice.DMA_CMD_TO_RAM);
        return wrong;
    }

    GuestDpdkStep() {
        super(7, "guest DPDK: device 1 through the guest's VFIO (vIOMMU), device 2 through UIO; the same bad DMA",
                "001 (Use Case 2: DPDK), 000");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        Kernel host = Walkthroughs.bootHost(in);
        Walkthroughs.edusOnVfioPci(host, log);
        List<String> argv = new java.util.ArrayList<>(Walkthroughs.args(VM));
        argv.add("-append");
        argv.add("intel_iommu=on iommu=pt");
        try (TourVm vm = TourVm.start(host, argv, log)) {
            if (!log.expect(vm.running(), "the VM with both devices starts", String.join("\n", vm.stderr))) {
                return;
            }
            Kernel guest = vm.guest.kernel();
            TourShell g = vm.shell();
            log.run(g, "modprobe vfio-pci");
            log.run(g, "echo vfio-pci > /sys/bus/pci/devices/" + DEV1 + "/driver_override");
            log.run(g, "echo " + DEV1 + " > /sys/bus/pci/drivers_probe");
            log.run(g, "modprobe uio_pci_generic");
            log.run(g, "echo uio_pci_generic > /sys/bus/pci/devices/" + DEV2 + "/driver_override");
            log.run(g, "echo " + DEV2 + " > /sys/bus/pci/drivers_probe");
            String nodes = log.run(g, "ls /dev/vfio");
            log.expect(guest.drivers().device(DEV1).map(d -> d.driver() != null && d.driver().name().equals("vfio-pci")).orElse(false)
                    && guest.drivers().device(DEV2).map(d -> d.driver() != null && d.driver().name().equals(Uio.DRIVER)).orElse(false),
                    "in the guest: device 1 on vfio-pci, device 2 on uio_pci_generic", nodes);

            // ---- device 1: a DPDK process through the guest's VFIO; its buffer mapped at IOVA 0x100000
            UserProcess dpdk = UserProcess.root("dpdk-testpmd", guest.userMemory());
            VirtAddr buf = dpdk.mmapAnon(4096);
            byte[] payload = new byte[LENGTH];
            Arrays.fill(payload, (byte) 0xee);
            dpdk.write(buf, payload);
            Vfio vfio = guest.vfio().orElseThrow();
            PciDevice d1 = guest.drivers().device(DEV1).orElseThrow();
            VfioContainer c = vfio.openContainer(dpdk);
            VfioGroup grp = vfio.openGroup(dpdk, "/dev/vfio/" + guest.drivers().groupOf(d1).orElseThrow());
            grp.setContainer(c);
            c.setIommu(Vfio.TYPE1v2_IOMMU);
            long iova = 0x10_0000L;
            c.mapDma(buf, Iova.of(iova), 4096, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
            VfioDevice fd = grp.deviceFd(DEV1);
            fd.write(CONFIG + PciRegs.COMMAND, fd.read(CONFIG + PciRegs.COMMAND, 2) | PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
            int hostLog = host.dmesg().size();
            long wrong1 = buggyDriver((o, v) -> fd.write(BAR0 + o, v, 8), iova);
            host.takeInterrupts();
            List<String> faults = host.dmesg().subList(hostLog, host.dmesg().size()).stream()
                    .filter(l -> l.startsWith("DMAR:")).toList();
            log.shown("dpdk", "device 1 (VFIO): buffer mapped at IOVA 0x" + Long.toHexString(iova) + " (VFIO_IOMMU_MAP_DMA);"
                    + " fetch from it, then write the result to 0x" + Long.toHexString(wrong1) + " (the bug)",
                    "host kernel log:\n" + Walkthroughs.lines(faults.stream().map(l -> "[    0.000000] " + l).toList()));
            EduDevice host1 = hostEdu(host, 7);
            log.expect(host1.lastDma() != null && !host1.lastDma().ok(), "device 1's bad DMA is stopped", String.valueOf(host1.lastDma()));
            log.expect(faults.stream().anyMatch(l -> l.contains("[DMA Write NO_PASID] Request device [00:07.0] fault addr 0x"
                            + Long.toHexString(wrong1 & ~0xfffL))),
                    "and recorded: the host unit's fault for 00:07.0 at the bad address, in the host's dmesg", String.join("\n", faults));
            fd.close();
            grp.unsetContainer();
            grp.close();

            // ---- device 2: the same driver through UIO; it reads its buffer's physical address from /proc/self/pagemap
            Uio uio = guest.uio().orElseThrow();
            UioDevice u = uio.open(dpdk, "/dev/uio0");
            u.configWrite(PciRegs.COMMAND, u.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
            long phys = dpdk.pagemapPfn(buf) << 12;
            long wrong2 = phys >>> 12;
            byte[] before = new byte[LENGTH];
            guest.machine().memory().readBytes(PhysAddr.of(wrong2), before, 0, LENGTH);
            buggyDriver((o, v) -> u.barWrite(0, o, v, 8), phys);
            byte[] after = new byte[LENGTH];
            guest.machine().memory().readBytes(PhysAddr.of(wrong2), after, 0, LENGTH);
            HexFormat hex = HexFormat.ofDelimiter(" ");
            log.shown("dpdk", "device 2 (UIO): buffer at physical 0x" + Long.toHexString(phys) + " (pagemap); fetch from it,"
                    + " then write the result to 0x" + Long.toHexString(wrong2) + " (the same bug)",
                    "guest-physical 0x" + Long.toHexString(wrong2) + " (guest kernel memory, below user memory at 0x"
                            + Long.toHexString(Kernel.USER_MEMORY_BASE) + ") before: " + hex.formatHex(before, 0, 16) + " ...\n"
                            + "                                  after:  " + hex.formatHex(after, 0, 16) + " ...\n");
            log.expect(hostEdu(host, 8).lastDma() != null && hostEdu(host, 8).lastDma().ok(),
                    "device 2's bad DMA is not stopped: nothing translates it", String.valueOf(hostEdu(host, 8).lastDma()));
            log.expect(Arrays.equals(after, payload) && !Arrays.equals(before, after) && wrong2 < Kernel.USER_MEMORY_BASE,
                    "it overwrote " + LENGTH + " bytes of guest kernel memory at 0x" + Long.toHexString(wrong2) + " with the buffer's 0xee",
                    hex.formatHex(after));
            log.figure("step7-guest", "The VM: device 1 (VFIO, translated) and device 2 (UIO, pass-through)",
                    Walkthroughs.report(guest, "the VM"), Map.of(DEV1, "device 1: guest VFIO", DEV2, "device 2: UIO"),
                    List.of("device 1 (host 00:07.0) as 00:01.0: the DPDK process's IOVA",
                            "vIOMMU: the process's VFIO domain in the guest (only its buffer)",
                            "the VMM's shadow: host VFIO mappings of just that buffer",
                            "host VT-d unit: the stray write faults here"));
            log.say("Device 2's path has no such stop: in the guest's identity domain (iommu=pt) its address is the GPA, and"
                    + " the host unit maps all guest RAM for it, so any guest page can be written.");
        }

        log.say("What a packet costs on device 1: a kernel driver mapping each buffer (DMA API, caching mode) against"
                + " DPDK mapping its buffers once (guest VFIO):");
        List<String> vm = Walkthroughs.args(VM.replace(" -device vfio-pci,host=00:08.0", ""));
        RunReport dyn = VmRun.run(host, new VmRun.Options("the tour's host", vm, false, VmRun.Workload.NIC_RING, in.packets(), 64));
        RunReport stat = VmRun.run(host, new VmRun.Options("the tour's host", vm, false, VmRun.Workload.STATIC, in.packets(), 64));
        if (!log.expect(dyn.ok() && stat.ok() && dyn.workload() != null && stat.workload() != null,
                "both rings deliver every packet", dyn.failure() + " / " + stat.failure())) {
            return;
        }
        String[] cats = {"guest IOTLB invalidations", "VM exits (IOMMU)", "host MAP/UNMAP_DMA (with setup)"};
        double[][] v = {row(dyn.workload()), row(stat.workload())};
        StringBuilder table = new StringBuilder(String.format("%-42s %10s %10s %10s%n", "per packet (" + in.packets() + " packets)",
                "invalid.", "VM exits", "host maps*"));
        String[] names = {"kernel driver (DMA API, map per packet)", "DPDK (guest VFIO, mapped once)"};
        for (int i = 0; i < 2; i++) {
            table.append(String.format("%-42s %10.3f %10.3f %10.3f%n", names[i], v[i][0], v[i][1], v[i][2]));
        }
        table.append("* host VFIO MAP_DMA + UNMAP_DMA calls of the whole run (ring set-up and teardown included) per packet\n");
        log.shown("host#", "viommu run --workload nic-ring / --workload static (" + in.packets() + " packets, ring 64)", table.toString());
        log.expect(v[0][2] >= 1.9 && v[1][2] < 0.1 && v[0][0] > v[1][0],
                "dynamic mappings cost host IOMMU updates per packet (≈2), static ones none", table.toString());
        log.chart("step7-cost", "Per-packet cost on device 1 (caching mode)", "per packet", List.of(names), List.of(cats), v);
    }

    private static double[] row(RunReport.Workload w) {
        return new double[] {w.iotlbInvalidationsPerPacket(), w.vmExitsPerPacket(),
                (double) (w.hostMapCalls() + w.hostUnmapCalls()) / w.packets()};
    }

    static EduDevice hostEdu(Kernel host, int slot) {
        for (PciFunction f : host.machine().devices()) {
            if (f instanceof EduDevice e && e.address().bus() == 0 && e.address().devfn() == slot << 3) {
                return e;
            }
        }
        throw new IllegalStateException("no edu in slot " + slot);
    }
}
