package io.viommu.linux;

import io.viommu.linux.driver.DmaOps;
import io.viommu.linux.iommu.DmaApi;
import io.viommu.linux.iommu.DmaDirection;
import io.viommu.linux.iommu.GuestPages;
import io.viommu.linux.iommu.IntelIommuDriver;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.RequesterId;

/**
 * The kernel's DMA API as the driver core's drivers see it ({@link DmaOps}): {@link DmaApi#of}
 * (iommu-dma for a device whose group has a DMA or DMA-FQ domain; dma-direct with
 * intel_iommu=off, iommu=pt or no IOMMU) and pages from the intel-iommu driver's allocator, or,
 * without that driver, from an allocator over the same kernel page region (16..80 MiB).
 */
final class KernelDma implements DmaOps {
    private final Kernel kernel;
    private DmaApi api;
    private GuestPages pages;

    KernelDma(Kernel kernel) {
        this.kernel = kernel;
    }

    /** One instance for the kernel's life: dma-direct keeps its masks in it. */
    private DmaApi api() {
        if (api == null) {
            api = DmaApi.of(kernel.iommuDriver());
        }
        return api;
    }

    private GuestPages pages() {
        if (pages == null) {
            IntelIommuDriver d = kernel.iommuDriver();
            pages = d != null ? d.pages() : GuestPages.forRam(kernel.machine().memory(), kernel.machine().ramSize());
        }
        return pages;
    }

    private static DmaDirection dir(Direction d) {
        return switch (d) {
            case BIDIRECTIONAL -> DmaDirection.BIDIRECTIONAL;
            case TO_DEVICE -> DmaDirection.TO_DEVICE;
            case FROM_DEVICE -> DmaDirection.FROM_DEVICE;
        };
    }

    @Override
    public int setMask(RequesterId dev, long mask) {
        api().setDmaMask(dev, mask); // x86-64 supports any mask of 32 bits or more
        return 0;
    }

    @Override
    public long allocPages(int n) {
        PhysAddr p = pages().allocateContiguous(n);
        return p == null ? -1 : p.value();
    }

    @Override
    public void freePages(long phys, int n) {
        for (int i = 0; i < n; i++) {
            pages().free(new PhysAddr(phys + i * Page.SIZE));
        }
    }

    @Override
    public long map(RequesterId dev, long phys, long size, Direction d) {
        Iova iova = api().mapSingle(dev, new PhysAddr(phys), size, dir(d));
        return DmaApi.isError(iova) ? MAPPING_ERROR : iova.value();
    }

    @Override
    public void unmap(RequesterId dev, long dma, long size, Direction d) {
        api().unmapSingle(dev, new Iova(dma), size, dir(d));
    }
}
