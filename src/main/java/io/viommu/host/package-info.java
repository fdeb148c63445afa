/**
 * Operator tooling over a real host (DESIGN.md layer 7, above the kernel model): reads a host's
 * /sys, /proc and firmware tables, or a saved tree of them, through one narrow seam
 * ({@link io.viommu.host.HostFiles}), and reports what can be assigned with vfio-pci
 * ({@code viommu host scan}, {@code viommu host snapshot}). Not part of the guest-kernel model
 * in {@code io.viommu.linux}, whose decoders (DMAR, ACS) it reuses.
 */
package io.viommu.host;
