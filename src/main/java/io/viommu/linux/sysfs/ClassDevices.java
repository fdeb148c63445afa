package io.viommu.linux.sysfs;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Class devices a kernel subsystem registers below a PCI device (a net_device, a gendisk):
 * {@code /sys/devices/.../BDF/PATH} with read-only attributes, and the
 * {@code /sys/class/CLASS/NAME} link to it that tools (and {@code host scan}) follow to the PCI
 * function that owns it.
 */
public interface ClassDevices {
    /** One class device. */
    record Entry(String className, String name, String pciDevice, String path, Map<String, Supplier<String>> attributes) {
    }

    /** Changes whenever the entries or their attributes change (sysfs rebuilds its tree then). */
    long generation();

    List<Entry> classDevices();
}
