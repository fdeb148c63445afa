/**
 * The Linux kernel model, part one: a Linux 6.1 guest booting on a {@link io.viommu.machine.Machine}.
 *
 * <p>{@link io.viommu.linux.Kernel#boot} is the one boot path: kernel command line
 * ({@link io.viommu.linux.KernelCommandLine}, defaults from {@link io.viommu.linux.KernelConfig}),
 * the DMAR table ({@link io.viommu.linux.acpi.DmarTable}), PCI enumeration with ACS enabled
 * ({@link io.viommu.linux.driver.AcsCheck}) and the driver core's scan
 * ({@link io.viommu.linux.driver.DriverCore}, {@code kernel.drivers()}), the intel-iommu driver's
 * init lines from the unit's real registers, IOMMU groups ({@link io.viommu.linux.iommu.IommuGroups}:
 * pci_device_group with DMA aliases from {@link io.viommu.linux.driver.DmaAliases}; the driver core sees
 * them through {@code KernelGroupView}, also for VFs added later), the built-in pcieport binding,
 * and sysfs ({@link io.viommu.linux.sysfs.SysfsTree}, {@code kernel.sysfs()}); one
 * {@link io.viommu.linux.driver.KernelLog} holds every message. {@link io.viommu.linux.BootReport} prints it in
 * the format of the real-Linux captures in ../shared/fixtures/linux, which the tests hold it to.
 *
 * <p>Layering: imports memory, pci, vtd and machine, and its own sub-packages driver and sysfs
 * (which never import it); never cli.
 */
package io.viommu.linux;
