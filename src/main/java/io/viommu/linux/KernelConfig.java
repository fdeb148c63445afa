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
 * @param release               what {@code uname -r} prints (/proc/sys/kernel/osrelease)
 */
public record KernelConfig(boolean intelIommuDefaultOn, boolean scalableModeDefaultOn,
                           boolean dmaStrictDefault, boolean passthroughDefault, String release) {
    public static final KernelConfig DEBIAN_6_1 = new KernelConfig(true, true, false, false, "6.1.0-56-amd64");

    /**
     * The IOMMU, VFIO and KVM lines of this kernel's .config (as Debian ships it in
     * /boot/config-RELEASE). VT-d on by default is written as Debian's
     * CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF, the only way a modelled kernel gets it; the
     * options that do not change the model are Debian 6.1's values.
     */
    public String dotConfig() {
        StringBuilder sb = new StringBuilder();
        line(sb, "CONFIG_IOMMU_SUPPORT", "y");
        line(sb, "CONFIG_IOMMU_API", "y");
        line(sb, "CONFIG_INTEL_IOMMU", "y");
        line(sb, "CONFIG_INTEL_IOMMU_DEFAULT_ON", null);
        line(sb, "CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF", intelIommuDefaultOn ? "y" : null);
        line(sb, "CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON", scalableModeDefaultOn ? "y" : null);
        line(sb, "CONFIG_INTEL_IOMMU_FLOPPY_WA", "y");
        line(sb, "CONFIG_AMD_IOMMU", "y");
        line(sb, "CONFIG_VIRTIO_IOMMU", "m");
        line(sb, "CONFIG_IRQ_REMAP", "y");
        line(sb, "CONFIG_IOMMU_DEFAULT_DMA_STRICT", dmaStrictDefault && !passthroughDefault ? "y" : null);
        line(sb, "CONFIG_IOMMU_DEFAULT_DMA_LAZY", !dmaStrictDefault && !passthroughDefault ? "y" : null);
        line(sb, "CONFIG_IOMMU_DEFAULT_PASSTHROUGH", passthroughDefault ? "y" : null);
        line(sb, "CONFIG_PCI_IOV", "y");
        line(sb, "CONFIG_PCI_STUB", "m");
        line(sb, "CONFIG_VFIO", "m");
        line(sb, "CONFIG_VFIO_IOMMU_TYPE1", "m");
        line(sb, "CONFIG_VFIO_NOIOMMU", "y");
        line(sb, "CONFIG_VFIO_PCI", "m");
        line(sb, "CONFIG_KVM", "m");
        line(sb, "CONFIG_KVM_INTEL", "m");
        line(sb, "CONFIG_KVM_AMD", "m");
        return sb.toString();
    }

    private static void line(StringBuilder sb, String key, String value) {
        sb.append(value == null ? "# " + key + " is not set" : key + "=" + value).append('\n');
    }
}
