package io.viommu.tour;

import io.viommu.linux.Kernel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Step 4: SR-IOV (seed 003 §4). Four VFs enabled through {@code sriov_numvfs} on the 82576
 * behind the root port, each a PCI function of its own with the VF driver (igbvf); their IOMMU
 * groups; one VF handed to vfio-pci and given to a VM.
 */
final class SriovStep extends TourStep {
    static final String PF = "0000:01:00.0";

    SriovStep() {
        super(4, "SR-IOV: echo 4 > sriov_numvfs, the VFs' groups, one VF into a VM",
                "003 §4, 000");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        Kernel host = Walkthroughs.bootHost(in);
        TourShell sh = new TourShell(host, "host#");
        String pf = "/sys/bus/pci/devices/" + PF;
        String total = log.run(sh, "cat " + pf + "/sriov_totalvfs");
        log.expect(total.strip().equals("7"), "the 82576 offers 7 VFs (igb's limit)", total);
        String echoed = log.run(sh, "echo 4 > " + pf + "/sriov_numvfs");
        log.expect(echoed.isEmpty(), "the write succeeds", echoed);
        String num = log.run(sh, "cat " + pf + "/sriov_numvfs");
        log.expect(num.strip().equals("4"), "4 VFs enabled", num);
        log.say("udev sees the four new PCI functions and loads their driver by modalias (igbvf), as at boot.");
        host.drivers().coldplug();
        List<String> vfs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String link = sh.run("readlink " + pf + "/virtfn" + i).strip();
            vfs.add(link.substring(link.lastIndexOf('/') + 1));
        }
        String find = log.run(sh, "find /sys/kernel/iommu_groups/ -type l");
        Map<String, String> groups = new LinkedHashMap<>();
        for (String vf : vfs) {
            groups.put(vf, GroupStep.groupOf(find, vf));
        }
        log.expect(vfs.stream().allMatch(v -> find.contains("/" + v)), "each VF is a PCI function with an IOMMU group: " + vfs, find);
        log.say("The VFs' groups: " + groups + (groups.values().stream().distinct().count() == vfs.size()
                ? " (one each: they can go to different VMs)" : " (shared: they go to VMs only together)"));
        String vf = vfs.get(1);
        String drv = log.run(sh, "readlink /sys/bus/pci/devices/" + vf + "/driver");
        log.expect(drv.strip().endsWith("/drivers/igbvf"), "the VF has the VF driver (igbvf), not the PF's igb", drv);
        log.run(sh, "modprobe vfio-pci");
        log.run(sh, "echo vfio-pci > /sys/bus/pci/devices/" + vf + "/driver_override");
        log.run(sh, "echo " + vf + " > /sys/bus/pci/drivers/igbvf/unbind");
        log.run(sh, "echo " + vf + " > /sys/bus/pci/drivers_probe");
        drv = log.run(sh, "readlink /sys/bus/pci/devices/" + vf + "/driver");
        log.expect(drv.strip().endsWith("/drivers/vfio-pci"), "the VF is on vfio-pci", drv);
        List<String> vmArgs = Walkthroughs.args("-machine q35 -m 512M -nodefaults -device intel-iommu,caching-mode=on"
                + " -device vfio-pci,host=" + vf.substring(5));
        try (TourVm vm = TourVm.start(host, vmArgs, log)) {
            if (log.expect(vm.running(), "the VM with the VF starts", String.join("\n", vm.stderr))) {
                TourShell g = vm.shell();
                String ids = log.run(g, "cat /sys/bus/pci/devices/0000:00:01.0/vendor /sys/bus/pci/devices/0000:00:01.0/device");
                log.expect(ids.equals("0x8086\n0x10ca\n"), "the guest sees an 82576 VF (8086:10ca)", ids);
                String gd = log.run(g, "readlink /sys/bus/pci/devices/0000:00:01.0/driver");
                log.expect(gd.strip().endsWith("/drivers/igbvf"), "the guest's igbvf drives it", gd);
                Map<String, String> marks = new LinkedHashMap<>();
                marks.put(PF, "PF, 4 VFs");
                marks.put(vf, "assigned to the VM");
                log.figure("step4-host", "The host with 4 VFs: " + vf + " in the VM", Walkthroughs.report(host, "the tour's host"),
                        marks, List.of("VF " + vf + " (host RID " + vf.substring(5) + ")", "root port 00:06.0", "root bus pci0000:00",
                                "host VT-d unit dmar0 (the VF's own context entry)", "guest page (the VMM's memory)"));
                log.figure("step4-guest", "The VM: the VF at 00:01.0 behind its vIOMMU", Walkthroughs.report(vm.guest.kernel(), "the VM"),
                        Map.of("0000:00:01.0", "the VF"), List.of());
            }
        }
    }
}
