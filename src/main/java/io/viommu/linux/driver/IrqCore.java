package io.viommu.linux.driver;

import java.util.function.BooleanSupplier;

/**
 * The kernel's interrupt core as a PCI driver sees it (kernel/irq, drivers/pci/msi,
 * arch/x86/kernel/apic): the device's legacy line ({@code pdev->irq}), {@code request_irq} /
 * {@code free_irq} on it, and MSI vectors ({@code pci_alloc_irq_vectors(PCI_IRQ_MSI)}, which
 * program the device's MSI capability, through interrupt remapping when the kernel enabled it).
 * Handlers run when the boot CPU takes interrupts (no CPU runs in the model: see the kernel's
 * {@code takeInterrupts}).
 */
public interface IrqCore {
    /** {@code pdev->irq}: the GSI {@code acpi_pci_irq_enable} routed the device's pin to, 0 without a pin. */
    int legacyIrq(PciDevice dev);

    /**
     * {@code request_irq(irq, handler, IRQF_SHARED, ...)} on a level-triggered I/O APIC line:
     * while the line is asserted the CPU runs every handler of the line when it takes
     * interrupts; a handler returns whether it handled (IRQ_HANDLED). {@code owner} identifies
     * the action for {@link #freeLine}.
     */
    void requestLine(int irq, Object owner, BooleanSupplier handler);

    /** {@code free_irq(irq, owner)}. */
    void freeLine(int irq, Object owner);

    /**
     * {@code pci_alloc_irq_vectors(dev, 1, nvec, PCI_IRQ_MSI)}: vectors allocated and the MSI
     * capability programmed and enabled; returns how many (fewer than {@code nvec} when the
     * device offers fewer: the caller frees them and reports the number), or a negative errno.
     */
    int allocMsiVectors(PciDevice dev, int nvec);

    /**
     * {@code pci_alloc_irq_vectors(dev, 1, nvec, PCI_IRQ_MSIX)}: the MSI-X capability enabled
     * with the function mask, every table entry masked, the first {@code nvec} entries given a
     * message (an IRTE each under interrupt remapping), the function mask cleared; returns how
     * many (at most the table size), or a negative errno. A vector's entry is unmasked by
     * {@link #requestMsi} and masked again by {@link #freeMsi}.
     */
    int allocMsixVectors(PciDevice dev, int nvec);

    /** {@code request_irq(pci_irq_vector(dev, index), handler, 0, ...)}: -EINVAL without such a vector. */
    int requestMsi(PciDevice dev, int index, Runnable handler);

    /** {@code free_irq(pci_irq_vector(dev, index), ...)}. */
    void freeMsi(PciDevice dev, int index);

    /**
     * The CPU vector behind MSI vector {@code index} of {@code dev} (what {@code irqd_cfg(irq)->vector}
     * holds, shown under /sys/kernel/debug/irq), or -1 without one.
     */
    int msiCpuVector(PciDevice dev, int index);

    /** {@code pci_free_irq_vectors(dev)}: the MSI capability disabled, vectors (and IRTEs) released. */
    void freeMsiVectors(PciDevice dev);
}
