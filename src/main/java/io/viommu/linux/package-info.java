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
 * <p>Layering: imports memory, pci, vtd and machine, and its own sub-packages, which form a DAG
 * below it and never import it:
 * <pre>
 *   linux  (Kernel, its command line and config, the group view, the DMA ops)
 *    +-- uio --> vfio --> iommu --> acpi, driver
 *    +-- sysfs --> driver
 * </pre>
 * {@code driver} is the PCI core (devices, drivers, ACS and DMA-alias rules), {@code acpi} the
 * kernel's reading of the DMAR table, {@code iommu} the IOMMU core (groups, domain types, the
 * reserved-region rule) and the intel-iommu driver, which sees the kernel through
 * {@link io.viommu.linux.iommu.IommuKernel} and the VT-d unit only through its registers at the
 * DRHD base. Never host or cli (arch/ArchitectureTest checks the layers and the DAG).
 */
package io.viommu.linux;
