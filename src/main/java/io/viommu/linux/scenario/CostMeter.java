package io.viommu.linux.scenario;

import io.viommu.linux.iommu.IntelIommuDriver;
import io.viommu.linux.iommu.IommuCounters;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.InvalidationListener;
import io.viommu.vtd.notify.IommuEvent;
import io.viommu.vtd.notify.MappingListener;

/**
 * Tallies what a scenario run costs, from three places: the calls the scenario's drivers make
 * (maps and unmaps), the invalidations the VT-d unit itself processed (so the count does not
 * depend on which software issued them), and the guest IOMMU driver's own counters
 * (descriptors, waits, register accesses). As a {@link MappingListener} it is also the
 * shadowing consumer QEMU's vfio listener would be: every event is a host IOMMU update.
 */
final class CostMeter implements InvalidationListener, MappingListener {
    private final IntelIommuDriver driver; // null: no guest IOMMU driver runs
    long maps;
    long unmaps;
    private long iotlbPage;
    private long iotlbDomain;
    private long iotlbGlobal;
    private long context;
    private long events;
    private long pagesMapped;
    private long pagesUnmapped;

    CostMeter(IntelIommuDriver driver) {
        this.driver = driver;
    }

    NicRingCost snapshot() {
        IommuCounters c = driver == null ? null : driver.counters();
        return new NicRingCost(maps, unmaps, iotlbPage, iotlbDomain, iotlbGlobal, context,
                c == null ? 0 : c.descriptors(), c == null ? 0 : c.waitDescriptors(),
                c == null ? 0 : c.mmioAccesses(), c == null ? 0 : c.flushQueueFlushes(),
                events, pagesMapped, pagesUnmapped);
    }

    // ---- the unit's invalidations (InvalidationListener) ----

    @Override
    public void contextCacheGlobal() {
        context++;
    }

    @Override
    public void contextCacheDevice(RequesterId sid, int fm) {
        context++;
    }

    @Override
    public void iotlbGlobal() {
        iotlbGlobal++;
    }

    @Override
    public void iotlbDomain(int domainId) {
        iotlbDomain++;
    }

    @Override
    public void iotlbPages(int domainId, Iova addr, int am) {
        iotlbPage++;
    }

    // ---- the shadow's events (MappingListener): what QEMU programs into the host IOMMU ----

    @Override
    public void onEvent(IommuEvent event) {
        events++;
        long pages = event.range().size() >>> Page.SHIFT;
        switch (event) {
            case IommuEvent.Map m -> pagesMapped += pages;
            case IommuEvent.Unmap u -> pagesUnmapped += pages;
            case IommuEvent.Replace r -> {
                // QEMU's vfio listener has no atomic replace: it unmaps, then maps
                pagesUnmapped += pages;
                pagesMapped += pages;
            }
        }
    }
}
