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
 * <p>Two forms, for the use asked (vmm.md §1-§4, qemu.md):
 * <ul>
 * <li>plain assignment ({@code --for qemu|libvirt}, the default): {@code -machine q35,accel=kvm}, {@code -m}
 *     and one {@code -device vfio-pci,host=BDF,id=hostdevN} per device asked (not the other members
 *     of its group: they only need to be off their host drivers, which the plan does; for {@code --vfs N}
 *     the VFs the plan creates). No vIOMMU: the VMM maps all guest RAM at its guest-physical address in
 *     the host's VFIO container once, and the guest's driver DMAs to guest-physical addresses. libvirt: one
 *     {@code <hostdev>} per device.</li>
 * <li>with a vIOMMU, when the guest hands the devices on through VFIO itself ({@code --for dpdk},
 *     {@code --guest-vfio}) or asks for virtio devices behind it ({@code --virtio}):
 *     {@code kernel-irqchip=split} on the machine (under KVM {@code intremap=on} is refused with the
 *     in-kernel I/O APIC, KVM's default), and {@code -device intel-iommu,intremap=on,caching-mode=on}
 *     before every other {@code -device}: a vfio-pci realized before it takes system memory for good and
 *     bypasses it (QEMU 7.2 says nothing); caching mode is what lets QEMU see each guest mapping and mirror
 *     it into the host's VFIO (without it 7.2 exits: "We need to set caching-mode=on ..."); interrupt
 *     remapping is what a guest needs to use VFIO itself without {@code allow_unsafe_interrupts}.</li>
 * <li>each virtio device asked: {@code device-iotlb=on} on the vIOMMU, a {@code pcie-root-port} of its own
 *     (ATS is added only to a device on a PCIe port), and {@code disable-legacy=on} (a transitional device
 *     refuses iommu_platform), {@code iommu_platform=on} (else its DMA bypasses the vIOMMU) and
 *     {@code ats=on}: virtio-net-pci on user networking, virtio-blk-pci on the image {@code --disk} names,
 *     virtio-rng-pci.</li>
 * </ul>
 * The libvirt form of the second says the same: {@code <ioapic driver='qemu'/>} (libvirt refuses intremap
 * without it), {@code <iommu model='intel'>} with {@code intremap caching_mode [iotlb]}, one
 * {@code <hostdev>} per device ({@code managed='yes'} only where libvirt's own detach of that one device
 * leaves a viable group), a virtio {@code <disk>} and {@code <interface>} with
 * {@code <driver iommu='on' ats='on'/>}, and {@code <memballoon model='virtio'>} with
 * {@code <driver iommu='on'/>} (libvirt adds a balloon to every domain, and without it the balloon's
 * rings bypass the vIOMMU). viommu's libvirt translator has no {@code <rng>}, so rng is QEMU-only.
 */
public final class ConfigEmit {
    /** Guest RAM when the host's size is unknown. */
    static final long DEFAULT_MEMORY = 1L << 30;

    /** The virtio devices {@code --virtio} can add, each behind the vIOMMU. */
    public enum Virtio {
        NET, BLK, RNG;

        /** {@code net}, {@code blk}, {@code rng}. */
        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * What to emit.
     *
     * @param memory    guest RAM in bytes ({@code -m}); 0: the default (see {@link #memoryFor})
     * @param guestVfio the guest hands the devices to VFIO itself (a nested VM, DPDK): emit the vIOMMU
     * @param virtio    virtio devices to add behind the vIOMMU (implies it)
     * @param disk      the image of the virtio-blk disk (with {@link Virtio#BLK}), as the VMM must name it
     */
    public record Options(long memory, boolean guestVfio, Set<Virtio> virtio, String disk) {
        public Options {
            virtio = virtio.isEmpty() ? Set.of() : java.util.EnumSet.copyOf(virtio);
        }
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
     * Whether the VM gets a vIOMMU: when its guest uses VFIO itself ({@code --for dpdk},
     * {@code --guest-vfio}) or virtio devices are to go through one.
     */
    public static boolean viommu(BindPlan plan, Options o) {
        return "dpdk".equals(plan.use()) || o.guestVfio() || !o.virtio().isEmpty();
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
        boolean viommu = viommu(plan, o);
        Set<Virtio> virtio = o.virtio();
        boolean iotlb = !virtio.isEmpty();
        long mem = o.memory() > 0 ? o.memory() : DEFAULT_MEMORY;
        List<String> q = new ArrayList<>();
        q.add("-machine");
        q.add(viommu ? "q35,accel=kvm,kernel-irqchip=split" : "q35,accel=kvm");
        q.add("-m");
        q.add(size(mem));
        if (viommu) {
            q.add("-device");
            q.add("intel-iommu,intremap=on,caching-mode=on" + (iotlb ? ",device-iotlb=on" : ""));
        }
        int port = 0;
        for (Virtio v : virtio) {
            String rp = "viommu-rp" + port;
            q.add("-device");
            q.add("pcie-root-port,id=" + rp + ",chassis=" + (port + 1));
            port++;
            String behind = "bus=" + rp + ",disable-legacy=on,iommu_platform=on,ats=on";
            switch (v) {
                case NET -> {
                    q.add("-netdev");
                    q.add("user,id=viommu-net0");
                    q.add("-device");
                    q.add("virtio-net-pci,netdev=viommu-net0," + behind);
                }
                case BLK -> {
                    q.add("-drive");
                    q.add("file=" + o.disk() + ",if=none,id=viommu-disk0,format=raw");
                    q.add("-device");
                    q.add("virtio-blk-pci,drive=viommu-disk0," + behind);
                }
                case RNG -> {
                    q.add("-device");
                    q.add("virtio-rng-pci," + behind);
                }
            }
        }
        for (int i = 0; i < devices.size(); i++) {
            q.add("-device");
            q.add("vfio-pci,host=" + devices.get(i) + ",id=hostdev" + i);
        }
        List<String> unmanaged = new ArrayList<>();
        String xml = libvirt(plan, devices, viommu, o, unmanaged);
        return new Config(List.copyOf(q), xml, notes(plan, devices, viommu, o, unmanaged));
    }

    private static String libvirt(BindPlan plan, List<String> devices, boolean viommu, Options o, List<String> unmanaged) {
        StringBuilder x = new StringBuilder();
        boolean iotlb = !o.virtio().isEmpty();
        if (viommu) {
            x.append("<features>\n  <ioapic driver='qemu'/>\n</features>\n");
        }
        x.append("<devices>\n");
        if (viommu) {
            x.append("  <iommu model='intel'>\n    <driver intremap='on' caching_mode='on'")
                    .append(iotlb ? " iotlb='on'" : "").append("/>\n  </iommu>\n");
        }
        if (o.virtio().contains(Virtio.BLK)) {
            x.append("  <disk type='file' device='disk'>\n    <driver name='qemu' type='raw' iommu='on' ats='on'/>\n")
                    .append("    <source file='").append(attr(o.disk())).append("'/>\n")
                    .append("    <target dev='vda' bus='virtio'/>\n  </disk>\n");
        }
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
        if (o.virtio().contains(Virtio.NET)) {
            x.append("  <interface type='user'>\n    <model type='virtio'/>\n    <driver iommu='on' ats='on'/>\n"
                    + "  </interface>\n");
        }
        if (viommu) {
            // libvirt adds a virtio balloon to every domain; without iommu='on' its rings bypass the vIOMMU
            x.append("  <memballoon model='virtio'>\n    <driver iommu='on'/>\n  </memballoon>\n");
        }
        x.append("</devices>\n");
        return x.toString();
    }

    private static List<String> notes(BindPlan plan, List<String> devices, boolean viommu, Options o,
                                      List<String> unmanaged) {
        List<String> notes = new ArrayList<>();
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
        if (!viommu) {
            notes.add("no vIOMMU: the VM's RAM is mapped for the devices once, at its guest-physical addresses, and the"
                    + " guest cannot hand a device on through VFIO (DPDK, a nested VM); for that give --for dpdk or"
                    + " --guest-vfio, which add the vIOMMU (intel-iommu with interrupt remapping and caching mode)");
            return List.copyOf(notes);
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
                        + " drivers, which the plan does), or leave out the vIOMMU");
            }
        });
        notes.add("the vIOMMU in caching mode makes every guest DMA mapping a trapped invalidation and a VFIO"
                + " MAP_DMA on the host: cheap for static mappings (DPDK, a nested VM), costly for a guest kernel driver"
                + " that maps per packet (see `viommu scenario nic-ring`)");
        if ("dpdk".equals(plan.use()) || o.guestVfio()) {
            notes.add("in the guest: intel_iommu=on on its kernel command line, " + ("dpdk".equals(plan.use())
                    ? "hugepages, " : "") + "and the devices bound to vfio-pci there (interrupt remapping is on, so"
                    + " no allow_unsafe_interrupts)");
        }
        return List.copyOf(notes);
    }

    /** An XML attribute value between single quotes. */
    private static String attr(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;");
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
