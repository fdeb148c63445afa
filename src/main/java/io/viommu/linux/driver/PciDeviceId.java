package io.viommu.linux.driver;

/**
 * One {@code struct pci_device_id}: what a driver's id table or a dynamic id (new_id) matches.
 * Vendor/device/subsystem fields hold a 16-bit id or {@link #ANY}; a function matches when every
 * field matches and {@code (class ^ dev.class) & classMask == 0} ({@code pci_match_one_device}).
 *
 * @param overrideOnly matches only a device whose driver_override names the driver
 *                     ({@code PCI_DRIVER_OVERRIDE_DEVICE_VFIO}, vfio-pci's whole table)
 */
public record PciDeviceId(int vendor, int device, int subvendor, int subdevice, int classCode, int classMask,
                          long driverData, boolean overrideOnly) {
    /** PCI_ANY_ID, (~0) in a 32-bit field. */
    public static final int ANY = 0xffff_ffff;

    /** {@code PCI_DEVICE(vendor, device)}. */
    public static PciDeviceId device(int vendor, int device) {
        return new PciDeviceId(vendor, device, ANY, ANY, 0, 0, 0, false);
    }

    /** {@code PCI_DEVICE(vendor, device)} with driver_data. */
    public static PciDeviceId device(int vendor, int device, long driverData) {
        return new PciDeviceId(vendor, device, ANY, ANY, 0, 0, driverData, false);
    }

    /** {@code PCI_DEVICE_CLASS(class, mask)}. */
    public static PciDeviceId classMatch(int classCode, int mask) {
        return new PciDeviceId(ANY, ANY, ANY, ANY, classCode, mask, 0, false);
    }

    /** {@code PCI_DRIVER_OVERRIDE_DEVICE_VFIO(vendor, device)}. */
    public static PciDeviceId overrideOnly(int vendor, int device) {
        return new PciDeviceId(vendor, device, ANY, ANY, 0, 0, 0, true);
    }

    /** The identity a {@code struct pci_dev} presents to matching: 16-bit ids and the 24-bit class. */
    public record Identity(int vendor, int device, int subvendor, int subdevice, int classCode) {
    }

    /** {@code pci_match_one_device}. */
    public boolean matches(Identity d) {
        return (vendor == ANY || vendor == d.vendor())
                && (device == ANY || device == d.device())
                && (subvendor == ANY || subvendor == d.subvendor())
                && (subdevice == ANY || subdevice == d.subdevice())
                && ((classCode ^ d.classCode()) & classMask) == 0;
    }

    /** The end-of-table test of new_id's driver_data loop: vendor, subvendor and class_mask all 0. */
    boolean isTerminator() {
        return vendor == 0 && subvendor == 0 && classMask == 0;
    }
}
