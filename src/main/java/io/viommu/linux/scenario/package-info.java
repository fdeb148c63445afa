/**
 * Scenarios run on the model: a guest booted from a QEMU-like command line, the kernel model's
 * drivers doing what Linux does, and the cost of it counted where a real machine pays it
 * (invalidations, descriptors, VM exits, the host IOMMU updates QEMU's caching-mode shadowing
 * makes).
 *
 * <p>{@link io.viommu.linux.scenario.NicRingScenario}: a NIC (edu) receiving into a ring of DMA
 * buffers, with per-packet DMA-API mappings (strict, lazy, with and without caching mode) and
 * with static DPDK-style mappings made once through VFIO; see docs/nic-ring-scenario.md.
 */
package io.viommu.linux.scenario;
