package io.viommu.linux;

/**
 * The build-time choices of the modelled kernel that change what the IOMMU stack does at boot.
 *
 * <p>{@link #DEBIAN_6_1} is the kernel of the captures in ../shared/fixtures/linux: Debian's
 * linux-image-6.1.0-56-amd64 (6.1.192-2). Its config (read from the matching
 * linux-headers-6.1.0-56-amd64 package's .config) says:
 * <pre>
 *  # CONFIG_INTEL_IOMMU_DEFAULT_ON is not set
 *  CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y   (Debian's patch: VT-d on by default, integrated
 *                                                Intel GPU excluded; dmar_disabled = 0)
 *  # CONFIG_INTEL_IOMMU_DEFAULT_OFF is not set
 *  CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON=y
 *  CONFIG_INTEL_IOMMU_FLOPPY_WA=y
 *  CONFIG_IOMMU_DEFAULT_DMA_LAZY=y               (iommu_dma_strict = false)
 *  # CONFIG_IOMMU_DEFAULT_PASSTHROUGH is not set
 *  CONFIG_IRQ_REMAP=y, CONFIG_PCI_IOV=y, CONFIG_INTEL_IOMMU_SVM=y
 * </pre>
 * So on this kernel the VT-d driver runs without {@code intel_iommu=on}; the option only adds
 * the "DMAR: IOMMU enabled" line. Every capture used intel_iommu=on, so the default-on path is
 * taken from the config, not from a capture.
 *
 * @param intelIommuDefaultOn   dmar_disabled starts 0
 * @param scalableModeDefaultOn intel_iommu_sm starts 1
 * @param dmaStrictDefault      iommu_dma_strict starts true (CONFIG_IOMMU_DEFAULT_DMA_STRICT)
 * @param passthroughDefault    CONFIG_IOMMU_DEFAULT_PASSTHROUGH
 */
public record KernelConfig(boolean intelIommuDefaultOn, boolean scalableModeDefaultOn,
                           boolean dmaStrictDefault, boolean passthroughDefault) {
    public static final KernelConfig DEBIAN_6_1 = new KernelConfig(true, true, false, false);
}
