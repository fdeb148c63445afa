package io.viommu.linux.iommu;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.device.EduDevice;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.PciFunction;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** dma_map_* / dma_unmap_* end to end: PTEs in RAM, a device's DMA through the unit, invalidations. */
class DmaApiTest {

    @Test
    void strictMapLetsTheDeviceReadTheBufferAndUnmapMakesItFault() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", Guest.NO_CM, "edu");
        EduDevice edu = g.edu();
        RequesterId rid = edu.address();
        DmaApi dma = g.dma();
        dma.setDmaMask(rid, EduDevice.DEFAULT_DMA_MASK); // edu clamps to 28 bits
        PhysAddr buf = g.buffer(0x5a);

        Iova iova = dma.mapSingle(rid, buf, 4096, DmaDirection.TO_DEVICE);
        assertThat(iova).isEqualTo(Iova.of(0x0fff_f000L)); // top-down below the mask
        var ok = g.eduReadFromRam(edu, iova, 64);
        assertThat(ok.ok()).isTrue();
        assertThat(edu.state().buffer[0]).isEqualTo((byte) 0x5a);
        assertThat(g.machine.iommu().iotlbContains(rid, iova)).isTrue();

        IommuCounters before = g.counters();
        dma.unmapSingle(rid, iova, 4096, DmaDirection.TO_DEVICE);
        IommuCounters d = g.counters().minus(before);
        assertThat(d.iotlbPage()).isEqualTo(1);
        assertThat(d.waitDescriptors()).isEqualTo(1);
        assertThat(d.mmioWrites()).isEqualTo(1); // the IQT write
        assertThat(g.machine.iommu().iotlbContains(rid, iova)).isFalse();

