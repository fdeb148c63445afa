/**
 * The VMM (DESIGN.md layer 6): a user-space process of a host kernel model that builds a VM — a
 * machine whose RAM is the process's memory — gives it host devices through the host's VFIO
 * ({@code -device vfio-pci}), and mirrors the VM's vIOMMU mappings into the host IOMMU.
 * Above {@code linux}, below {@code host} and {@code cli}.
 */
package io.viommu.vmm;
