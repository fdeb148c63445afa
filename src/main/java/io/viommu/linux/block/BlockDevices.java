package io.viommu.linux.block;

import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.sysfs.ClassDevices;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The kernel's disks and what is mounted on them: a bound nvme controller adds its first
 * namespace as {@code nvmeNn1} (N: the lowest free controller instance, {@code nvme_instance_ida}),
 * a virtio-blk function bound to virtio-pci adds {@code vdX} ({@code virtblk_name_format}: vda,
 * vdb, ...); they leave when the driver lets go. {@code mount DEV DIR} records a mount (the file
 * system is not modelled); a planner reads {@link #disks()} to see which disk is in use.
 */
public final class BlockDevices implements DriverCore.BindingListener, ClassDevices {
    /** A disk and the PCI device behind it; {@code mountPoint} null when not mounted. */
    public record Disk(String name, String device, String driver, String mountPoint) {
    }

    private final Map<String, Disk> disks = new LinkedHashMap<>();
    private final BitSet nvmeInstances = new BitSet();
    private final BitSet vdIndexes = new BitSet();
    private long generation;

    @Override
    public void bound(PciDevice dev) {
        String drv = dev.driver().name();
        if (drv.equals("nvme") && !dev.isVirtfn()) { // an offline VF has no namespace
            int n = nvmeInstances.nextClearBit(0);
            nvmeInstances.set(n);
            add(new Disk("nvme" + n + "n1", dev.name(), drv, null));
        } else if (drv.equals("virtio-pci") && (dev.function().classCode() >> 8) == 0x0100) {
            int n = vdIndexes.nextClearBit(0);
            vdIndexes.set(n);
            add(new Disk("vd" + (char) ('a' + n), dev.name(), drv, null));
        }
    }

    private void add(Disk d) {
        disks.put(d.name(), d);
        generation++;
    }

    @Override
    public long generation() {
        return generation;
    }

    /**
     * /sys/class/block/NAME -> BDF/nvme/nvmeN/nvmeNn1 (nvme) or BDF/virtioN/block/vdX (virtio; N
     * counts disks here, not every virtio device), with {@code ro} and {@code removable}.
     */
    @Override
    public List<ClassDevices.Entry> classDevices() {
        List<ClassDevices.Entry> out = new ArrayList<>();
        for (Disk d : disks.values()) {
            String path = d.name().startsWith("nvme")
                    ? "nvme/" + d.name().substring(0, d.name().lastIndexOf('n')) + "/" + d.name()
                    : "virtio" + (d.name().charAt(2) - 'a') + "/block/" + d.name();
            out.add(new ClassDevices.Entry("block", d.name(), d.device(), path,
                    Map.of("ro", () -> "0", "removable", () -> "0")));
        }
        return out;
    }

    @Override
    public void unbinding(PciDevice dev) {
        generation++;
        disks.values().removeIf(d -> {
            if (!d.device().equals(dev.name())) {
                return false;
            }
            if (d.name().startsWith("nvme")) {
                nvmeInstances.clear(Integer.parseInt(d.name().substring(4, d.name().indexOf('n', 4))));
            } else {
                vdIndexes.clear(d.name().charAt(2) - 'a');
            }
            return true;
        });
    }

    public List<Disk> disks() {
        return new ArrayList<>(disks.values());
    }

    /** The disk behind {@code /dev/NAME}. */
    public Optional<Disk> byPath(String path) {
        String name = path.startsWith("/dev/") ? path.substring(5) : path;
        return Optional.ofNullable(disks.get(name));
    }

    /** {@code mount(2)}: -ENOENT without the device node, -EBUSY when it is mounted already. */
    public int mount(String devPath, String dir) {
        Optional<Disk> d = byPath(devPath);
        if (d.isEmpty() || !devPath.startsWith("/dev/")) {
            return Errno.ENOENT.negative();
        }
        if (d.get().mountPoint() != null) {
            return Errno.EBUSY.negative();
        }
        disks.put(d.get().name(), new Disk(d.get().name(), d.get().device(), d.get().driver(), dir));
        generation++;
        return 0;
    }
}