        edu.state().buffer[0] = 0;
        var denied = g.eduReadFromRam(edu, iova, 64);
        assertThat(denied.fault()).isNotNull();
        assertThat(edu.state().buffer[0]).isZero();
    }

    @Test
    void aToDeviceMappingIsReadOnlyForTheDevice() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", Guest.NO_CM, "edu");
        PciFunction edu = g.device("edu");
        PhysAddr buf = g.buffer(0x11);
        Iova iova = g.dma().mapSingle(edu.address(), buf, 4096, DmaDirection.TO_DEVICE);
        var w = g.deviceWrite(edu, iova, new byte[] {1, 2, 3});
        assertThat(w.fault()).isNotNull();
        assertThat(w.fault().reason()).isEqualTo(5); // write not permitted
        assertThat(g.ram(buf.value(), 1)).isEqualTo(0x11);
    }

    @Test
    void anUnalignedBufferKeepsItsOffsetInTheDmaAddress() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", Guest.NO_CM, "edu");
        PciFunction edu = g.device("edu");
        PhysAddr page = g.buffer(0);
        g.machine.memory().write(page.value() + 0x234, 0xcafe, 2);
        Iova iova = g.dma().mapSingle(edu.address(), page.checkedAdd(0x234), 100, DmaDirection.BIDIRECTIONAL);
        assertThat(iova.value() & 0xfff).isEqualTo(0x234);
        byte[] got = new byte[2];
        assertThat(g.deviceRead(edu, iova, got).ok()).isTrue();
        assertThat((got[0] & 0xff) | (got[1] & 0xff) << 8).isEqualTo(0xcafe);
    }

    @Test
    void lazyUnmapLeavesAStaleIotlbEntryUntilTheFlushQueueTimerFires() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu"); // Debian default: lazy, DMA-FQ
        PciFunction edu = g.device("edu");
        RequesterId rid = edu.address();
        DmaApi dma = g.dma();
        PhysAddr buf = g.buffer(0);
        Iova iova = dma.mapSingle(rid, buf, 4096, DmaDirection.FROM_DEVICE);
        assertThat(g.deviceWrite(edu, iova, new byte[] {1}).ok()).isTrue(); // fills the IOTLB

        IommuCounters before = g.counters();
        dma.unmapSingle(rid, iova, 4096, DmaDirection.FROM_DEVICE);
        assertThat(g.counters().minus(before).iotlbInvalidations()).isZero();
        assertThat(dma.flushQueueLength(rid)).isEqualTo(1);

        // The window: the PTE is gone but the IOTLB still holds it, so the device still writes
        // into the buffer the driver believes it took back.
        assertThat(g.deviceWrite(edu, iova, new byte[] {(byte) 0xee}).ok()).isTrue();
        assertThat(g.ram(buf.value(), 1)).isEqualTo(0xee);
        // and the IOVA is not handed out again while it is queued
        Iova other = dma.mapSingle(rid, g.buffer(0), 4096, DmaDirection.FROM_DEVICE);
        assertThat(other).isNotEqualTo(iova);

        g.driver().clock().advanceMillis(9);
        assertThat(g.counters().flushQueueFlushes()).isZero();
        g.driver().clock().advanceMillis(1); // IOVA_FQ_TIMEOUT: 10 ms
        IommuCounters d = g.counters().minus(before);
        assertThat(d.flushQueueFlushes()).isEqualTo(1);
        assertThat(d.iotlbDomain()).isEqualTo(1);
        assertThat(dma.flushQueueLength(rid)).isZero();
        g.machine.memory().write(buf.value(), 0, 1);
        var late = g.deviceWrite(edu, iova, new byte[] {(byte) 0x77});
        assertThat(late.fault()).isNotNull();
        assertThat(g.ram(buf.value(), 1)).isZero();
    }

    @Test
    void aFullFlushQueueFlushesTheDomainOnceEvery255Unmaps() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu");
        RequesterId rid = g.device("edu").address();
        DmaApi dma = g.dma();
        PhysAddr buf = g.buffer(0);
        IommuCounters before = g.counters();
        for (int i = 0; i < 255; i++) {
            Iova iova = dma.mapSingle(rid, buf, 4096, DmaDirection.TO_DEVICE);
            dma.unmapSingle(rid, iova, 4096, DmaDirection.TO_DEVICE);
        }
        assertThat(g.counters().flushQueueFlushes()).isZero();
        assertThat(dma.flushQueueLength(rid)).isEqualTo(255);
        Iova iova = dma.mapSingle(rid, buf, 4096, DmaDirection.TO_DEVICE);
        dma.unmapSingle(rid, iova, 4096, DmaDirection.TO_DEVICE);
        IommuCounters d = g.counters().minus(before);
        assertThat(d.flushQueueFlushes()).isEqualTo(1);
        assertThat(d.iotlbInvalidations()).isEqualTo(1);
        assertThat(d.iotlbPage()).isZero();
        assertThat(dma.flushQueueLength(rid)).isEqualTo(1);
        assertThat(d.maps()).isEqualTo(256);
        assertThat(d.unmaps()).isEqualTo(256);
    }

    @Test
    void cachingModeSendsAPageSelectiveInvalidationAfterEveryMapAndEveryUnmap() throws Exception {
        Guest g = Guest.boot(null, Guest.CM, "edu");
        RequesterId rid = g.device("edu").address();
        DmaApi dma = g.dma();
        PhysAddr buf = g.buffer(0);
        IommuCounters before = g.counters();
        List<Iova> iovas = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            iovas.add(dma.mapSingle(rid, buf, 4096, DmaDirection.BIDIRECTIONAL));
        }
        IommuCounters maps = g.counters().minus(before);
        assertThat(maps.iotlbPage()).isEqualTo(10);
        assertThat(maps.descriptors()).isEqualTo(20);
        assertThat(maps.waitDescriptors()).isEqualTo(10);
        assertThat(maps.mmioWrites()).isEqualTo(10);
        for (Iova v : iovas) {
            dma.unmapSingle(rid, v, 4096, DmaDirection.BIDIRECTIONAL);
        }
        IommuCounters all = g.counters().minus(before);
        assertThat(all.iotlbPage()).isEqualTo(20); // strict is forced by caching mode
        assertThat(all.flushQueueFlushes()).isZero();
    }

    @Test
    void withoutCachingModeAMapCostsNoInvalidationAndNoRegisterAccess() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu");
        RequesterId rid = g.device("edu").address();
        IommuCounters before = g.counters();
        g.dma().mapSingle(rid, g.buffer(0), 4096, DmaDirection.BIDIRECTIONAL);
        IommuCounters d = g.counters().minus(before);
        assertThat(d.iotlbInvalidations()).isZero();
        assertThat(d.mmioAccesses()).isZero();
        assertThat(d.writeBufferFlushes()).isZero(); // QEMU does not set CAP.RWBF
        assertThat(d.maps()).isEqualTo(1);
        assertThat(d.pageTablePages()).isEqualTo(2); // a level-2 and a level-1 table below the pgd
    }

    @Test
    void pciDevicesGetIovasBelow4GiBFirstUnlessForcedac() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu");
        RequesterId rid = g.device("edu").address();
        g.dma().setDmaMask(rid, -1L);
        assertThat(g.dma().mapSingle(rid, g.buffer(0), 4096, DmaDirection.TO_DEVICE)).isEqualTo(Iova.of(0xffff_f000L));

        Guest f = Guest.boot("iommu.forcedac=1", Guest.NO_CM, "edu");
        RequesterId r2 = f.device("edu").address();
        f.dma().setDmaMask(r2, -1L);
        // the aperture of a 39-bit unit ends at 2^39 - 1
        assertThat(f.dma().mapSingle(r2, f.buffer(0), 4096, DmaDirection.TO_DEVICE))
                .isEqualTo(Iova.of((1L << 39) - 4096));
    }

    @Test
    void theMsiWindowIsNeverHandedOut() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", Guest.NO_CM, "edu");
        RequesterId rid = g.device("edu").address();
        PhysAddr buf = g.buffer(0);
        // 0xfef00000..0xffffffff is 4352 pages above the window; take them all and one more
        for (int i = 0; i < 4352; i++) {
            Iova v = g.dma().mapSingle(rid, buf, 4096, DmaDirection.TO_DEVICE);
            assertThat(v.value()).isGreaterThanOrEqualTo(0xfef0_0000L);
        }
        assertThat(g.dma().mapSingle(rid, buf, 4096, DmaDirection.TO_DEVICE)).isEqualTo(Iova.of(0xfedf_f000L));
    }

    @Test
    void iommuPtMakesTheDmaApiDirectAndTheDevicePassesThrough() throws Exception {
        Guest g = Guest.boot("iommu=pt", Guest.NO_CM, "edu");
        PciFunction edu = g.device("edu");
        PhysAddr buf = g.buffer(0);
        Iova iova = g.dma().mapSingle(edu.address(), buf, 4096, DmaDirection.BIDIRECTIONAL);
        assertThat(iova.value()).isEqualTo(buf.value());
        assertThat(g.dma().translated(edu.address())).isFalse();
        assertThat(g.deviceWrite(edu, iova, new byte[] {9}).ok()).isTrue();
        assertThat(g.ram(buf.value(), 1)).isEqualTo(9);
        // and anything else in RAM too: pass-through protects nothing
        assertThat(g.deviceWrite(edu, Iova.of(0x10_0000), new byte[] {9}).ok()).isTrue();
    }

    @Test
    void intelIommuOffIsDmaDirectWithTheDeviceMaskChecked() throws Exception {
        Guest g = Guest.boot("intel_iommu=off", Guest.NO_CM, "edu");
        PciFunction edu = g.device("edu");
        DmaApi dma = g.dma();
        PhysAddr buf = PhysAddr.of(0x0300_0000L);
        assertThat(dma.mapSingle(edu.address(), buf, 4096, DmaDirection.TO_DEVICE)).isEqualTo(Iova.of(0x0300_0000L));
        dma.setDmaMask(edu.address(), 0xff_ffffL);
        assertThat(DmaApi.isError(dma.mapSingle(edu.address(), buf, 4096, DmaDirection.TO_DEVICE))).isTrue();
    }

    @Test
    void aScatterListIsMappedIntoOneContiguousIovaRange() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", Guest.NO_CM, "edu");
        PciFunction edu = g.device("edu");
        PhysAddr a = g.buffer(0xa1);
        g.buffer(0); // keep the next pages from being physically contiguous with a
        PhysAddr b = g.buffer(0xb2);
        PhysAddr c = g.buffer(0xc3);
        ScatterList sg = ScatterList.of(new ScatterList.Segment(a, 4096), new ScatterList.Segment(b, 4096),
                new ScatterList.Segment(c, 100));
        IommuCounters before = g.counters();
        int n = g.dma().mapSg(edu.address(), sg, DmaDirection.TO_DEVICE);
        assertThat(n).isEqualTo(1);
        ScatterList.DmaSegment s = sg.dmaSegments().get(0);
        assertThat(s.length()).isEqualTo(8192 + 100);
        // 3 pages round up to an aligned 4-page IOVA range
        assertThat(s.address().value() & 0x3fff).isZero();
        byte[] seen = new byte[s.length()];
        assertThat(g.deviceRead(edu, s.address(), seen).ok()).isTrue();
        assertThat(seen[0]).isEqualTo((byte) 0xa1);
        assertThat(seen[4096]).isEqualTo((byte) 0xb2);
        assertThat(seen[8192 + 99]).isEqualTo((byte) 0xc3);
        // a and b are not physically contiguous, b and c are: two iommu_map runs
        assertThat(g.counters().minus(before).maps()).isEqualTo(2);

        g.dma().unmapSg(edu.address(), sg, DmaDirection.TO_DEVICE);
        assertThat(g.deviceRead(edu, s.address(), new byte[4]).fault()).isNotNull();
        assertThat(g.counters().minus(before).iotlbPage()).isEqualTo(1); // one PSI for the whole list
    }

    @Test
    void scatterListMergingStopsAtAnOffsetAndAt64KiB() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", Guest.NO_CM, "edu");
        RequesterId rid = g.device("edu").address();
        List<ScatterList.Segment> segs = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            segs.add(new ScatterList.Segment(g.buffer(i), 4096));
        }
        ScatterList big = new ScatterList(segs);
        assertThat(g.dma().mapSg(rid, big, DmaDirection.TO_DEVICE)).isEqualTo(2);
        assertThat(big.dmaSegments()).extracting(ScatterList.DmaSegment::length).containsExactly(65536, 16384);
        assertThat(big.dmaSegments().get(1).address().value())
                .isEqualTo(big.dmaSegments().get(0).address().value() + 65536);

        PhysAddr p = g.buffer(0);
        PhysAddr q = g.buffer(0);
        ScatterList offset = ScatterList.of(new ScatterList.Segment(p, 512),
                new ScatterList.Segment(q.checkedAdd(16), 512));
        assertThat(g.dma().mapSg(rid, offset, DmaDirection.TO_DEVICE)).isEqualTo(2);
        assertThat(offset.dmaSegments().get(1).address().value() & 0xfff).isEqualTo(16);
        assertThat(offset.dmaSegments().get(1).address().value() - offset.dmaSegments().get(0).address().value())
                .isEqualTo(4096 + 16);
    }

    @Test
    void anUnmapThatCoversAWholeLeafTableFreesItAfterTheFlush() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", Guest.NO_CM, "edu");
        RequesterId rid = g.device("edu").address();
        PhysAddr first = g.driver().pages().allocateContiguous(513);
        if ((first.value() & 0x1f_ffffL) == 0) {
            first = first.checkedAdd(4096); // keep it off a 2 MiB boundary: 4 KiB PTEs
        }
        List<ScatterList.Segment> segs = new ArrayList<>();
        for (int i = 0; i < 512; i++) {
            segs.add(new ScatterList.Segment(first.checkedAdd(4096L * i), 4096));
        }
        ScatterList sg = new ScatterList(segs);
        IommuCounters before = g.counters();
        assertThat(g.dma().mapSg(rid, sg, DmaDirection.TO_DEVICE)).isEqualTo(32); // 64 KiB DMA segments
        assertThat(g.counters().minus(before).pageTablePages()).isEqualTo(2); // level 2 and level 1
        long inUse = g.driver().pages().pagesInUse();
        g.dma().unmapSg(rid, sg, DmaDirection.TO_DEVICE);
        IommuCounters d = g.counters().minus(before);
        // the IOVA range is 2 MiB aligned, so it covers the level-1 table exactly: freed
        assertThat(d.pageTablePagesFreed()).isEqualTo(1);
        assertThat(g.driver().pages().pagesInUse()).isEqualTo(inUse - 1);
        assertThat(d.iotlbPage()).isEqualTo(1);
    }

    @Test
    void aTwoMegabyteAlignedRunIsMappedWithOneSuperpage() throws Exception {
        Guest g = Guest.boot("iommu.strict=1", Guest.NO_CM, "edu");
        PciFunction edu = g.device("edu");
        PhysAddr base = PhysAddr.of(0x0800_0000L); // 128 MiB: 2 MiB aligned, outside the page allocator
        g.machine.memory().write(base.value() + 0x1f_fff0L, 0x42, 1);
        List<ScatterList.Segment> segs = new ArrayList<>();
        for (int i = 0; i < 512; i++) {
            segs.add(new ScatterList.Segment(base.checkedAdd(4096L * i), 4096));
        }
        ScatterList sg = new ScatterList(segs);
        IommuCounters before = g.counters();
        g.dma().mapSg(edu.address(), sg, DmaDirection.TO_DEVICE);
        assertThat(g.counters().minus(before).pageTablePages()).isEqualTo(1); // only the level-2 table
        Iova start = sg.dmaSegments().get(0).address();
        DmarDomain dom = (DmarDomain) g.driver().domainOf(g.group(edu.address()));
        int[] level = {0};
        long pte = dom.walkExisting(start.pageNumber(), level);
        assertThat(level[0]).isEqualTo(2);
        assertThat(g.ram(pte, 8) & DmarDomain.PTE_LARGE).isNotZero();
        byte[] b = new byte[1];
        assertThat(g.deviceRead(edu, start.checkedAdd(0x1f_fff0L), b).ok()).isTrue();
        assertThat(b[0]).isEqualTo((byte) 0x42);
    }
}
