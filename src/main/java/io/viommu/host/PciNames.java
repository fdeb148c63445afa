package io.viommu.host;

import java.util.Map;

/**
 * Short human names for PCI class codes (PCI Code and ID Assignment spec 1.11) and for the devices
 * this project meets most (virtio, QEMU's models). Not a pci.ids replacement: unknown ids fall back
 * to the class name.
 */
final class PciNames {
    private static final Map<Integer, String> SUBCLASSES = Map.ofEntries(
            Map.entry(0x0100, "SCSI controller"), Map.entry(0x0101, "IDE controller"),
            Map.entry(0x0106, "SATA controller"), Map.entry(0x0107, "SAS controller"),
            Map.entry(0x0108, "NVMe controller"), Map.entry(0x0180, "mass storage controller"),
            Map.entry(0x0200, "Ethernet controller"), Map.entry(0x0207, "InfiniBand controller"),
            Map.entry(0x0280, "network controller"), Map.entry(0x0300, "VGA controller"),
            Map.entry(0x0302, "3D controller"), Map.entry(0x0380, "display controller"),
            Map.entry(0x0401, "audio device"), Map.entry(0x0403, "audio device (HDA)"),
            Map.entry(0x0500, "RAM controller"), Map.entry(0x0580, "memory controller"),
            Map.entry(0x0700, "serial controller"), Map.entry(0x0400, "video device"), Map.entry(0x0600, "host bridge"), Map.entry(0x0601, "ISA bridge"),
            Map.entry(0x0604, "PCI bridge"), Map.entry(0x0609, "semi-transparent PCI bridge"),
            Map.entry(0x0680, "bridge"), Map.entry(0x0780, "communication controller"),
            Map.entry(0x0800, "interrupt controller"), Map.entry(0x0805, "SD host controller"),
            Map.entry(0x0806, "IOMMU"), Map.entry(0x0880, "system peripheral"),
            Map.entry(0x0c03, "USB controller"), Map.entry(0x0c05, "SMBus controller"),
            Map.entry(0x0c80, "serial bus controller"), Map.entry(0x1080, "encryption controller"),
            Map.entry(0x1180, "signal processing controller"), Map.entry(0x1200, "processing accelerator"),
            Map.entry(0xff00, "unassigned class"));

    /** virtio 1.0+ modern device ids are 0x1040 + virtio device type (virtio spec 1.2 section 4.1.2.1). */
    private static final Map<Integer, String> VIRTIO = Map.ofEntries(
            Map.entry(1, "virtio-net"), Map.entry(2, "virtio-blk"), Map.entry(3, "virtio-console"),
            Map.entry(4, "virtio-rng"), Map.entry(5, "virtio-balloon"), Map.entry(8, "virtio-scsi"),
            Map.entry(9, "virtio-9p"), Map.entry(16, "virtio-gpu"), Map.entry(18, "virtio-input"),
            Map.entry(19, "virtio-vsock"), Map.entry(23, "virtio-iommu"), Map.entry(24, "virtio-mem"),
            Map.entry(26, "virtio-fs"), Map.entry(27, "virtio-pmem"));

    private static final Map<Integer, String> DEVICES = Map.of(
            0x8086_10d3, "Intel 82574L (e1000e)", 0x8086_100e, "Intel 82540EM (e1000)",
            0x8086_10c9, "Intel 82576 (igb PF)", 0x8086_10ca, "Intel 82576 VF (igbvf)",
            0x1234_1111, "QEMU std VGA", 0x1234_11e8, "QEMU edu", 0x1b36_0010, "QEMU NVMe",
            0x8086_29c0, "Intel q35 host bridge", 0x1b36_000e, "QEMU PCIe-to-PCI bridge",
            0x1b36_000c, "QEMU PCIe root port");

    private PciNames() {
    }

    static String className(int classCode) {
        String n = SUBCLASSES.get((classCode >> 8) & 0xffff);
        if (n == null && (classCode >> 16 & 0xff) == 0xff) {
            n = "unassigned class"; // base class 0xff: "device does not fit any defined class"
        }
        return n != null ? n : String.format("class %04x", (classCode >> 8) & 0xffff);
    }

    static String describe(int vendor, int device, int classCode) {
        String known = DEVICES.get((vendor & 0xffff) << 16 | (device & 0xffff));
        if (known != null) {
            return known + ", " + className(classCode);
        }
        if ((vendor & 0xffff) == 0x1af4) {
            int d = device & 0xffff;
            String v = d >= 0x1040 && d <= 0x107f ? VIRTIO.get(d - 0x1040)
                    : d >= 0x1000 && d <= 0x103f ? "virtio (transitional " + String.format("%04x", d) + ")" : null;
            if (v != null) {
                return v + ", " + className(classCode);
            }
        }
        return className(classCode);
    }
}
