/**
 * The Linux kernel model, part one: a Linux 6.1 guest booting on a {@link io.viommu.machine.Machine}.
 *
 * <p>{@link io.viommu.linux.Kernel#boot} runs the IOMMU-relevant part of boot: kernel command line
 * ({@link io.viommu.linux.KernelCommandLine}, defaults from {@link io.viommu.linux.KernelConfig}),
 * the DMAR table ({@link io.viommu.linux.DmarTable}), PCI enumeration with ACS enabled
 * ({@link io.viommu.linux.AcsCheck}), the intel-iommu driver's init lines from the unit's real
 * registers, and IOMMU groups ({@link io.viommu.linux.IommuGroups}: pci_device_group with DMA
 * aliases from {@link io.viommu.linux.DmaAliases}). {@link io.viommu.linux.BootReport} prints it in
 * the format of the real-Linux captures in ../shared/fixtures/linux, which the tests hold it to.
 *
 * <p>Layering: imports memory, pci, vtd and machine; never cli.
 */
package io.viommu.linux;
