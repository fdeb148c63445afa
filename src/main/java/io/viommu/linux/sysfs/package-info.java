/**
 * sysfs over the kernel model: {@link io.viommu.linux.sysfs.SysfsTree} is a path-addressed,
 * in-memory /sys (PCI devices, drivers, IOMMU groups) whose reads return Linux 6.1's text byte
 * for byte and whose writes return the errno Linux returns, checked in Linux's order; it can be
 * exported to a directory of real files and symlinks with the real layout.
 */
package io.viommu.linux.sysfs;
