package io.viommu.vtd.notify;

import static io.viommu.vtd.notify.GuestTables.*;
import static io.viommu.vtd.notify.Permission.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.Translation;
import io.viommu.vtd.InvalidationOrigin;
import io.viommu.vtd.VtdRegisters;
import io.viommu.vtd.notify.InvalidationCause.Kind;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The map/unmap notifier contract, example by example. */
class MapNotifierTest {
    static final Set<NotifierFlag> SHADOW = Set.of(NotifierFlag.MAP, NotifierFlag.UNMAP);
    static final IovaRange LOW_1G = new IovaRange(0, GB1 - 1);

    final GuestTables g = GuestTables.cachingMode();
    final RecordingListener l = new RecordingListener();

    MapNotifier.Registration register() throws NotifierRefusedException {
        return g.notifier.register(DEV, IovaRange.ALL, SHADOW, l);
    }

    static Mapping m(long iova, long size, long phys, Permission p) {
        return Mapping.of(iova, size, phys, p);
    }

    // ---- refusal (QEMU 7.2.x vtd_iommu_notify_flag_changed) ----

    @Test
    void mapListenerWithoutCachingModeIsRefusedWithQemusMessage() {
        GuestTables plain = new GuestTables();
        assertThatThrownBy(() -> plain.notifier.register(DEV, IovaRange.ALL, SHADOW, l))
                .isInstanceOfSatisfying(NotifierRefusedException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("device 00.01.0 requires caching mode");
                    assertThat(e.qemuErrorText()).isEqualTo("device 00.01.0 requires caching mode: Operation not supported");
                    assertThat(e.reason()).isEqualTo(NotifierRefusedException.Reason.CACHING_MODE);
                    assertThat(e.device()).isEqualTo(DEV);
                });
        assertThat(plain.notifier.registrations()).isEmpty();
    }

    @Test
    void refusalNamesBusSlotAndFunctionAsQemuPrintsThem() {
        GuestTables plain = new GuestTables();
        var dev = io.viommu.pci.RequesterId.of(0x1a, 0x1f, 7);
        assertThatThrownBy(() -> plain.notifier.register(dev, IovaRange.ALL, SHADOW, l))
                .hasMessage("device 1a.1f.7 requires caching mode");
    }

    @Test
    void unmapOnlyListenerNeedsNoCachingMode() throws Exception {
        GuestTables plain = new GuestTables();
        assertThat(plain.notifier.register(DEV, IovaRange.ALL, Set.of(NotifierFlag.UNMAP), l).isActive()).isTrue();
    }

    @Test
    void deviceIotlbListenerWithoutDeviceIotlbIsRefused() {
        assertThatThrownBy(() -> g.notifier.register(DEV, IovaRange.ALL, Set.of(NotifierFlag.DEVIOTLB_UNMAP), l))
                .isInstanceOf(NotifierRefusedException.class)
                .hasMessage("device 00.01.0 requires device IOTLB mode");
    }

    @Test
    void snoopControlRefusesEveryNotifierFirst() {
        GuestTables snoop = new GuestTables("snoop-control=on");
        assertThatThrownBy(() -> snoop.notifier.register(DEV, IovaRange.ALL, Set.of(NotifierFlag.UNMAP), l))
                .hasMessage("Snoop Control with vhost or VFIO is not supported");
        assertThatThrownBy(() -> snoop.notifier.register(DEV, IovaRange.ALL, SHADOW, l))
                .hasMessage("Snoop Control with vhost or VFIO is not supported");
    }

    @Test
    void programmingErrorsAreNotGuestRefusals() {
        assertThatThrownBy(() -> g.notifier.register(DEV, IovaRange.ALL, Set.of(NotifierFlag.MAP), l))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> g.notifier.register(DEV, new IovaRange(0x800, 0x1fff), SHADOW, l))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ---- replay on registration, coalescing ----

    @Test
    void registrationReplaysExistingMappingsAsCoalescedMapEvents() throws Exception {
        g.context(DEV, 1);
        g.mapRange(DEV, 0x100000, 16 * PAGE, 0x4000000, READ_WRITE);   // 16 contiguous pages
        g.map4k(DEV, 0x200000, 0x5000000, READ_ONLY);                  // a lone page
        g.map2m(DEV, 0x400000, 0x6000000, WRITE_ONLY);                 // a superpage
        g.map2m(DEV, 0x600000, 0x6200000, WRITE_ONLY);                 // ... continued physically
        g.enable();
        register();
        assertThat(l.events).containsExactly(
                new IommuEvent.Map(m(0x100000, 16 * PAGE, 0x4000000, READ_WRITE), l.events.get(0).cause()),
                new IommuEvent.Map(m(0x200000, PAGE, 0x5000000, READ_ONLY), l.events.get(0).cause()),
                new IommuEvent.Map(m(0x400000, 2 * MB2, 0x6000000, WRITE_ONLY), l.events.get(0).cause()));
        assertThat(l.events.get(0).cause().kind()).isEqualTo(Kind.REGISTRATION);
        assertThat(l.view).isEqualTo(g.truth(DEV, LOW_1G));
    }

    @Test
    void registrationBeforeTranslationIsOnReplaysNothingUntilTeIsSet() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x9000, READ_WRITE);
        register();
        assertThat(l.events).isEmpty();
        g.enable();
        assertThat(l.take()).singleElement().satisfies(e -> {
            assertThat(e).isEqualTo(new IommuEvent.Map(m(0x1000, PAGE, 0x9000, READ_WRITE), e.cause()));
            assertThat(e.cause().kind()).isEqualTo(Kind.TRANSLATION_ENABLED);
            assertThat(e.cause().origin()).isEqualTo(InvalidationOrigin.REGISTER);
        });
    }

    @Test
    void thousandsOfContiguousPagesAreOneEventAndGapsSplitRunsExactly() throws Exception {
        g.context(DEV, 1);
        g.mapRange(DEV, 0, 8192 * PAGE, 0x8000000, READ_WRITE); // 32 MiB, 8192 PTEs
        g.enable();
        register();
        assertThat(l.take()).hasSize(1);
        // Punch 100 holes: 101 runs remain, so 100 UNMAP events, then nothing more.
        for (int i = 1; i <= 100; i++) {
            g.clear(DEV, i * 64 * PAGE, 1);
        }
        g.iotlbGlobal();
        assertThat(l.take()).hasSize(100).allSatisfy(e -> assertThat(e).isInstanceOf(IommuEvent.Unmap.class));
        assertThat(l.view.runCount()).isEqualTo(101);
        g.iotlbGlobal();
        assertThat(l.take()).isEmpty();
    }

    // ---- page-selective ----

    @Test
    void pageSelectiveInvalidationSyncsOnlyThatRange() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x10000, 0x20000, READ_WRITE);
        g.enable();
        register();
        l.take();
        g.map4k(DEV, 0x40000, 0x50000, READ_WRITE);   // invalidated below
        g.map4k(DEV, 0x80000, 0x90000, READ_WRITE);   // not invalidated: the guest broke CM's rule
        g.psi(1, 0x40000, 0);
        List<IommuEvent> ev = l.take();
        assertThat(ev).singleElement().isEqualTo(new IommuEvent.Map(m(0x40000, PAGE, 0x50000, READ_WRITE), ev.get(0).cause()));
        InvalidationCause c = ev.get(0).cause();
        assertThat(c.kind()).isEqualTo(Kind.IOTLB_PAGES);
        assertThat(c.origin()).isEqualTo(InvalidationOrigin.REGISTER);
        assertThat(c.domainId()).isEqualTo(1);
        assertThat(c.address().value()).isEqualTo(0x40000);
        assertThat(c.addressMask()).isZero();
        assertThat(c.range()).isEqualTo(new IovaRange(0x40000, 0x40fff));
        g.psi(1, 0x80000, 0);
        assertThat(l.take()).hasSize(1);
    }

    @Test
    void pageSelectiveAddressMaskCoversTwoToTheAmPagesAlignedDown() throws Exception {
        g.context(DEV, 1);
        g.enable();
        register();
        g.mapRange(DEV, 0x40000, 8 * PAGE, 0x100000, READ_ONLY);
        g.psi(1, 0x43000, 2); // AM=2: 0x40000..0x43fff
        assertThat(l.take()).singleElement().satisfies(e -> {
            assertThat(e.range()).isEqualTo(new IovaRange(0x40000, 0x43fff));
            assertThat(e.cause().range()).isEqualTo(new IovaRange(0x40000, 0x43fff));
        });
    }

    @Test
    void pageSelectiveInvalidationOfAnotherDomainIsIgnored() throws Exception {
        g.context(DEV, 1);
        g.enable();
        register();
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.psi(2, 0x1000, 0);
        assertThat(l.take()).isEmpty();
    }

    @Test
    void remappedPageIsOneReplaceEventNeverUnmapThenMap() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.enable();
        register();
        l.take();
        g.map4k(DEV, 0x1000, 0x7000, READ_ONLY);
        g.psi(1, 0x1000, 0);
        List<IommuEvent> ev = l.take();
        assertThat(ev).singleElement().isEqualTo(new IommuEvent.Replace(m(0x1000, PAGE, 0x7000, READ_ONLY),
                new PhysAddr(0x2000), READ_WRITE, ev.get(0).cause()));
    }

    @Test
    void splittingASuperpageReportsOnlyThePagesThatChanged() throws Exception {
        g.context(DEV, 1);
        g.map2m(DEV, 0x200000, 0x400000, READ_WRITE);
        g.enable();
        register();
        l.take();
        // The guest replaces the superpage by a table with the same translations, except one page.
        long table = g.allocTable();
        for (int i = 0; i < 512; i++) {
            g.ram.writeLong(table + i * 8L, (0x400000 + i * PAGE) | 3);
        }
        g.ram.writeLong(table + 5 * 8L, 0x900000 | 1);
        g.writeEntry(DEV, 0x200000, 2, table | 3);
        g.psi(1, 0x200000, 9);
        List<IommuEvent> ev = l.take();
        assertThat(ev).singleElement().isEqualTo(new IommuEvent.Replace(m(0x205000, PAGE, 0x900000, READ_ONLY),
                new PhysAddr(0x405000), READ_WRITE, ev.get(0).cause()));
        assertThat(l.view.runCount()).isEqualTo(3);
    }

    @Test
    void unchangedMappingsProduceNoEvents() throws Exception {
        g.context(DEV, 1);
        g.mapRange(DEV, 0, 64 * PAGE, 0x100000, READ_WRITE);
        g.enable();
        register();
        l.take();
        g.psi(1, 0, 6);
        g.dsi(1);
        g.iotlbGlobal();
        g.contextGlobal();
        g.contextDevice(DEV, 0);
        assertThat(l.events).isEmpty();
    }

    // ---- domain-selective and global ----

    @Test
    void domainSelectiveInvalidationRewalksOnlyDevicesOfThatDomain() throws Exception {
        RecordingListener l2 = new RecordingListener();
        g.context(DEV, 1);
        g.context(DEV2, 2);
        g.enable();
        register();
        g.notifier.register(DEV2, IovaRange.ALL, SHADOW, l2);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.map4k(DEV2, 0x1000, 0x3000, READ_WRITE);
        g.dsi(1);
        assertThat(l.take()).singleElement().satisfies(e -> {
            assertThat(e.cause().kind()).isEqualTo(Kind.IOTLB_DOMAIN);
            assertThat(e.cause().domainId()).isEqualTo(1);
        });
        assertThat(l2.events).isEmpty();
        g.iotlbGlobal();
        assertThat(l.take()).isEmpty();
        assertThat(l2.take()).singleElement().satisfies(e -> assertThat(e.cause().kind()).isEqualTo(Kind.IOTLB_GLOBAL));
    }

    @Test
    void devicesSharingADomainAreBothSynced() throws Exception {
        RecordingListener l2 = new RecordingListener();
        long top = g.context(DEV, 7);
        g.context(DEV2, 7, 1, top);
        g.enable();
        register();
        g.notifier.register(DEV2, IovaRange.ALL, SHADOW, l2);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.psi(7, 0x1000, 0);
        assertThat(l.take()).hasSize(1);
        assertThat(l2.take()).hasSize(1);
    }

    @Test
    void domainInvalidationAlsoReachesAShadowBuiltFromThatDomain() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.enable();
        register();
        l.take();
        // The guest moves the device to domain 2 (empty tables) without a context invalidation,
        // then flushes domain 1: QEMU ignores the device (its context says domain 2); the
        // shadow came from domain 1, so it is stale, and it is synced.
        g.context(DEV, 2);
        g.dsi(1);
        assertThat(l.take()).singleElement().isInstanceOf(IommuEvent.Unmap.class);
    }

    // ---- context ----

    @Test
    void contextEntryGoingAwayUnmapsEverythingInOneEventPerRun() throws Exception {
        g.context(DEV, 1);
        g.mapRange(DEV, 0, 32 * PAGE, 0x100000, READ_WRITE);
        g.map4k(DEV, 0x800000, 0x900000, READ_ONLY);
        g.enable();
        register();
        l.take();
        g.clearContext(DEV);
        g.contextDevice(DEV, 0);
        List<IommuEvent> ev = l.take();
        assertThat(ev).extracting(IommuEvent::range)
                .containsExactly(new IovaRange(0, 32 * PAGE - 1), new IovaRange(0x800000, 0x800fff));
        assertThat(ev).allSatisfy(e -> {
            assertThat(e).isInstanceOf(IommuEvent.Unmap.class);
            assertThat(e.cause().kind()).isEqualTo(Kind.CONTEXT_DEVICE);
            assertThat(e.cause().sourceId()).isEqualTo(DEV.value());
            assertThat(e.cause().functionMask()).isZero();
        });
        assertThat(g.notifier.registrations().getFirst().view().isEmpty()).isTrue();
    }

    @Test
    void deviceSelectiveContextInvalidationHonoursTheFunctionMask() throws Exception {
        var fn1 = io.viommu.pci.RequesterId.of(0, 1, 1);
        var other = io.viommu.pci.RequesterId.of(0, 3, 0);
        RecordingListener l1 = new RecordingListener();
        RecordingListener lo = new RecordingListener();
        g.context(DEV, 1);
        g.context(fn1, 1);
        g.context(other, 1);
        g.enable();
        register();
        g.notifier.register(fn1, IovaRange.ALL, SHADOW, l1);
        g.notifier.register(other, IovaRange.ALL, SHADOW, lo);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.map4k(fn1, 0x1000, 0x2000, READ_WRITE);
        g.map4k(other, 0x1000, 0x2000, READ_WRITE);
        g.contextDevice(DEV, 3); // FM=3: all functions of device 1
        assertThat(l.take()).hasSize(1);
        assertThat(l1.take()).hasSize(1);
        assertThat(lo.take()).isEmpty();
    }

    @Test
    void contextGlobalInvalidationReevaluatesEveryDevice() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.enable();
        register();
        l.take();
        g.passThrough(DEV, 1);
        g.contextGlobal();
        assertThat(l.take()).singleElement().satisfies(e -> {
            assertThat(e).isInstanceOf(IommuEvent.Unmap.class);
            assertThat(e.cause().kind()).isEqualTo(Kind.CONTEXT_GLOBAL);
        });
    }

    // ---- TE ----

    @Test
    void translationOffUnmapsAllAndOnReplays() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.map4k(DEV, 0x5000, 0x6000, READ_WRITE);
        g.enable();
        register();
        l.take();
        g.disableTranslation();
        assertThat(l.take()).hasSize(2).allSatisfy(e -> {
            assertThat(e).isInstanceOf(IommuEvent.Unmap.class);
            assertThat(e.cause().kind()).isEqualTo(Kind.TRANSLATION_DISABLED);
        });
        g.enableTranslation();
        assertThat(l.take()).hasSize(2).allSatisfy(e -> {
            assertThat(e).isInstanceOf(IommuEvent.Map.class);
            assertThat(e.cause().kind()).isEqualTo(Kind.TRANSLATION_ENABLED);
        });
    }

    // ---- queued invalidation and cause ----

    @Test
    void queuedInvalidationReportsItsDescriptorIndex() throws Exception {
        g.context(DEV, 1);
        g.enable().enableQueue();
        register();
        g.queuedDsi(5); // index 0: another domain, nothing to say
        g.map4k(DEV, 0x3000, 0x4000, READ_WRITE);
        int index = g.queuedPsi(1, 0x3000, 0);
        assertThat(index).isEqualTo(1);
        assertThat(l.take()).singleElement().satisfies(e -> {
            InvalidationCause c = e.cause();
            assertThat(c.kind()).isEqualTo(Kind.IOTLB_PAGES);
            assertThat(c.origin()).isEqualTo(InvalidationOrigin.queued(1));
            assertThat(c.domainId()).isEqualTo(1);
            assertThat(c.address().value()).isEqualTo(0x3000);
            assertThat(c.toString()).contains("queued descriptor 1").contains("did=1").contains("0x3000");
        });
        g.clearContext(DEV);
        assertThat(g.queuedContextDevice(DEV, 0)).isEqualTo(2);
        assertThat(l.take()).singleElement().satisfies(e -> assertThat(e.cause().origin())
                .isEqualTo(InvalidationOrigin.queued(2)));
    }

    // ---- UNMAP-only and device-IOTLB consumers ----

    @Test
    void unmapOnlyListenerIsToldTheInvalidatedRange() throws Exception {
        RecordingListener u = new RecordingListener(false);
        g.context(DEV, 1);
        g.enable();
        g.notifier.register(DEV, IovaRange.ALL, Set.of(NotifierFlag.UNMAP), u);
        g.psi(1, 0x10000, 4);
        assertThat(u.take()).singleElement().satisfies(e -> {
            assertThat(e).isInstanceOf(IommuEvent.Unmap.class);
            assertThat(e.range()).isEqualTo(new IovaRange(0x10000, 0x1ffff));
        });
        g.dsi(1);
        assertThat(u.take()).singleElement().satisfies(e -> assertThat(e.range()).isEqualTo(IovaRange.ALL));
        g.psi(2, 0x10000, 0);
        assertThat(u.take()).isEmpty();
    }

    @Test
    void deviceTlbInvalidationReachesDeviceIotlbListenersOfThatDevice() throws Exception {
        GuestTables d = new GuestTables("device-iotlb=on", "caching-mode=on");
        RecordingListener dev = new RecordingListener(false);
        RecordingListener other = new RecordingListener(false);
        d.context(DEV, 1);
        d.enable().enableQueue();
        d.notifier.register(DEV, IovaRange.ALL, Set.of(NotifierFlag.DEVIOTLB_UNMAP), dev);
        d.notifier.register(DEV2, IovaRange.ALL, Set.of(NotifierFlag.DEVIOTLB_UNMAP), other);
        int i = d.queuedDeviceTlb(DEV, 0x4000, false);
        // S=1 with ADDR bit 12 clear: 8 KiB (ATS size encoding).
        d.queuedDeviceTlb(DEV, 0x8000 | 0, true);
        d.psi(1, 0, 0); // IOTLB invalidations are not for device-IOTLB listeners
        assertThat(dev.events).extracting(IommuEvent::range)
                .containsExactly(new IovaRange(0x4000, 0x4fff), new IovaRange(0x8000, 0x9fff));
        assertThat(dev.events.getFirst().cause().kind()).isEqualTo(Kind.DEVICE_TLB);
        assertThat(dev.events.getFirst().cause().origin()).isEqualTo(InvalidationOrigin.queued(i));
        assertThat(dev.events.getFirst().cause().sourceId()).isEqualTo(DEV.value());
        assertThat(other.events).isEmpty();
    }

    // ---- ranges, replay, lifecycle ----

    @Test
    void eventsAreClippedToTheRegisteredRange() throws Exception {
        g.context(DEV, 1);
        g.map2m(DEV, 0x200000, 0x400000, READ_WRITE);
        g.enable();
        g.notifier.register(DEV, new IovaRange(0x300000, 0x300fff), SHADOW, l);
        assertThat(l.take()).singleElement().isEqualTo(new IommuEvent.Map(m(0x300000, PAGE, 0x500000, READ_WRITE),
                InvalidationCause.of(Kind.REGISTRATION, InvalidationOrigin.DIRECT)));
        g.psi(1, 0, 0);
        assertThat(l.take()).isEmpty();
    }

    @Test
    void replaySendsEverythingAgainAndResyncSendsOnlyDifferences() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.enable();
        var r = register();
        l.take();
        r.resync();
        assertThat(l.take()).isEmpty();
        RecordingListener fresh = l;
        fresh.view.clear();
        r.replay();
        assertThat(l.take()).singleElement().satisfies(e -> {
            assertThat(e).isInstanceOf(IommuEvent.Map.class);
            assertThat(e.cause().kind()).isEqualTo(Kind.REPLAY);
        });
    }

    @Test
    void unregisteredListenerHearsNothing() throws Exception {
        g.context(DEV, 1);
        g.enable();
        register().unregister();
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.iotlbGlobal();
        assertThat(l.events).isEmpty();
        assertThat(g.notifier.registrations()).isEmpty();
    }

    @Test
    void aThrowingListenerNeverDisturbsTheGuest() throws Exception {
        g.context(DEV, 1);
        g.enable();
        var r = g.notifier.register(DEV, IovaRange.ALL, SHADOW, e -> {
            throw new IllegalStateException("consumer bug");
        });
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.psi(1, 0x1000, 0);
        // The register write completed: IVT cleared, IAIG reports page-selective.
        assertThat(g.iommu.load(VtdRegisters.IOTLB, 8) & (VtdRegisters.IOTLB_IVT | VtdRegisters.IOTLB_IAIG_MASK))
                .isEqualTo(VtdRegisters.IOTLB_IAIG_PAGE);
        assertThat(r.failure()).hasValueSatisfying(e -> assertThat(e).hasMessage("consumer bug"));
    }

    // ---- the walk: same decoders as translate, bounded ----

    @Test
    void badEntryUnmapsItsSubtreeAsTranslateFaultsThere() throws Exception {
        g.context(DEV, 1);
        g.mapRange(DEV, 0x200000, 4 * PAGE, 0x100000, READ_WRITE);
        g.map4k(DEV, 0x400000, 0x300000, READ_WRITE);
        g.enable();
        register();
        l.take();
        long l2 = g.slot(DEV, 0x200000, 2);
        g.ram.writeLong(l2, g.ram.readLong(l2) | 1L << 45); // reserved above aw-bits=39
        g.psi(1, 0x200000, 9);
        List<IommuEvent> ev = l.take();
        assertThat(ev).singleElement().isEqualTo(new IommuEvent.Unmap(new IovaRange(0x200000, 0x203fff), ev.get(0).cause()));
        assertThat(g.translate(DEV, 0x200000, DmaAccess.READ)).isInstanceOf(DmaFault.class);
        assertThat(g.translate(DEV, 0x400000, DmaAccess.READ)).isInstanceOf(Translation.class);
        assertThat(l.view).isEqualTo(g.truth(DEV, new IovaRange(0, 0x7fffff)));
    }

    @Test
    void permissionsAreAndedDownTheWalk() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.map4k(DEV, 0x200000, 0x3000, READ_WRITE);
        long l2 = g.slot(DEV, 0x1000, 2);
        g.ram.writeLong(l2, g.ram.readLong(l2) & ~2L); // directory entry read-only
        g.enable();
        register();
        assertThat(l.view.mappings()).containsExactly(m(0x1000, PAGE, 0x2000, READ_ONLY), m(0x200000, PAGE, 0x3000, READ_WRITE));
        assertThat(l.view).isEqualTo(g.truth(DEV, new IovaRange(0, 0x3fffff)));
    }

    @Test
    void interruptRangeIsNeverMapped() throws Exception {
        g.context(DEV, 1);
        g.map2m(DEV, 0xfee00000L, 0x400000, READ_WRITE);   // IOVA in the interrupt range
        g.map4k(DEV, 0x1000, 0xfee00000L, READ_WRITE);     // output in the interrupt range
        g.map4k(DEV, 0x2000, 0x5000, READ_WRITE);
        g.enable();
        register();
        // The superpage's upper half stays mapped; its lower half is the interrupt range.
        assertThat(l.view.mappings()).containsExactly(m(0x2000, PAGE, 0x5000, READ_WRITE),
                m(0xfef00000L, 1 << 20, 0x500000, READ_WRITE));
        assertThat(g.translate(DEV, 0x1000, DmaAccess.WRITE)).isInstanceOf(DmaFault.class);
        assertThat(l.view).isEqualTo(g.truth(DEV, new IovaRange(0, 0xffffffffL)));
    }

    @Test
    void sparseFortyEightBitSpaceIsWalkedWithoutVisitingEmptySubtrees() throws Exception {
        GuestTables w = new GuestTables("caching-mode=on", "aw-bits=48");
        w.context(DEV, 1, 2); // 4-level
        long[] iovas = {0, 0x1234_5678_9000L, (1L << 47) + 0x3000, (1L << 48) - PAGE};
        for (long iova : iovas) {
            w.map4k(DEV, iova, 0x100000, READ_WRITE);
        }
        w.enable();
        w.notifier.register(DEV, IovaRange.ALL, SHADOW, l);
        assertThat(l.view.runCount()).isEqualTo(4);
        // One top table, then one 512-entry table per present entry per level.
        assertThat(w.notifier.lastWalkCost()).isLessThanOrEqualTo(512L * (1 + 3 * iovas.length));
    }

    @Test
    void aWholeFortyEightBitSpaceOfSuperpagesIsWalkedAndCoalesced() throws Exception {
        GuestTables w = new GuestTables("caching-mode=on", "aw-bits=48");
        long top = w.context(DEV, 1, 2);
        for (int i = 0; i < 512; i++) {
            long l3 = w.allocTable();
            w.ram.writeLong(top + i * 8L, l3 | 3);
            for (int j = 0; j < 512; j++) {
                long iova = ((long) i << 39) | ((long) j << 30);
                w.ram.writeLong(l3 + j * 8L, iova | 0x80 | 3); // identity, 1 GiB
            }
        }
        w.enable();
        w.notifier.register(DEV, IovaRange.ALL, SHADOW, l);
        // 2^18 superpages, one run, except the GiB holding the interrupt range's output.
        assertThat(l.events).extracting(IommuEvent::range)
                .containsExactly(new IovaRange(0, 3 * GB1 - 1), new IovaRange(4 * GB1, (1L << 48) - 1));
    }

    @Test
    void aTableAliasedUnderEveryEntryIsWalkedOnce() throws Exception {
        long top = g.context(DEV, 1);
        long l2 = g.allocTable();
        long l1 = g.allocTable();
        for (int i = 0; i < 512; i++) {
            g.ram.writeLong(top + i * 8L, l2 | 3);
            g.ram.writeLong(l2 + i * 8L, l1 | 3);
            g.ram.writeLong(l1 + i * 8L, (0x100000 + i * PAGE) | 3);
        }
        g.enable();
        register();
        // 2^18 runs of 2 MiB, all onto the same 2 MiB of memory.
        assertThat(l.view.runCount()).isEqualTo(512 * 512);
        assertThat(g.notifier.lastWalkCost()).isLessThan(3 * 512 + 2L * 512 * 512);
    }

    @Test
    void aWalkOverItsBudgetIsAbandonedAndReportedLeavingTheViewAsItWas() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.enable();
        var r = register();
        l.take();
        g.notifier.setWalkBudget(600);
        g.mapRange(DEV, 0x200000, 600 * PAGE, 0x100000, READ_WRITE);
        g.iotlbGlobal();
        assertThat(l.events).isEmpty();
        assertThat(l.aborts).singleElement().asString().startsWith("IOTLB_GLOBAL").contains("600");
        assertThat(r.view().mappings()).containsExactly(m(0x1000, PAGE, 0x2000, READ_WRITE));
        g.notifier.setWalkBudget(MapNotifier.DEFAULT_WALK_BUDGET);
        r.resync();
        assertThat(l.view).isEqualTo(g.truth(DEV, new IovaRange(0, 0x7fffff)));
    }

    // ---- caches reset, direct calls ----

    @Test
    void newRootTableIsReevaluatedAsACachesReset() throws Exception {
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.enable();
        register();
        l.take();
        g.clearContext(DEV);
        g.iommu.store(VtdRegisters.GCMD, VtdRegisters.GCMD_TE | VtdRegisters.GCMD_SRTP, 4);
        assertThat(l.take()).singleElement().satisfies(e -> {
            assertThat(e).isInstanceOf(IommuEvent.Unmap.class);
            assertThat(e.cause().kind()).isEqualTo(Kind.CACHES_RESET);
            assertThat(e.cause().origin()).isEqualTo(InvalidationOrigin.REGISTER);
        });
    }

    @Test
    void invalidationCalledDirectlyOnTheUnitIsReportedAsDirect() throws Exception {
        g.context(DEV, 1);
        g.enable();
        register();
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.iommu.invalidateIotlbGlobal();
        assertThat(l.take()).singleElement().satisfies(e -> assertThat(e.cause().origin())
                .isEqualTo(InvalidationOrigin.DIRECT));
        g.iommu.reset();
        assertThat(l.take()).singleElement().satisfies(e -> {
            assertThat(e).isInstanceOf(IommuEvent.Unmap.class);
            assertThat(e.cause().kind()).isEqualTo(Kind.TRANSLATION_DISABLED);
        });
    }

    @Test
    void unmapOnlyListenerLosesEverythingWhenTheContextIsInvalidated() throws Exception {
        RecordingListener u = new RecordingListener(false);
        g.context(DEV, 1);
        g.enable();
        g.notifier.register(DEV, new IovaRange(0, GB1 - 1), Set.of(NotifierFlag.UNMAP), u);
        g.contextDevice(DEV, 0);
        assertThat(u.take()).singleElement().satisfies(e -> {
            assertThat(e.range()).isEqualTo(new IovaRange(0, GB1 - 1));
            assertThat(e.cause().kind()).isEqualTo(Kind.CONTEXT_DEVICE);
        });
    }

    @Test
    void eachRegistrationKeepsItsOwnShadow() throws Exception {
        RecordingListener late = new RecordingListener();
        g.context(DEV, 1);
        g.map4k(DEV, 0x1000, 0x2000, READ_WRITE);
        g.enable();
        register();
        g.map4k(DEV, 0x3000, 0x4000, READ_WRITE); // not yet invalidated
        g.notifier.register(DEV, IovaRange.ALL, SHADOW, late); // replay sees both
        l.take();
        late.take();
        g.psi(1, 0x3000, 0);
        assertThat(l.take()).singleElement().isInstanceOf(IommuEvent.Map.class);
        assertThat(late.take()).isEmpty();
        assertThat(l.view).isEqualTo(late.view);
    }
}
