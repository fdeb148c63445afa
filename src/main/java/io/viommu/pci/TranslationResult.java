package io.viommu.pci;

/** What an IOMMU answers for a {@link DmaRequest}: a translation, or a fault. */
public sealed interface TranslationResult permits Translation, DmaFault {
}
