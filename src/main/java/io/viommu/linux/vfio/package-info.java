/**
 * VFIO of the kernel model (Linux 6.1 drivers/vfio: vfio_main.c, group.c, container.c,
 * vfio_iommu_type1.c, pci/vfio_pci_core.c; include/uapi/linux/vfio.h) as a Java API that mirrors
 * the character devices and ioctls, failing with the errnos Linux returns
 * ({@link io.viommu.linux.vfio.VfioException} carrying the driver core's
 * {@link io.viommu.linux.driver.Errno}).
 *
 * <p>It is part of the kernel: {@code Kernel.boot(machine).vfio()} is present once the vfio module
 * is loaded ({@code drivers().loadModule("vfio-pci")} loads it with vfio_iommu_type1), as
 * /dev/vfio appears on Linux.
 *
 * <ul>
 * <li>{@link io.viommu.linux.vfio.Vfio}: the module, its parameters (read from the driver core's
 *     module parameters), the groups and /dev/vfio ({@link io.viommu.linux.vfio.DevNode}),
 *     no-IOMMU mode and its taint.</li>
 * <li>{@link io.viommu.linux.vfio.VfioContainer}, {@link io.viommu.linux.vfio.VfioGroup},
 *     {@link io.viommu.linux.vfio.VfioDevice}: the three kinds of file and their ioctls.</li>
 * <li>{@code Type1Iommu}: type1's mapping table and rules; it maps through a
 *     {@link io.viommu.linux.vfio.Type1Backend} (the IOMMU layer's unmanaged domains),
 *     implemented by {@link io.viommu.linux.vfio.IommuApiBackend} over the kernel's intel-iommu
 *     driver ({@code io.viommu.linux.iommu}), which programs
 *     legacy VT-d tables through the unit's registers.</li>
 * <li>{@link io.viommu.linux.vfio.UserProcess} and {@link io.viommu.linux.vfio.PageFrames}: user
 *     memory backed by frames of the machine's RAM ({@code Kernel.userMemory()}), pinned and charged to RLIMIT_MEMLOCK by
 *     MAP_DMA; so a device's DMA through a mapping lands in the process's memory.</li>
 * </ul>
 */
package io.viommu.linux.vfio;
