/**
 * UIO with uio_pci_generic (Linux drivers/uio): a device handed to user space with its
 * registers, configuration space and INTx, and no DMA protection at all: see
 * {@link io.viommu.linux.uio.Uio}, present as {@code Kernel.uio()} once the uio module
 * is loaded (by {@code modprobe uio_pci_generic}).
 */
package io.viommu.linux.uio;
