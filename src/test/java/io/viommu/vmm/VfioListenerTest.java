package io.viommu.vmm;

import static io.viommu.vmm.ShadowBed.GUEST_RID;
import static io.viommu.vmm.ShadowBed.PAGE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.memory.PhysAddr;
import io.viommu.memory.VirtAddr;
import io.viommu.vtd.FaultReason;
import io.viommu.vtd.VtdRegisters;
import io.viommu.vtd.notify.IovaRange;
import io.viommu.vtd.notify.Permission;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The VFIO listener end to end on a modelled host: guest tables in the VM's RAM (the VMM
 * process's memory), invalidations trapped on the vIOMMU, VFIO MAP/UNMAP through the host's
 * type1 and intel-iommu driver, and the host edu's DMA through the host unit landing in the
 * guest's page, or faulting in the HOST unit.
 */
class VfioListenerTest {
    static final IovaRange WINDOW = new IovaRange(0x0100_0000L, 0x0140_0000L - 1);
    static final long IOVA = 0x0100_0000L;
    static final long GPA = 0x0180_0000L;

    @Test
    void withoutAVIommuEveryRamSectionIsMappedAtItsGuestPhysicalAddress() throws Exception {
        ShadowBed b = ShadowBed.detached();
        b.listener.mapGuestRam();
        assertThat(b.listener.mode()).isEqualTo(VfioListener.Mode.SYSTEM_MEMORY);
        var maps = b.container.mappings();
        assertThat(maps).hasSize(1);
        assertThat(maps.get(0).iova()).isZero();
        assertThat(maps.get(0).size()).isEqualTo(ShadowBed.GUEST_RAM);
        assertThat(maps.get(0).vaddr()).isEqualTo(b.ram.sections().get(0).vaddr().value());
        assertThat(maps.get(0).writable()).isTrue();
        // the device's DMA at a guest-physical address lands in that guest page
        byte[] hello = "dma at a GPA".getBytes(StandardCharsets.US_ASCII);
        assertThat(b.deviceWrites(GPA + 0x40, hello).ok()).isTrue();
        assertThat(b.guestRead(GPA + 0x40, hello.length)).isEqualTo(hello);
        assertThat(b.listener.counters().mapCalls()).isEqualTo(1);
        assertThat(b.listener.counters().pagesMapped()).isEqualTo(ShadowBed.GUEST_RAM / PAGE);
        assertThat(b.errors).isEmpty();
    }

    @Test
    void aMemlockLimitTooSmallFailsAtInitWithQemusComposedTextAndLeavesNothingMapped() throws Exception {
        ShadowBed b = ShadowBed.unprivileged(8L << 20);
        assertThatThrownBy(b.listener::mapGuestRam).isInstanceOf(VfioListener.InitFailure.class)
                .hasMessageMatching("memory listener initialization failed: Region pc\\.ram: "
                        + "vfio_dma_map\\(0x[0-9a-f]+, 0x0, 0x2000000, 0x7f[0-9a-f]+\\) = -12 \\(Cannot allocate memory\\)");
        assertThat(b.errors).containsExactly("VFIO_MAP_DMA failed: Cannot allocate memory");
        assertThat(b.container.mappings()).isEmpty();
        assertThat(b.vmm.lockedPages()).isZero();
        assertThat(b.kernel.dmesg()).anyMatch(l -> l.contains("vfio_pin_pages_remote: RLIMIT_MEMLOCK (8388608) exceeded"));
    }

    @Test
    void dmarOffMapsAllRamThenTurningTranslationOnShadowsTheGuestTables() throws Exception {
        ShadowBed b = ShadowBed.attached();
        assertThat(b.listener.mode()).isEqualTo(VfioListener.Mode.SYSTEM_MEMORY);
        assertThat(b.container.mappings()).hasSize(1);
        b.translated();
        assertThat(b.listener.mode()).isEqualTo(VfioListener.Mode.IOMMU);
        assertThat(b.container.mappings()).isEmpty(); // empty guest tables: nothing reachable
        b.guest.mapRange(GUEST_RID, IOVA, 4 * PAGE, GPA, Permission.READ_WRITE);
        b.guest.psi(1, IOVA, 2);
        b.assertMirrors(WINDOW);
        assertThat(b.container.mappings()).hasSize(1); // one run, one MAP_DMA
        // the host device's DMA to the guest IOVA lands in the guest page, byte for byte
        byte[] hello = "hello, guest page 2".getBytes(StandardCharsets.US_ASCII);
        assertThat(b.deviceWrites(IOVA + 2 * PAGE + 0x123, hello).ok()).isTrue();
        assertThat(b.guestRead(GPA + 2 * PAGE + 0x123, hello.length)).isEqualTo(hello);
        b.guestWrite(GPA + 3 * PAGE, "from the guest".getBytes(StandardCharsets.US_ASCII));
        assertThat(new String(b.deviceReads(IOVA + 3 * PAGE, 14), StandardCharsets.US_ASCII)).isEqualTo("from the guest");
        VfioListener.Counters c = b.listener.counters();
        assertThat(c.invalidationsTrapped()).isGreaterThanOrEqualTo(3); // SRTP, TE, PSI
        assertThat(c.pagesMapped()).isEqualTo(ShadowBed.GUEST_RAM / PAGE + 4);
    }

