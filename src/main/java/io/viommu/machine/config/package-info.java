/**
 * The wiring (Firecracker's {@code device_manager} and builder): a QEMU 7.2 command line parsed
 * with QEMU's rules and error texts ({@link io.viommu.machine.config.QemuCommandLine}), the
 * {@code -device} catalog and its property checks ({@code DeviceCatalog}, {@code Nvme}), and
 * {@link io.viommu.machine.config.MachineBuilder}, which builds a {@link io.viommu.machine.Machine}
 * from them: the platform and the device models know nothing of command lines.
 */
package io.viommu.machine.config;
