/**
 * UIO with uio_pci_generic (Linux drivers/uio): a device handed to user space with its
 * registers, configuration space and INTx, and no DMA protection at all: see
 * {@link io.viommu.linux.uio.Uio}.
 */
package io.viommu.linux.uio;
