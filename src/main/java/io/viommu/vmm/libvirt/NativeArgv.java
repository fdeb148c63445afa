package io.viommu.vmm.libvirt;

import io.viommu.vmm.libvirt.Domain.Disk;
import io.viommu.vmm.libvirt.Domain.Hostdev;
import io.viommu.vmm.libvirt.Domain.Net;
import io.viommu.vmm.libvirt.PciPlacement.Place;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The argv libvirt 9.0's qemu driver builds (qemuBuildCommandLine) with Debian 12's QEMU 7.2,
 * whose capabilities make every device a JSON {@code -device} (QEMU_CAPS_DEVICE_JSON). Options
 * come in qemuBuildCommandLine's order: name, -S, the master key secret, machine, accel, cpu,
 * memory, smp, uuid, display, monitor, clock, -no-acpi, boot, the IOMMU, PCI controllers, the
 * USB controller, disks, network interfaces, audiodev, hostdevs, the balloon, sandbox, msg.
 * JSON keys follow libvirt's builders (qemuBuildVirtioDevGetConfig puts iommu_platform and ats
 * right after the driver).
 *
 * <p>Host-specific parts take the values {@code virsh domxml-to-native} prints: domain id -1 in
 * the per-domain directory, the monitor socket path. Interfaces are written as a real start
 * writes them ({@code type='user'} is {@code -netdev '{"type":"user",...}'}, {@code type='network'}
 * and {@code 'bridge'} a {@code -netdev '{"type":"tap","fd":"N",...}'} with the tap libvirt opened,
 * the device's iommu_platform/ats kept); domxml-to-native instead rewrites every interface to a
 * tap with a file descriptor and drops {@code <driver iommu= ats=>}.
 */
final class NativeArgv {
    /** The PATH libvirtd's environment gives QEMU under systemd (host-specific: tests normalise it). */
    static final String PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /**
     * The first tap descriptor: what domxml-to-native prints for a {@code type='qemu'} domain on an
     * idle libvirtd (the numbers are libvirtd's open descriptors: host-specific, 25 to 31 in the
     * captures); interface i gets {@code TAP_FD + i}.
     */
    static final int TAP_FD = 25;

    private NativeArgv() {
    }

    /**
     * The domain's directory: virDomainDefGetShortName cuts the name to 20 characters
     * (VIR_DOMAIN_SHORT_NAME_MAX), and domxml-to-native's domain id is -1.
     */
    static String dir(Domain d) {
        String name = d.name();
        int cut = name.offsetByCodePoints(0, Math.min(20, name.codePointCount(0, name.length())));
        return "/var/lib/libvirt/qemu/domain--1-" + name.substring(0, cut);
    }

    static List<String> build(Domain d) {
        Layout layout = layout(d);
        List<String> a = new ArrayList<>();
        add(a, "-name", "guest=" + d.name() + ",debug-threads=on");
        a.add("-S");
        add(a, "-object", json("qom-type", "secret", "id", "masterKey0", "format", "raw",
                "file", dir(d) + "/master-key.aes"));
        String irq = d.ioapic() == null ? "" : d.ioapic().equals("qemu") ? ",kernel_irqchip=split" : ",kernel_irqchip=on";
        add(a, "-machine", d.machine() + ",usb=off" + irq + ",dump-guest-core=off,memory-backend=pc.ram");
        add(a, "-accel", d.kvm() ? "kvm" : "tcg");
        add(a, "-cpu", d.cpuHost() == null ? "qemu64" : "host,migratable=" + d.cpuHost());
        long mib = (d.memoryKiB() + 1023) / 1024;
        add(a, "-m", Long.toString(mib));
        add(a, "-object", json("qom-type", "memory-backend-ram", "id", "pc.ram", "size", mib << 20));
        add(a, "-overcommit", "mem-lock=off");
        add(a, "-smp", d.vcpus() + ",sockets=" + d.vcpus() + ",cores=1,threads=1");
        add(a, "-uuid", d.uuid());
        add(a, "-display", "none");
        a.add("-no-user-config");
        a.add("-nodefaults");
        add(a, "-chardev", "socket,id=charmonitor,path=" + dir(d) + "/monitor.sock,server=on,wait=off");
        add(a, "-mon", "chardev=charmonitor,id=monitor,mode=control");
        add(a, "-rtc", "base=utc");
        a.add("-no-shutdown");
        if (!d.acpi()) {
            a.add("-no-acpi");
        }
        add(a, "-boot", "strict=on");
        d.iommu().ifPresent(i -> add(a, "-device", iommu(i)));
        for (PciPlacement.RootPort p : layout.result.rootPorts()) {
            List<Object> kv = new ArrayList<>(List.of("driver", "pcie-root-port", "port", p.port(),
                    "chassis", p.chassis(), "id", "pci." + p.index(), "bus", p.place().busName()));
            if (p.place().multifunction()) {
                kv.addAll(List.of("multifunction", true));
            }
            kv.addAll(List.of("addr", p.place().addr()));
            add(a, "-device", json(kv.toArray()));
        }
        if (d.usb()) {
            Place p = layout.place("usb");
            add(a, "-device", json("driver", "qemu-xhci", "id", "usb", "bus", p.busName(), "addr", p.addr()));
        }
        int bootDisk = d.bootDevs().contains("hd") ? d.bootDevs().indexOf("hd") + 1 : 0;
        for (int i = 0; i < d.disks().size(); i++) {
            Disk k = d.disks().get(i);
            int node = d.disks().size() - i; // libvirt numbers node names from the last disk
            String storage = "libvirt-" + node + "-storage";
            String format = "libvirt-" + node + "-format";
            add(a, "-blockdev", json("driver", "file", "filename", k.file(), "node-name", storage,
                    "auto-read-only", true, "discard", "unmap"));
            add(a, "-blockdev", json("node-name", format, "read-only", false, "driver", k.format(), "file", storage));
            Place p = layout.place("disk" + i);
            List<Object> kv = virtio("virtio-blk-pci", k.iommu(), k.ats());
            kv.addAll(List.of("bus", p.busName(), "addr", p.addr(), "drive", format, "id", "virtio-disk" + targetIndex(k.target())));
            if (i == 0 && bootDisk > 0) {
                kv.addAll(List.of("bootindex", bootDisk));
            }
            add(a, "-device", json(kv.toArray()));
        }
        int bootNet = d.bootDevs().contains("network") ? d.bootDevs().indexOf("network") + 1 : 0;
        for (int i = 0; i < d.nets().size(); i++) {
            Net n = d.nets().get(i);
            add(a, "-netdev", n.type().equals("user") ? json("type", "user", "id", "hostnet" + i)
                    : json("type", "tap", "fd", Integer.toString(TAP_FD + i), "id", "hostnet" + i));
            String driver = n.model().equals("virtio") ? "virtio-net-pci" : n.model();
            List<Object> kv = n.model().equals("virtio") ? virtio(driver, n.iommu(), n.ats())
                    : new ArrayList<>(List.of("driver", driver));
            kv.addAll(List.of("netdev", "hostnet" + i, "id", "net" + i, "mac", n.mac()));
            if (i == 0 && bootNet > 0) {
                kv.addAll(List.of("bootindex", bootNet));
            }
            Place p = layout.place("net" + i);
            kv.addAll(List.of("bus", p.busName(), "addr", p.addr()));
            add(a, "-device", json(kv.toArray()));
        }
        add(a, "-audiodev", json("id", "audio1", "driver", "none"));
        for (int i = 0; i < d.hostdevs().size(); i++) {
            Hostdev h = d.hostdevs().get(i);
            Place p = layout.place("hostdev" + i);
            List<Object> kv = new ArrayList<>(List.of("driver", "vfio-pci", "host", h.source().bdf(), "id", "hostdev" + i,
                    "bus", p.busName()));
            if (p.multifunction()) {
                kv.addAll(List.of("multifunction", true));
            }
            kv.addAll(List.of("addr", p.addr()));
            add(a, "-device", json(kv.toArray()));
        }
        if (d.balloon() != null) {
            Place p = layout.place("balloon");
            List<Object> kv = virtio("virtio-balloon-pci", d.balloon().iommu(), d.balloon().ats());
            kv.addAll(List.of("id", "balloon0", "bus", p.busName(), "addr", p.addr()));
            add(a, "-device", json(kv.toArray()));
        }
        add(a, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
        add(a, "-msg", "timestamp=on");
        return a;
    }

    /** The line virsh prints: environment, binary, arguments quoted as virBufferEscapeShell does. */
    static String line(Domain d) {
        String dir = dir(d);
        StringBuilder b = new StringBuilder("LC_ALL=C PATH=" + PATH + " HOME=" + dir + " XDG_DATA_HOME=" + dir
                + "/.local/share XDG_CACHE_HOME=" + dir + "/.cache XDG_CONFIG_HOME=" + dir + "/.config ");
        b.append(shellQuote(d.emulator()));
        for (String arg : build(d)) {
            b.append(' ').append(shellQuote(arg));
        }
        return b.toString();
    }

    /** virBufferEscapeShell: single quotes only around a string with shell metacharacters. */
    static String shellQuote(String s) {
        if (s.isEmpty()) {
            return "''";
        }
        boolean meta = false;
        for (char c : s.toCharArray()) {
            if ("\r\t\n !\"#$&'()*;<>?[\\]^`{|}~".indexOf(c) >= 0) {
                meta = true;
                break;
            }
        }
        return meta ? "'" + s.replace("'", "'\\''") + "'" : s;
    }

    static int targetIndex(String target) {
        // virDiskNameToIndex: vda -> 0, vdb -> 1, ..., vdaa -> 26
        String s = target.replaceFirst("^(vd|sd|hd|xvd)", "");
        int idx = 0;
        for (char c : s.toCharArray()) {
            idx = idx * 26 + (c - 'a' + 1);
        }
        return idx - 1;
    }

    private static List<Object> virtio(String driver, Boolean iommu, Boolean ats) {
        List<Object> kv = new ArrayList<>(List.of("driver", driver));
        if (iommu != null) {
            kv.addAll(List.of("iommu_platform", iommu));
        }
        if (ats != null) {
            kv.addAll(List.of("ats", ats));
        }
        return kv;
    }

    private static String iommu(Domain.Iommu i) {
        List<Object> kv = new ArrayList<>(List.of("driver", "intel-iommu", "id", "iommu0"));
        if (i.intremap() != null) {
            kv.addAll(List.of("intremap", i.intremap() ? "on" : "off"));
        }
        if (i.cachingMode() != null) {
            kv.addAll(List.of("caching-mode", i.cachingMode()));
        }
        if (i.eim() != null) {
            kv.addAll(List.of("eim", i.eim() ? "on" : "off"));
        }
        if (i.iotlb() != null) {
            kv.addAll(List.of("device-iotlb", i.iotlb()));
        }
        if (i.awBits() != null) {
            kv.addAll(List.of("aw-bits", i.awBits()));
        }
        return json(kv.toArray());
    }

    private static void add(List<String> a, String opt, String arg) {
        a.add(opt);
        a.add(arg);
    }

    /** A JSON object from key, value pairs in order (strings quoted, numbers and booleans bare). */
    static String json(Object... kv) {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < kv.length; i += 2) {
            if (i > 0) {
                b.append(',');
            }
            b.append(quote(kv[i].toString())).append(':');
            Object v = kv[i + 1];
            b.append(v instanceof String s ? quote(s) : v.toString());
        }
        return b.append('}').toString();
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    /** The placement of every device of the domain. */
    private record Layout(PciPlacement.Result result) {
        Place place(String key) {
            return result.devices().get(key);
        }
    }

    static Layout layout(Domain d) {
        try {
            return new Layout(PciPlacement.assign(d.controllers(), wants(d)));
        } catch (LibvirtException e) {
            throw new IllegalStateException("placement was checked when the domain was parsed", e);
        }
    }

    /** Runs the placement once, so that {@link LibvirtDomain#parse} refuses what libvirt refuses. */
    static void check(Domain d) throws LibvirtException {
        PciPlacement.assign(d.controllers(), wants(d));
    }

    /** The devices wanting a PCI address, in qemuDomainAssignDevicePCISlots order. */
    private static List<PciPlacement.Want> wants(Domain d) {
        List<PciPlacement.Want> wants = new ArrayList<>();
        for (int i = 0; i < d.nets().size(); i++) {
            wants.add(new PciPlacement.Want("net" + i, d.nets().get(i).guestAddress()));
        }
        if (d.usb()) {
            wants.add(new PciPlacement.Want("usb", java.util.Optional.empty()));
        }
        for (int i = 0; i < d.disks().size(); i++) {
            wants.add(new PciPlacement.Want("disk" + i, d.disks().get(i).guestAddress()));
        }
        for (int i = 0; i < d.hostdevs().size(); i++) {
            wants.add(new PciPlacement.Want("hostdev" + i, d.hostdevs().get(i).guestAddress()));
        }
        if (d.balloon() != null) {
            wants.add(new PciPlacement.Want("balloon", d.balloon().guestAddress()));
        }
        return wants;
    }

    static Map<String, Place> places(Domain d) {
        return layout(d).result().devices();
    }
}
