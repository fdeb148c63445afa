package io.viommu.linux.iommu;

import io.viommu.memory.PhysAddr;
import java.util.ArrayList;
import java.util.List;

/**
 * struct iommu_dma_cookie of a DMA domain (drivers/iommu/dma-iommu.c, 6.1): the domain's IOVA
 * allocator and, for DMA-FQ domains, the lazy-invalidation flush queues.
 *
 * <p>Flush queue: per CPU a ring of {@value #FQ_SIZE} slots (one is always empty, so 255
 * entries), each an IOVA range plus the page-table pages its unmap freed and the value of the
 * flush-start counter when it was queued. An entry may be reused only after a flush that
 * started after it was queued has finished. queue_iova frees what is already flushed, flushes
 * the whole domain when the ring is full, and arms a {@value #FQ_TIMEOUT_MS} ms timer that
 * flushes the domain and drains every CPU's ring.
 */
final class DmaCookie {
    static final int FQ_SIZE = 256;     // IOVA_FQ_SIZE
    static final int FQ_TIMEOUT_MS = 10; // IOVA_FQ_TIMEOUT

    private static final class Entry {
        long pfn;
        long pages;
        long counter;
        List<PhysAddr> freelist = List.of();
    }

    private static final class FlushQueue {
        final Entry[] entries = new Entry[FQ_SIZE];
        int head;
        int tail;

        FlushQueue() {
            for (int i = 0; i < FQ_SIZE; i++) {
                entries[i] = new Entry();
            }
        }

        boolean full() {
            return (tail + 1) % FQ_SIZE == head;
        }

        int size() {
            return (tail - head + FQ_SIZE) % FQ_SIZE;
        }
    }

    final DmarDomain domain;
    final IovaDomain iovad;
    private final IommuCounters.Tally tally;
    private final FlushQueue[] fq; // null for strict domains
    private long flushStartCnt;
    private long flushFinishCnt;
    private final VirtualClock.Timer timer;
    private boolean timerOn;

    DmaCookie(DmarDomain domain, int cpus, boolean lazy, VirtualClock clock, IommuCounters.Tally tally) {
        this.domain = domain;
        this.tally = tally;
        this.iovad = new IovaDomain(1, cpus);
        if (lazy) {
            fq = new FlushQueue[Math.max(1, cpus)];
            for (int i = 0; i < fq.length; i++) {
                fq[i] = new FlushQueue();
            }
            timer = clock.timer(this::flushTimeout);
        } else {
            fq = null;
            timer = null;
        }
    }

    boolean lazy() {
        return fq != null;
    }

    /** queue_iova on {@code cpu}. */
    void queue(int cpu, long pfn, long pages, List<PhysAddr> freelist) {
        FlushQueue q = fq[cpu % fq.length];
        ringFree(cpu, q);
        if (q.full()) {
            flushIotlb();
            ringFree(cpu, q);
        }
        Entry e = q.entries[q.tail];
        q.tail = (q.tail + 1) % FQ_SIZE;
        e.pfn = pfn;
        e.pages = pages;
        e.counter = flushStartCnt;
        e.freelist = freelist.isEmpty() ? List.of() : new ArrayList<>(freelist);
        if (!timerOn) {
            timerOn = true;
            timer.arm(FQ_TIMEOUT_MS * 1_000_000L);
        }
    }

    /** fq_ring_free: releases the entries a finished flush covers, oldest first. */
    private void ringFree(int cpu, FlushQueue q) {
        long counter = flushFinishCnt;
        while (q.head != q.tail) {
            Entry e = q.entries[q.head];
            if (e.counter >= counter) {
                break;
            }
            if (!e.freelist.isEmpty()) {
                domain.freePages(new ArrayList<>(e.freelist));
                e.freelist = List.of();
            }
            iovad.freeFast(cpu, e.pfn, e.pages);
            q.head = (q.head + 1) % FQ_SIZE;
        }
    }

    /** fq_flush_iotlb: one domain-selective flush for everything queued so far. */
    private void flushIotlb() {
        flushStartCnt++;
        domain.flushIotlbAll();
        tally.flushQueueFlushes++;
        flushFinishCnt++;
    }

    /** fq_flush_timeout (runs on CPU 0 of the model). */
    private void flushTimeout() {
        timerOn = false;
        flushIotlb();
        for (int c = 0; c < fq.length; c++) {
            ringFree(c, fq[c]);
        }
    }

    /** Entries waiting on {@code cpu}'s ring. */
    int queued(int cpu) {
        return fq == null ? 0 : fq[cpu % fq.length].size();
    }

    boolean timerPending() {
        return timer != null && timer.pending();
    }
}
