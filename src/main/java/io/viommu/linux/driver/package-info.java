/**
 * The kernel model's PCI driver core (Linux 6.1 drivers/base, drivers/pci): the devices the
 * kernel enumerated ({@link io.viommu.linux.driver.PciDevice}), drivers with id tables, dynamic
 * ids and probe rules ({@link io.viommu.linux.driver.PciDriver}, {@link io.viommu.linux.driver.Drivers}),
 * "module loading", binding with Linux's errnos, SR-IOV enable/disable through the PF's
 * configuration space, reset methods, and IOMMU group DMA ownership, all in
 * {@link io.viommu.linux.driver.DriverCore}.
 *
 * <p>The IOMMU group assignment is not computed here: it comes through
 * {@link io.viommu.linux.driver.IommuGroupView}, which the group code implements
 * ({@link io.viommu.linux.driver.StaticGroupView} is a stand-in with a given assignment).
 * Operations follow the kernel's return convention (0 or -errno); see
 * {@link io.viommu.linux.driver.Errno}.
 */
package io.viommu.linux.driver;
