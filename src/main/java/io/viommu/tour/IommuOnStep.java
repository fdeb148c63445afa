package io.viommu.tour;

import io.viommu.linux.Kernel;

/**
 * Step 1: the IOMMU off, then on. The walkthroughs add {@code intel_iommu=on} to GRUB's kernel
 * line, reboot, and look for the DMAR lines in dmesg and the option in /proc/cmdline. The host
 * boots twice: with {@code intel_iommu=off} (the VT-d unit is there, the kernel leaves it alone:
 * no IOMMU groups, nothing can be assigned) and with the tour's line.
 */
final class IommuOnStep extends TourStep {

    IommuOnStep() {
        super(1, "the IOMMU off and on: intel_iommu=on, dmesg, /proc/cmdline",
                "003 §1.1, 004 (Preparing the OS), 002");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        String offLine = in.iommuOnLine().replace("intel_iommu=on", "").replaceAll("\\s+", " ").strip() + " intel_iommu=off";
        log.say("Before: the firmware has VT-d on (an ACPI DMAR table), the kernel is told intel_iommu=off.");
        Kernel off = Walkthroughs.bootHost(in, offLine);
        TourShell sh = new TourShell(off, "host#");
        String cmdline = log.run(sh, "cat /proc/cmdline");
        String dmesg = log.run(sh, "dmesg | grep -e DMAR -e IOMMU");
        String groups = log.run(sh, "ls /sys/kernel/iommu_groups");
        log.expect(cmdline.contains("intel_iommu=off"), "/proc/cmdline has intel_iommu=off", cmdline);
        log.expect(dmesg.contains("DMAR: IOMMU disabled") && !dmesg.contains("Intel(R) Virtualization Technology for Directed I/O"),
                "dmesg: \"DMAR: IOMMU disabled\", and the VT-d driver does not start", dmesg);
        log.expect(groups.isBlank(), "no IOMMU groups: nothing can be handed to vfio-pci", groups);

        log.say("After: GRUB_CMDLINE_LINUX_DEFAULT gets intel_iommu=on, update-grub, reboot.");
        Kernel on = Walkthroughs.bootHost(in);
        sh = new TourShell(on, "host#");
        cmdline = log.run(sh, "cat /proc/cmdline");
        dmesg = log.run(sh, "dmesg | grep -e DMAR -e IOMMU");
        groups = log.run(sh, "ls /sys/kernel/iommu_groups");
        log.expect(cmdline.contains("intel_iommu=on"), "/proc/cmdline has intel_iommu=on", cmdline);
        log.expect(dmesg.contains("DMAR: IOMMU enabled"), "dmesg: \"DMAR: IOMMU enabled\" (the option was recognised)", dmesg);
        log.expect(dmesg.contains("DMAR: dmar0: reg_base_addr") && dmesg.contains("DMAR: Intel(R) Virtualization Technology for Directed I/O"),
                "dmesg: the DMAR unit found and the VT-d driver started (\"several lines of output\")", dmesg);
        log.expect(!groups.isBlank(), "IOMMU groups exist", groups);
        log.say("(This kernel is Debian's 6.1 build, which turns VT-d on by default; intel_iommu=on adds the"
                + " \"DMAR: IOMMU enabled\" line, and on kernels without Debian's default, such as the walkthroughs',"
                + " it is what turns the IOMMU on.)");
        log.figure("step1-host", "The host with intel_iommu=on: every IOMMU group a box",
                Walkthroughs.report(on, "the tour's host"), java.util.Map.of(), java.util.List.of());
    }
}
