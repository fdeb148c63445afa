package io.viommu.tour;

import io.viommu.linux.Kernel;
import java.util.List;
import java.util.Map;

/**
 * Step 5: the simplest vIOMMU VM of QEMU's VT-d page: an emulated e1000 behind
 * {@code intel-iommu,intremap=on} with {@code kernel-irqchip=split}; the guest's VT-d driver
 * starts and remaps interrupts. With {@code kernel-irqchip=on} QEMU refuses: interrupt remapping
 * needs the I/O APIC in QEMU, not in KVM.
 */
final class InterruptRemappingStep extends TourStep {
    static final String VM = "-machine q35,accel=kvm,kernel-irqchip=split -m 2G -device intel-iommu,intremap=on"
            + " -netdev user,id=net0 -device e1000,netdev=net0";

    InterruptRemappingStep() {
        super(5, "a VM with e1000 and intel-iommu,intremap=on (kernel-irqchip=split), and with kernel-irqchip=on",
                "001 (General Usage)");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        Kernel host = Walkthroughs.bootHost(in);
        try (TourVm vm = TourVm.start(host, Walkthroughs.args(VM), log)) {
            if (log.expect(vm.running(), "the VM starts", String.join("\n", vm.stderr))) {
                TourShell g = vm.shell();
                String dmesg = log.run(g, "dmesg | grep -e DMAR -e IOMMU");
                log.expect(dmesg.contains("DMAR: Intel(R) Virtualization Technology for Directed I/O"),
                        "the guest's VT-d driver starts on the vIOMMU", dmesg);
                log.expect(dmesg.contains("DMAR-IR: Enabled IRQ remapping"), "the guest enables interrupt remapping (DMAR-IR)", dmesg);
                String find = log.run(g, "find /sys/kernel/iommu_groups/ -type l");
                log.expect(find.contains("/0000:00:02.0"), "the e1000 (00:02.0) has an IOMMU group in the guest", find);
                String drv = log.run(g, "readlink /sys/bus/pci/devices/0000:00:02.0/driver");
                log.expect(drv.strip().endsWith("/drivers/e1000"), "the guest's e1000 driver drives it, its DMA translated by the vIOMMU", drv);
                log.figure("step5-guest", "The VM: e1000 behind the vIOMMU", Walkthroughs.report(vm.guest.kernel(), "the VM"),
                        Map.of("0000:00:02.0", "emulated e1000"),
                        List.of("e1000 00:02.0 (emulated by QEMU)", "vIOMMU (the guest's DMA API domain)", "guest RAM"));
            }
        }
        log.say("The same VM with the I/O APIC in KVM:");
        try (TourVm vm = TourVm.start(host, Walkthroughs.args(VM.replace("kernel-irqchip=split", "kernel-irqchip=on")), log)) {
            log.expect(!vm.running() && vm.refusal.contains("Interrupt Remapping cannot work with kernel-irqchip=on, please use 'split|off'."),
                    "QEMU refuses intremap=on with kernel-irqchip=on", String.join("\n", vm.stderr));
        }
    }
}
