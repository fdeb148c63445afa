package io.viommu.tour;

import io.viommu.linux.Kernel;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.vmm.RunReport;
import io.viommu.vmm.VmRun;
import java.util.List;
import java.util.Map;

/**
 * Step 8: virtio behind the vIOMMU (QEMU's VT-d page, "With Virtio Devices"). virtio-net with
 * {@code iommu_platform=on,ats=on}, modern only, behind an ioh3420 root port, and the vIOMMU with
 * {@code device-iotlb=on}: the device offers ATS, the vIOMMU advertises device-IOTLB, and nothing
 * bypasses translation. Without {@code iommu_platform=on} the device's DMA bypasses the vIOMMU,
 * which viommu reports (QEMU says nothing). The guest's virtio-net driver sends and receives one
 * frame through the device's queues ({@code viommu run}'s virtio path), each DMA followed.
 */
final class VirtioAtsStep extends TourStep {
    static final String VM = "-M q35,accel=kvm,kernel-irqchip=split -m 2G -device intel-iommu,intremap=on,device-iotlb=on"
            + " -device ioh3420,id=pcie.1,chassis=1"
            + " -device virtio-net-pci,bus=pcie.1,netdev=net0,disable-legacy=on,disable-modern=off,iommu_platform=on,ats=on"
            + " -netdev tap,id=net0,vhostforce";

    VirtioAtsStep() {
        super(8, "virtio-net with iommu_platform=on,ats=on behind a root port and device-iotlb=on; and without iommu_platform",
                "001 (With Virtio Devices), 002");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        Kernel host = Walkthroughs.bootHost(in);
        List<String> args = Walkthroughs.args(VM);
        try (TourVm vm = TourVm.start(host, args, log)) {
            if (!log.expect(vm.running(), "the VM starts", String.join("\n", vm.stderr))) {
                return;
            }
            TourShell g = vm.shell();
            String ids = log.run(g, "cat /sys/bus/pci/devices/0000:01:00.0/vendor /sys/bus/pci/devices/0000:01:00.0/device");
            log.expect(ids.equals("0x1af4\n0x1041\n"), "virtio-net (modern, 1af4:1041) sits behind the root port at 01:00.0", ids);
            PciFunction f = vm.vmm.machine().rootBus().route(1, 0);
            boolean ats = f != null && f.findExtendedCapability(PciRegs.EXT_CAP_ID_ATS) != 0;
            log.shown("guest#", "lspci -s 01:00.0 -vv | grep ATS", ats ? "\tCapabilities: [" + Integer.toHexString(
                    f.findExtendedCapability(PciRegs.EXT_CAP_ID_ATS)) + " v1] Address Translation Service (ATS)\n" : "");
            log.expect(ats, "the device offers ATS (ats=on)", "no ATS capability");
            String dmesg = log.run(g, "dmesg | grep -e DMAR -e IOMMU");
            log.expect(dmesg.contains("DMAR: Intel(R) Virtualization Technology for Directed I/O"), "the guest's VT-d driver runs", dmesg);
            String find = log.run(g, "find /sys/kernel/iommu_groups/ -type l");
            log.expect(find.contains("/0000:01:00.0"), "the virtio device has an IOMMU group in the guest", find);
            log.figure("step8-guest", "The VM: virtio-net behind the ioh3420 root port, translated by the vIOMMU",
                    Walkthroughs.report(vm.guest.kernel(), "the VM"), Map.of("0000:01:00.0", "virtio-net, ATS"),
                    List.of("virtio-net 01:00.0 (iommu_platform=on: guest IOVAs)", "root port 00:01.0",
                            "vIOMMU, device-IOTLB: the device may cache translations (ATS)", "guest RAM"));
        }
        RunReport on = VmRun.run(host, new VmRun.Options("the tour's host", args, false, VmRun.Workload.NONE, 0, 0));
        log.expect(on.ok() && on.vm() != null && on.vm().viommu().deviceIotlb()
                        && on.warnings().stream().noneMatch(w -> w.contains("bypasses the vIOMMU")),
                "viommu run: vIOMMU with device-IOTLB (ECAP " + (on.vm() == null ? "?" : on.vm().viommu().ecap())
                        + "), no bypass reported", String.join("\n", on.warnings()));
        log.shown("host#", "viommu run ... (the same arguments): options without effect on the model",
                Walkthroughs.lines(on.noEffect()));
        RunReport.Virtio net = on.virtio().isEmpty() ? null : on.virtio().get(0);
        if (net != null) {
            log.shown("host#", "viommu run ... (the same arguments): the virtio path", Walkthroughs.lines(
                    List.of(net.device() + " at " + net.bdf() + ": " + net.request(), "DMA path " + net.path(),
                            String.join("\n", net.accesses()), "bytes: " + net.compared() + ": "
                                    + (net.bytesMatched() ? "identical" : "DIFFERENT"),
                            "the unmapped IOVA posted again: " + net.afterUnmap())));
        }
        log.expect(net != null && net.ok() && "vIOMMU (ATS)".equals(net.path()) && net.bypassed() == 0
                        && net.deviceTlbInvalidations() > 0,
                "the guest's virtio-net driver sends and receives a frame: every DMA of the device through the"
                        + " vIOMMU's ATS path, every byte compared, the unmapped buffer refused",
                String.valueOf(net));
        log.say("Without iommu_platform=on:");
        List<String> bypass = Walkthroughs.args(VM.replace(",iommu_platform=on", ""));
        RunReport off = VmRun.run(host, new VmRun.Options("the tour's host", bypass, false, VmRun.Workload.NONE, 0, 0));
        log.shown("host#", Walkthroughs.typed(bypass), Walkthroughs.lines(off.warnings()));
        log.expect(off.warnings().stream().anyMatch(w -> w.contains("virtio-net-pci") && w.contains("bypasses the vIOMMU"))
                        && !off.virtio().isEmpty() && "bypass".equals(off.virtio().get(0).path())
                        && off.virtio().get(0).translated() == 0 && off.virtio().get(0).bytesMatched(),
                "the bypass is reported: the device's DMA uses guest-physical addresses on system memory",
                String.join("\n", off.warnings()));
    }
}
