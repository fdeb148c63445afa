package io.viommu.vtd;

import io.viommu.memory.Iova;
import io.viommu.pci.RequesterId;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Every invalidation the unit performs, whatever asked for it (a register write, a queued
 * descriptor, a direct call): first the translation core's own caches, then the
 * {@link InvalidationListener}s (the device-TLBs behind ATS, the interrupt entry cache, the
 * map/unmap notifier, whoever registered), in registration order.
 */
final class CacheInvalidation implements InvalidationQueue.Target {
    private final DmaRemapping core;
    private final List<InvalidationListener> listeners = new CopyOnWriteArrayList<>();
    private final VtdTrace trace;
    private AtsService ats;

    CacheInvalidation(DmaRemapping core, VtdTrace trace) {
        this.core = core;
        this.trace = trace;
    }

    void setAts(AtsService ats) {
        this.ats = ats;
    }

    void add(InvalidationListener l) {
        listeners.add(l);
    }

    void remove(InvalidationListener l) {
        listeners.remove(l);
    }

    /** SRTP, a TE change, reset or restore: every cache is emptied. */
    void cachesReset() {
        core.resetCaches();
        for (InvalidationListener l : listeners) {
            l.cachesReset();
        }
    }

    @Override
    public void contextGlobal() {
        if (trace.qemuEvents()) {
            trace.qemuEvent("vtd_inv_desc_cc_global", "context invalidate globally");
        }
        core.invalidateContextAll();
        for (InvalidationListener l : listeners) {
            l.contextCacheGlobal();
        }
    }

    @Override
    public void contextDevice(int sid, int fm) {
        core.invalidateContextDevice(sid & 0xffff, fm & 3);
        RequesterId device = new RequesterId(sid & 0xffff);
        for (InvalidationListener l : listeners) {
            l.contextCacheDevice(device, fm & 3);
        }
    }

    @Override
    public void iotlbGlobal() {
        if (trace.qemuEvents()) {
            trace.qemuEvent("vtd_inv_desc_iotlb_global", "iotlb invalidate global");
        }
        core.invalidateIotlbAll();
        for (InvalidationListener l : listeners) {
            l.iotlbGlobal();
        }
    }

    @Override
    public void iotlbDomain(int domainId) {
        core.invalidateIotlbDomain(domainId & 0xffff);
        for (InvalidationListener l : listeners) {
            l.iotlbDomain(domainId & 0xffff);
        }
    }

    @Override
    public void iotlbPages(int domainId, long addr, int am) {
        long page = addr & ~0xfffL;
        core.invalidateIotlbPages(domainId & 0xffff, page, am);
        Iova typed = new Iova(page);
        for (InvalidationListener l : listeners) {
            l.iotlbPages(domainId & 0xffff, typed, am);
        }
    }

    @Override
    public void deviceTlb(int sid, Iova addr, long size) {
        RequesterId device = new RequesterId(sid & 0xffff);
        for (InvalidationListener l : listeners) {
            l.deviceTlb(device, addr, size);
        }
    }

    @Override
    public void interruptEntryCache(boolean global, int index, int indexMask) {
        for (InvalidationListener l : listeners) {
            l.interruptEntryCache(global, index, indexMask);
        }
    }

    @Override
    public boolean pasidIotlb(long lo, long hi) {
        return core.pasidIotlbDescriptor(lo, hi);
    }

    @Override
    public boolean pasidCache(long lo) {
        return core.pasidCacheDescriptor(lo);
    }

    @Override
    public boolean pasidDeviceTlb(long lo, long hi) {
        return ats.pasidDeviceTlbDescriptor(lo, hi);
    }
}