    @Test
    void anUnmappedIovaFaultsInTheHostUnitAndTouchesNoFrame() throws Exception {
        ShadowBed b = ShadowBed.attached().translated();
        b.guest.mapRange(GUEST_RID, IOVA, 2 * PAGE, GPA, Permission.READ_WRITE);
        b.guest.psi(1, IOVA, 1);
        // unmap the second page: the host run is split, the first page stays mapped
        b.guest.clear(GUEST_RID, IOVA + PAGE, 1);
        b.guest.psi(1, IOVA + PAGE, 0);
        b.assertMirrors(WINDOW);
        byte[] x = "must not land".getBytes(StandardCharsets.US_ASCII);
        var out = b.deviceWrites(IOVA + PAGE + 8, x);
        assertThat(out.ok()).isFalse();
        assertThat(out.bytesDone()).isZero();
        assertThat(b.guestRead(GPA + PAGE + 8, x.length)).containsOnly(0);
        // the fault is the HOST unit's, with the host device's requester id
        long hi = b.host.iommu().load(VtdRegisters.FRCD + 8, 8);
        long lo = b.host.iommu().load(VtdRegisters.FRCD, 8);
        assertThat(hi & VtdRegisters.FRCD_F).isNotZero();
        assertThat((int) (hi & 0xffff)).isEqualTo(b.hostRid.value());
        assertThat((int) (hi >>> 32) & 0xff).isEqualTo(FaultReason.WRITE_NOT_PERMITTED.code());
        assertThat(lo & ~0xfffL).isEqualTo(IOVA + PAGE);
        // and none in the guest's vIOMMU
        assertThat(b.guest.iommu.load(VtdRegisters.FSTS, 4) & VtdRegisters.FSTS_PPF).isZero();
        assertThat(b.deviceWrites(IOVA + 8, x).ok()).isTrue();
    }

    @Test
    void aReadOnlyGuestMappingIsReadOnlyOnTheHost() throws Exception {
        ShadowBed b = ShadowBed.attached().translated();
        b.guest.map4k(GUEST_RID, IOVA, GPA, Permission.READ_ONLY);
        b.guest.psi(1, IOVA, 0);
        assertThat(b.container.mappings().get(0).writable()).isFalse();
        assertThat(b.deviceReads(IOVA, 8)).isNotNull();
        assertThat(b.deviceWrites(IOVA, new byte[] {1}).ok()).isFalse();
        b.assertMirrors(WINDOW);
    }

    @Test
    void aRemapIsOneUnmapAndOneMapAndDmaFollowsTheNewPage() throws Exception {
        ShadowBed b = ShadowBed.attached().translated();
        b.guest.map4k(GUEST_RID, IOVA, GPA, Permission.READ_WRITE);
        b.guest.psi(1, IOVA, 0);
        long maps = b.listener.counters().mapCalls();
        long unmaps = b.listener.counters().unmapCalls();
        b.guest.map4k(GUEST_RID, IOVA, GPA + 5 * PAGE, Permission.READ_WRITE);
        b.guest.enableQueue();
        b.guest.queuedDsi(1);
        b.assertMirrors(WINDOW);
        assertThat(b.listener.counters().mapCalls()).isEqualTo(maps + 1);
        assertThat(b.listener.counters().unmapCalls()).isEqualTo(unmaps + 1);
        assertThat(b.deviceWrites(IOVA, new byte[] {42}).ok()).isTrue();
        assertThat(b.guestRead(GPA + 5 * PAGE, 1)).containsExactly(42);
        assertThat(b.guestRead(GPA, 1)).containsExactly(0);
    }

    @Test
    void aMappingToNonRamIsReportedAsQemuDoesAndNotMapped() throws Exception {
        ShadowBed b = ShadowBed.attached().translated();
        b.guest.map4k(GUEST_RID, IOVA, 0x8000_0000L, Permission.READ_WRITE);
        b.guest.map4k(GUEST_RID, IOVA + PAGE, GPA, Permission.READ_WRITE);
        b.guest.psi(1, IOVA, 1);
        assertThat(b.errors).containsExactly("iommu map to non memory area 80000000");
        b.assertMirrors(WINDOW);
        assertThat(b.deviceWrites(IOVA, new byte[] {1}).ok()).isFalse();
    }

