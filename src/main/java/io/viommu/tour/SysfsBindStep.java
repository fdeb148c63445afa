package io.viommu.tour;

import io.viommu.linux.Kernel;
import java.util.List;
import java.util.Map;

/**
 * Step 3: the NIC handed to vfio-pci the sysfs way (seed 003 §1.2 and §3): its ids from
 * {@code vendor}/{@code device}, {@code new_id} to vfio-pci, {@code unbind} from its driver; a VM
 * started with only one function of the card on vfio-pci is refused (the group is not viable);
 * once the other function is released too, it starts and the guest sees the device.
 */
final class SysfsBindStep extends TourStep {
    static final String FN0 = "0000:00:05.0";
    static final String FN1 = "0000:00:05.1";

    SysfsBindStep() {
        super(3, "a NIC to vfio-pci the sysfs way (new_id, unbind) and the forgotten second function",
                "003 §1.2, §2, §3");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        Kernel host = Walkthroughs.bootHost(in);
        TourShell sh = new TourShell(host, "host#");
        String dev = "/sys/bus/pci/devices/" + FN0;
        String vendor = log.run(sh, "cat " + dev + "/vendor").strip();
        String device = log.run(sh, "cat " + dev + "/device").strip();
        String before = log.run(sh, "readlink " + dev + "/driver");
        log.expect(before.strip().endsWith("/drivers/e1000"), "05.0 is driven by the host's e1000 driver", before);
        String ids = vendor.replace("0x", "") + " " + device.replace("0x", "");
        log.run(sh, "modprobe vfio-pci");
        log.run(sh, "echo " + ids + " > /sys/bus/pci/drivers/vfio-pci/new_id");
        log.run(sh, "echo " + FN0 + " > /sys/bus/pci/drivers/e1000/unbind");
        String after = log.run(sh, "readlink " + dev + "/driver");
        log.expect(after.isEmpty(), "05.0 has no driver now: unbind does not probe the device again (the seed expects"
                + " vfio-pci to take it here; Linux 6.1 binds it only when asked, or when new_id comes after the unbind)", after);
        log.run(sh, "echo " + FN0 + " > /sys/bus/pci/drivers/vfio-pci/bind");
        after = log.run(sh, "readlink " + dev + "/driver");
        log.expect(after.strip().endsWith("/drivers/vfio-pci"), "05.0 is now on vfio-pci (it matches the id new_id added)", after);
        String other = log.run(sh, "readlink /sys/bus/pci/devices/" + FN1 + "/driver");
        log.expect(other.strip().endsWith("/drivers/e1000"), "05.1, the card's other function, is still on e1000", other);

        log.say("Forgetting 05.1: QEMU opens the group and finds a member still driven by the host.");
        List<String> vmArgs = Walkthroughs.args("-machine q35 -m 512M -nodefaults -device vfio-pci,host=00:05.0");
        try (TourVm vm = TourVm.start(host, vmArgs, log)) {
            log.expect(!vm.running() && vm.refusal.contains("is not viable"),
                    "QEMU refuses: the group is not viable", String.join("\n", vm.stderr));
        }
        log.say("05.1 has the same ids, so vfio-pci accepts it too: the same two writes.");
        log.run(sh, "echo " + FN1 + " > /sys/bus/pci/drivers/e1000/unbind");
        log.run(sh, "echo " + FN1 + " > /sys/bus/pci/drivers/vfio-pci/bind");
        other = log.run(sh, "readlink /sys/bus/pci/devices/" + FN1 + "/driver");
        log.expect(other.strip().endsWith("/drivers/vfio-pci"), "05.1 is on vfio-pci too: the group is viable", other);
        String nodes = log.run(sh, "ls /dev/vfio");
        log.expect(nodes.lines().anyMatch(l -> l.matches("\\d+")), "/dev/vfio has the group's node", nodes);
        try (TourVm vm = TourVm.start(host, vmArgs, log)) {
            if (log.expect(vm.running(), "the same VM starts", String.join("\n", vm.stderr))) {
                TourShell g = vm.shell();
                String seen = log.run(g, "cat /sys/bus/pci/devices/0000:00:01.0/vendor /sys/bus/pci/devices/0000:00:01.0/device");
                log.expect(seen.equals("0x8086\n0x100e\n"), "the guest sees the 8086:100e NIC (at 00:01.0: the PCI triple differs)", seen);
                String drv = log.run(g, "readlink /sys/bus/pci/devices/0000:00:01.0/driver");
                log.expect(drv.strip().endsWith("/drivers/e1000"), "the guest's own e1000 driver drives it", drv);
                log.figure("step3-host", "The host: the NIC's group on vfio-pci, 05.0 in the VM",
                        Walkthroughs.report(host, "the tour's host"), Map.of(FN0, "assigned to the VM", FN1, "on vfio-pci, not in the VM"),
                        List.of("e1000 05.0 (host RID 00:05.0)", "root bus pci0000:00", "host VT-d unit dmar0 (VFIO's domain: all guest RAM at its GPA)",
                                "the VMM's guest RAM (host memory)"));
            }
        }
    }
}
