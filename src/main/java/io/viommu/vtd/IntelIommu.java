package io.viommu.vtd;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Mmio;
import io.viommu.pci.DmaRemapper;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.MsiSink;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;

/**
 * One Intel VT-d remapping unit: its 4 KiB register block (an {@link Mmio} mapped at
 * {@link #DEFAULT_BASE} on q35) and the DMA-remapping path for the devices it covers.
 * PLACEHOLDER: the VT-d implementation replaces this file; today it translates nothing.
 */
public final class IntelIommu implements Mmio, DmaRemapper {
    public static final long DEFAULT_BASE = 0xFED9_0000L;
    public static final int REGISTER_BLOCK_SIZE = 0x1000;

    private final VtdConfig config;

    /**
     * @param config  the unit's options
     * @param memory  the platform's physical address space: root/context/page tables,
     *                invalidation queue and wait-descriptor status writes live here
     * @param msi     where fault-event and invalidation-completion interrupts are sent
     */
    public IntelIommu(VtdConfig config, AddressSpace memory, MsiSink msi) {
        this.config = config;
    }

    public VtdConfig config() {
        return config;
    }

    @Override
    public long load(long offset, int size) {
        return 0;
    }

    @Override
    public void store(long offset, long value, int size) {
    }

    @Override
    public TranslationResult translate(DmaRequest request) {
        return Translation.identity(request.iova(), 4096, true, true);
    }
}
