package io.viommu.host;

import java.util.List;

/**
 * The result of {@code viommu host plan}: what handing devices to vfio-pci takes on one host, the
 * obstacles with their fixes, and the sysfs steps {@code host apply} performs. Written as PLAN.json
 * ({@link #SCHEMA}) by {@code --json}; apply reads it back and refuses it on another host
 * ({@link #host}) or on a host whose state differs from what the plan saw ({@link Step#before}).
 *
 * @param use         what the devices are for: "qemu", "libvirt" or "dpdk"
 * @param requested   the DEVICE arguments as given
 * @param hostFindings obstacles of the host as a whole (IOMMU off, no interrupt remapping, no VFIO)
 * @param steps       what apply writes, in order; empty when the plan is refused
 * @param commands    the same steps as a person would type them, in order
 * @param persistence ways to make the binding survive a reboot: offered, never done
 * @param ready       no blocker: apply may proceed
 */
public record BindPlan(String schema, HostIdentity host, String source, String use, boolean force, Integer vfs,
                       List<String> requested, List<Target> targets, List<Finding> hostFindings, List<Step> steps,
                       List<String> commands, List<String> persistence, boolean ready) {
    public static final String SCHEMA = "viommu.host-plan/1";

    /** How much a finding stops: a BLOCKER stops apply; the rest are said and left to the person. */
    public enum Severity { BLOCKER, ACTION, WARNING, INFO }

    /** One obstacle or fact, and what to do about it ("" when nothing is to be done). */
    public record Finding(Severity severity, String what, String fix) {
    }

    /**
     * One requested device and its IOMMU group.
     *
     * @param given    the DEVICE argument it came from (a BDF, vendor:device or interface name)
     * @param members  every function that must leave its driver with it, itself first (bridges excluded)
     * @param bridges  bridges and ports of the group, which stay with the host
     */
    public record Target(String device, String given, String description, Integer group, List<Member> members,
                         List<String> bridges, List<Finding> findings) {
    }

    /**
     * @param driver   bound now (null: none)
     * @param action   what apply does: "bind vfio-pci", "already vfio-pci", "create", "stays (PF)"
     * @param uses     what the host uses it for now: interfaces with state and routes, disks with mounts
     */
    public record Member(String address, String id, String description, String driver, String action, List<String> uses) {
    }

    /**
     * One change. {@code op}: "modprobe" (value: the module), "write" (value written to path),
     * "unbind" (the device's driver/unbind), "probe" (drivers_probe). {@code before} is what the
     * plan saw (a file's contents, the bound driver or "none", the loaded modules); {@code expect}
     * is what reading back must show afterwards, in the same terms.
     */
    public record Step(int n, String op, String device, String path, String value, String before, String expect,
                       String command) {
    }
}
