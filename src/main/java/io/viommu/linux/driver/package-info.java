/**
 * The kernel model's PCI driver core (Linux 6.1 drivers/base, drivers/pci): the devices the
 * kernel enumerated ({@link io.viommu.linux.driver.PciDevice}), drivers with id tables, dynamic
 * ids and probe rules ({@link io.viommu.linux.driver.PciDriver}, {@link io.viommu.linux.driver.Drivers}),
 * "module loading", binding with Linux's errnos, SR-IOV enable/disable through the PF's
 * configuration space, reset methods, and IOMMU group DMA ownership, all in
 * {@link io.viommu.linux.driver.DriverCore}.
 *
 * <p>The driver core is a component of {@code io.viommu.linux.Kernel}, which builds it during boot
 * ({@code Kernel.boot(machine).drivers()}). The IOMMU group assignment is not computed here: it
 * comes through {@link io.viommu.linux.driver.IommuGroupView}, which the kernel implements over its
 * {@code io.viommu.linux.iommu.IommuGroups} (Linux's pci_device_group); devices the driver core adds or
 * removes later (SR-IOV VFs) are announced through that view. Messages go to the kernel's one
 * {@link io.viommu.linux.driver.KernelLog}. Operations follow the kernel's return convention
 * (0 or -errno); see {@link io.viommu.linux.driver.Errno}.
 */
package io.viommu.linux.driver;
