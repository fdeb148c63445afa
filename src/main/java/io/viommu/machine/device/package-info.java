/**
 * The device models of the q35 machine (Firecracker's {@code devices}): QEMU's edu, the PCIe
 * ports and bridges, the NICs, virtio and NVMe endpoints, the board's MCH and ICH9 functions,
 * fw_cfg and the local APICs. They only emulate: they know neither the platform that holds
 * them ({@code io.viommu.machine}) nor the command line that asked for them
 * ({@code io.viommu.machine.config}); ArchitectureTest checks it.
 */
package io.viommu.machine.device;
