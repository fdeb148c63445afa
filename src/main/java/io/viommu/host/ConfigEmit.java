package io.viommu.host;

import io.viommu.host.BindPlan.Member;
import io.viommu.host.BindPlan.Target;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code viommu host plan --emit qemu|libvirt}: the VM configuration that goes with a ready plan,
 * as QEMU 7.2 arguments (one a line, shell-quoted where needed) or as the libvirt 9.0 elements.
 *
 * <p>What is emitted, and why (vmm.md §1-§4, qemu.md):
 * <ul>
 * <li>{@code -machine q35,accel=kvm,kernel-irqchip=split}: intel-iommu is q35's only; under KVM
 *     {@code intremap=on} is refused with the in-kernel I/O APIC ({@code kernel-irqchip=on}, KVM's
 *     default), so the I/O APIC goes to QEMU ({@code split}).</li>
 * <li>{@code -device intel-iommu,intremap=on,caching-mode=on} before every other {@code -device}: a
 *     vfio-pci realized before it takes system memory for good and bypasses it (QEMU 7.2 says nothing);
 *     caching mode is what lets QEMU see each guest mapping and mirror it into the host's VFIO (without
 *     it 7.2 exits: "We need to set caching-mode=on ..."); interrupt remapping is what a guest needs to
 *     use VFIO itself (DPDK, nested assignment) without {@code allow_unsafe_interrupts}.</li>
 * <li>{@code -device vfio-pci,host=BDF,id=hostdevN} for each device asked (not the other members of its
 *     group: they only need to be off their host drivers, which the plan does); for {@code --vfs N} the
 *     VFs the plan creates.</li>
 * <li>with a virtio NIC: {@code device-iotlb=on} on the vIOMMU, a {@code pcie-root-port} (ATS is added
 *     only to a device on a PCIe port), and {@code virtio-net-pci} with {@code disable-legacy=on} (a
 *     transitional device refuses iommu_platform), {@code iommu_platform=on} (else its DMA bypasses the
 *     vIOMMU) and {@code ats=on}.</li>
 * </ul>
 * The libvirt form says the same: {@code <ioapic driver='qemu'/>} (libvirt refuses intremap without
 * it), {@code <iommu model='intel'>} with {@code intremap caching_mode [iotlb]}, one {@code <hostdev>}
 * per device ({@code managed='yes'} only where libvirt's own detach of that one device leaves a viable
 * group), and {@code <memballoon model='virtio'>} with {@code <driver iommu='on'/>} (libvirt adds a balloon to
 * every domain, and without it the balloon's rings bypass the vIOMMU).
 */
public final class ConfigEmit {
    /** Guest RAM when the host's size is unknown. */
    static final long DEFAULT_MEMORY = 1L << 30;

    /**
     * What to emit.
     *
     * @param memory     guest RAM in bytes ({@code -m}); 0: a quarter of the host's RAM (see {@link #memoryFor})
     * @param virtioNet  add a virtio-net NIC whose DMA goes through the vIOMMU
     */
    public record Options(long memory, boolean virtioNet) {
    }

    /**
     * The configuration: {@code qemu} the arguments in order, {@code libvirt} the XML elements,
     * {@code notes} what the person must know that is not in them (said on stderr).
     */
    public record Config(List<String> qemu, String libvirt, List<String> notes) {
    }

    private ConfigEmit() {
    }

    /** The devices the VM gets: each device asked for, or the VFs a {@code --vfs} plan creates. */
    public static List<String> assigned(BindPlan plan) {
        Set<String> out = new LinkedHashSet<>();
        for (Target t : plan.targets()) {
            if (t.device() == null) {
                continue;
            }
            if (plan.vfs() != null && plan.vfs() > 0) {
                t.members().stream().filter(m -> m.action().startsWith("create")).map(Member::address).forEach(out::add);
            } else {
                out.add(t.device());
            }
        }
        return List.copyOf(out);
    }

    /**
     * Guest RAM for a host with {@code hostRam} bytes (0: unknown): a quarter of it, a power of two
     * between 128 MiB and 4 GiB, so that the VM's pinned RAM (VFIO pins all of it) fits beside the host.
     */
    public static long memoryFor(long hostRam) {
        if (hostRam <= 0) {
            return DEFAULT_MEMORY;
        }
        long m = Long.highestOneBit(Math.max(hostRam / 4, 1));
        return Math.max(128L << 20, Math.min(4L << 30, m));
    }

    /** The host's RAM from /proc/meminfo (MemTotal), 0 when it cannot be read. */
    public static long hostRam(HostFiles fs) {
        for (String l : fs.read(Path.of("/proc/meminfo")).orElse("").split("\n")) {
            if (l.startsWith("MemTotal:")) {
                String[] w = l.trim().split("\\s+");
                if (w.length >= 2 && w[1].matches("\\d{1,15}")) {
                    return Long.parseLong(w[1]) * 1024;
                }
            }
        }
        return 0;
    }

    /** The configuration for a ready plan. */
    public static Config of(BindPlan plan, Options o) {
        List<String> devices = assigned(plan);
        List<String> notes = new ArrayList<>();
        long mem = o.memory() > 0 ? o.memory() : DEFAULT_MEMORY;
        List<String> q = new ArrayList<>();
        q.add("-machine");
        q.add("q35,accel=kvm,kernel-irqchip=split");
        q.add("-m");
        q.add(size(mem));
        q.add("-device");
        q.add("intel-iommu,intremap=on,caching-mode=on" + (o.virtioNet() ? ",device-iotlb=on" : ""));
        if (o.virtioNet()) {
            q.add("-device");
            q.add("pcie-root-port,id=viommu-rp0,chassis=1");
            q.add("-netdev");
            q.add("user,id=viommu-net0");
            q.add("-device");
            q.add("virtio-net-pci,netdev=viommu-net0,bus=viommu-rp0,disable-legacy=on,iommu_platform=on,ats=on");
        }
        for (int i = 0; i < devices.size(); i++) {
            q.add("-device");
            q.add("vfio-pci,host=" + devices.get(i) + ",id=hostdev" + i);
        }
        StringBuilder x = new StringBuilder();
        x.append("<features>\n  <ioapic driver='qemu'/>\n</features>\n<devices>\n");
        x.append("  <iommu model='intel'>\n    <driver intremap='on' caching_mode='on'")
                .append(o.virtioNet() ? " iotlb='on'" : "").append("/>\n  </iommu>\n");
        List<String> unmanaged = new ArrayList<>();
        for (String d : devices) {
            boolean managed = managedOk(plan, d);
            if (!managed) {
                unmanaged.add(d);
            }
            PciAddress a = PciAddress.parse(d).orElseThrow();
            x.append("  <hostdev mode='subsystem' type='pci' managed='").append(managed ? "yes" : "no").append("'>\n")
                    .append("    <driver name='vfio'/>\n    <source>\n")
                    .append(String.format(Locale.ROOT, "      <address domain='0x%04x' bus='0x%02x' slot='0x%02x'"
                            + " function='0x%x'/>%n", a.segment(), a.bus(), a.device(), a.function()))
                    .append("    </source>\n  </hostdev>\n");
        }
        if (o.virtioNet()) {
            x.append("  <interface type='user'>\n    <model type='virtio'/>\n    <driver iommu='on' ats='on'/>\n"
                    + "  </interface>\n");
        }
        // libvirt adds a virtio balloon to every domain; without iommu='on' its rings bypass the vIOMMU
        x.append("  <memballoon model='virtio'>\n    <driver iommu='on'/>\n  </memballoon>\n");
        x.append("</devices>\n");
        if (!plan.steps().isEmpty()) {
            notes.add("the host must hand the devices to vfio-pci before the VM starts: viommu host apply "
                    + String.join(" ", plan.requested()) + (plan.force() ? " --force" : "")
                    + (plan.vfs() == null ? "" : " --vfs " + plan.vfs()) + " --yes (the commands are above)");
        }
        if (!unmanaged.isEmpty()) {
            notes.add("libvirt: managed='no' for " + String.join(", ", unmanaged) + ": libvirt's managed='yes' detaches"
                    + " only the <hostdev> device itself, and "
                    + (plan.vfs() != null ? "the VFs exist only once the plan created them" : "its IOMMU group has other"
                    + " functions that must leave their drivers too (QEMU would say the group is not viable)")
                    + "; apply the plan first");
        }
        java.util.Map<Integer, List<String>> byGroup = new java.util.TreeMap<>();
        for (Target t : plan.targets()) {
            if (t.group() != null && devices.contains(t.device())) {
                byGroup.computeIfAbsent(t.group(), k -> new ArrayList<>()).add(t.device());
            }
        }
        byGroup.forEach((g, ds) -> {
            if (ds.size() > 1) {
                notes.add("warning: " + String.join(" and ", ds) + " share IOMMU group " + g + ": behind the vIOMMU"
                        + " each device has an address space of its own and QEMU 7.2 refuses the second (\"group " + g
                        + " used in multiple address spaces\"); give the VM one of them (the others only leave their"
                        + " drivers, which the plan does)");
            }
        });
        notes.add("the vIOMMU in caching mode makes every guest DMA mapping a trapped invalidation and a VFIO"
                + " MAP_DMA on the host: cheap for static mappings (DPDK, a nested VM), costly for a guest kernel driver"
                + " that maps per packet (see `viommu scenario nic-ring`)");
        if ("dpdk".equals(plan.use())) {
            notes.add("in the guest: intel_iommu=on on its kernel command line, hugepages, and the devices bound to"
                    + " vfio-pci there (interrupt remapping is on, so no allow_unsafe_interrupts)");
        }
        return new Config(List.copyOf(q), x.toString(), List.copyOf(notes));
    }

    /**
     * managed='yes' is right when libvirt detaching that one device leaves its group viable: every
     * other endpoint of the group already on vfio-pci (or none), and no VF to create first.
     */
    private static boolean managedOk(BindPlan plan, String device) {
        if (plan.vfs() != null) {
            return false;
        }
        for (Target t : plan.targets()) {
            if (device.equals(t.device())) {
                return t.members().stream().filter(m -> !m.address().equals(device))
                        .allMatch(m -> "vfio-pci".equals(m.driver()));
            }
        }
        return false;
    }

    /** {@code -m}: the size in the largest unit that divides it (QEMU's suffixes). */
    static String size(long bytes) {
        if (bytes % (1L << 30) == 0) {
            return (bytes >> 30) + "G";
        }
        if (bytes % (1L << 20) == 0) {
            return (bytes >> 20) + "M";
        }
        return (bytes >> 10) + "K";
    }

    /** One argument as a POSIX shell needs it: unchanged when safe, else in single quotes. */
    public static String shellQuote(String arg) {
        if (!arg.isEmpty() && arg.matches("[A-Za-z0-9_@%+=:,./-]+")) {
            return arg;
        }
        return "'" + arg.replace("'", "'\\''") + "'";
    }
}
