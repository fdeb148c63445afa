package io.viommu.tour;

import io.viommu.linux.Kernel;
import java.util.List;
import java.util.Map;

/**
 * Step 2: a device's IOMMU group and its companions. The ICH9 functions 1f.0 (LPC), 1f.2 (SATA)
 * and 1f.3 (SMBus) are one multifunction device without ACS: Linux puts them in one group, and
 * all three must leave the host together (seed 004's {@code ll .../iommu_group/devices/}); so
 * must the two functions of the dual-port NIC in slot 5 (seed 003's 82598).
 */
final class GroupStep extends TourStep {

    GroupStep() {
        super(2, "a device's IOMMU group and its companions (a multifunction controller)",
                "004 (Surveying the PCI architecture), 003 §3, 002");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        Kernel host = Walkthroughs.bootHost(in);
        TourShell sh = new TourShell(host, "host#");
        String members = log.run(sh, "ls /sys/bus/pci/devices/0000:00:1f.0/iommu_group/devices/");
        String group = log.run(sh, "readlink /sys/bus/pci/devices/0000:00:1f.0/iommu_group");
        log.expect(members.lines().toList().equals(List.of("0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3")),
                "00:1f.0 shares its group with 00:1f.2 and 00:1f.3: the three go to a guest together", members);
        log.expect(group.strip().matches("(\\.\\./)+kernel/iommu_groups/\\d+"),
                "the group is a directory of /sys/kernel/iommu_groups", group);
        String all = log.run(sh, "find /sys/kernel/iommu_groups/ -type l");
        String nic = log.run(sh, "ls /sys/bus/pci/devices/0000:00:05.0/iommu_group/devices/");
        log.expect(nic.lines().toList().equals(List.of("0000:00:05.0", "0000:00:05.1")),
                "the dual-port NIC's two functions share a group (no ACS between them)", nic);
        log.expect(all.lines().filter(l -> l.endsWith("/0000:00:07.0")).count() == 1
                        && all.lines().filter(l -> l.contains("/" + groupOf(all, "0000:00:07.0") + "/devices/")).count() == 1,
                "the edu in slot 7 is alone in its group (a single-function device on the root bus)", all);
        log.figure("step2-host", "Groups as boxes: 1f.0/1f.2/1f.3 and 05.0/05.1 each share one",
                Walkthroughs.report(host, "the tour's host"),
                Map.of("0000:00:1f.0", "asked about", "0000:00:05.0", "asked about"), List.of());
    }

    /** The group directory name of {@code bdf} in {@code find}'s output. */
    static String groupOf(String find, String bdf) {
        return find.lines().filter(l -> l.endsWith("/" + bdf)).findFirst()
                .map(l -> l.replaceAll(".*/iommu_groups/(\\d+)/devices/.*", "$1")).orElse("?");
    }
}
