package io.viommu.vtd;

/**
 * Receives an interrupt that interrupt remapping has resolved from an IRTE: the fields of the
 * interrupt message QEMU builds with {@code x86_iommu_irq_to_msi_message}, as primitives so the
 * remapping path allocates nothing.
 */
@FunctionalInterface
public interface InterruptTarget {
    /**
     * @param vector         IRTE.V
     * @param destination    APIC id: 32 bits with IRTA.EIME, else 8 bits (IRTE bits 47:40)
     * @param logical        IRTE.DM
     * @param deliveryMode   IRTE.DLM (0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT)
     * @param levelTriggered IRTE.TM
     * @param redirectionHint IRTE.RH
     * @param sourceId       requester id of the interrupt request
     * @param index          interrupt index that was used
     */
    void remapped(int vector, int destination, boolean logical, int deliveryMode, boolean levelTriggered,
                  boolean redirectionHint, int sourceId, int index);
}