    @Test
    void passThroughContextMapsAllRamAndBackToTranslatedReplaysTheTables() throws Exception {
        ShadowBed b = ShadowBed.attached().translated();
        b.guest.map4k(GUEST_RID, IOVA, GPA, Permission.READ_WRITE);
        b.guest.psi(1, IOVA, 0);
        long top = b.top;
        b.guest.passThrough(GUEST_RID, 1);
        b.guest.contextDevice(GUEST_RID, 0);
        assertThat(b.listener.mode()).isEqualTo(VfioListener.Mode.SYSTEM_MEMORY);
        assertThat(b.container.mappings()).hasSize(1);
        assertThat(b.container.mappings().get(0).size()).isEqualTo(ShadowBed.GUEST_RAM);
        assertThat(b.deviceWrites(GPA + 0x10, new byte[] {7}).ok()).isTrue(); // identity: IOVA = GPA
        assertThat(b.guestRead(GPA + 0x10, 1)).containsExactly(7);
        b.guest.context(GUEST_RID, 1, 1, top);
        b.guest.contextGlobal();
        assertThat(b.listener.mode()).isEqualTo(VfioListener.Mode.IOMMU);
        b.assertMirrors(WINDOW);
        b.guest.disableTranslation();
        assertThat(b.listener.mode()).isEqualTo(VfioListener.Mode.SYSTEM_MEMORY);
        assertThat(b.errors).isEmpty();
    }

    @Test
    void snoopControlRefusesTheNotifierAndAtRuntimeThatIsQemusHardwareError() throws Exception {
        ShadowBed b = ShadowBed.attached("caching-mode=on", "snoop-control=on");
        assertThat(b.listener.mode()).isEqualTo(VfioListener.Mode.SYSTEM_MEMORY);
        b.translated();
        assertThat(b.errors).containsExactly(
                "Snoop Control with vhost or VFIO is not supported: Operation not supported",
                "qemu: hardware error: vfio: DMA mapping failed, unable to continue");
        assertThat(b.listener.hardwareError()).contains("vfio: DMA mapping failed, unable to continue");
    }

    @Test
    void attachingWhileTranslatedReplaysTheExistingMappings() throws Exception {
        ShadowBed b = ShadowBed.detached().translated();
        b.guest.mapRange(GUEST_RID, IOVA, 3 * PAGE, GPA, Permission.READ_WRITE);
        b.guest.psi(1, IOVA, 2);
        b.listener.attach(b.guest.iommu, b.guest.notifier, GUEST_RID);
        assertThat(b.listener.mode()).isEqualTo(VfioListener.Mode.IOMMU);
        b.assertMirrors(WINDOW);
        b.listener.detach();
        assertThat(b.container.mappings()).isEmpty();
    }

    @Test
    void aGuestRunAcrossTwoRamSectionsAndAHoleIsSplitPerSection() throws Exception {
        // pc.ram at 0..16 MiB, a hole at 16..24 MiB, more RAM at 24..40 MiB whose process pages
        // are not next to the first section's
        ShadowBed b = new ShadowBed(0, (p, frames) -> {
            long base = p.mmapAnon(48L << 20).value();
            return ProcessGuestRam.of(p, frames, List.of(
                    new GuestRam.Section("pc.ram", new PhysAddr(0), 16L << 20, new VirtAddr(base)),
                    new GuestRam.Section("pc.ram", new PhysAddr(24L << 20), 16L << 20, new VirtAddr(base + (32L << 20)))));
        }, "caching-mode=on");
        b.listener.attach(b.guest.iommu, b.guest.notifier, GUEST_RID);
        b.translated();
        // guest-physically contiguous: 16 MiB - 4K .. 16 MiB + 8M + 4K; one run for the notifier
        long start = (16L << 20) - PAGE;
        long size = (8L << 20) + 2 * PAGE;
        b.guest.mapRange(GUEST_RID, IOVA, size, start, Permission.READ_WRITE);
        b.guest.dsi(1);
        assertThat(b.errors).containsExactly("iommu map to non memory area 1000000");
        b.assertMirrors(new IovaRange(IOVA, IOVA + (16L << 20) - 1));
        assertThat(b.container.mappings()).hasSize(2);
        assertThat(b.deviceWrites(IOVA + size - PAGE + 4, new byte[] {9}).ok()).isTrue();
        assertThat(b.guestRead((24L << 20) + 4, 1)).containsExactly(9);
    }

    @Test
    void aRamMapFailingAfterSetUpIsQemusHardwareError() throws Exception {
        ShadowBed b = ShadowBed.unprivileged(8L << 20);
        b.translated(); // DMAR on before the device attaches (hot plug): nothing to pin yet
        b.listener.attach(b.guest.iommu, b.guest.notifier, GUEST_RID);
        assertThat(b.listener.mode()).isEqualTo(VfioListener.Mode.IOMMU);
        b.guest.passThrough(GUEST_RID, 1);
        b.guest.contextGlobal(); // all 32 MiB of RAM to pin, 8 MiB allowed
        assertThat(b.errors).hasSize(3);
        assertThat(b.errors.get(0)).isEqualTo("VFIO_MAP_DMA failed: Cannot allocate memory");
        assertThat(b.errors.get(1)).matches("vfio_dma_map\\(0x[0-9a-f]+, 0x0, 0x2000000, 0x7f[0-9a-f]+\\) = -12 \\(Cannot allocate memory\\)");
        assertThat(b.errors.get(2)).isEqualTo("qemu: hardware error: vfio: DMA mapping failed, unable to continue");
        assertThat(b.listener.hardwareError()).isPresent();
    }
}
