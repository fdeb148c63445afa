package io.viommu.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DmaOps;
import io.viommu.machine.device.EduDevice;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.Translation;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Nested assignment: the host's edu handed to L1 (vIOMMU in caching mode, interrupt remapping),
 * whose kernel binds it to its own vfio-pci and whose VMM (the same {@link Vmm}, a process of
 * L1's kernel) hands it to L2, and on to L3. The DMA of the innermost guest is checked against
 * frames computed independently from each VMM's memory, and a DMA nobody mapped is stopped by the
 * host's unit.
 */
class NestedRunTest {
    static final List<String> L1 = List.of("-M", "q35,kernel-irqchip=split", "-m", "256M", "-nodefaults",
            "-append", "intel_iommu=on", "-device", "intel-iommu,intremap=on,caching-mode=on",
            "-device", "vfio-pci,host=0000:00:04.0,addr=04.0");
    static final List<String> L2 = List.of("-M", "q35", "-m", "160M", "-nodefaults", "-append", "intel_iommu=on",
            "-device", "intel-iommu,intremap=on,caching-mode=on", "-device", "vfio-pci,host=0000:00:04.0,addr=03.0");
    static final List<String> L3 = List.of("-M", "q35", "-m", "64M", "-nodefaults", "-append", "intel_iommu=on",
            "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:00:03.0");

    @Test
    void anL2PageMappedByTheL2GuestIsTheHostFrameTheL1AndL0VmmsHoldItAtByteForByte() throws Exception {
        Kernel host = GuestTest.host();
        Nest nest = Nest.on(host);
        List<String> err = new ArrayList<>();
        try {
            Nest.Level l1 = nest.push(L1, true, err::add);
            // L1's kernel: the device is its 00:04.0, in its own IOMMU group, no driver (edu) until L2's start
            var inL1 = l1.guest().kernel().drivers().device("0000:00:04.0").orElseThrow();
            assertThat(inL1.driver()).isNull();
            assertThat(l1.guest().kernel().drivers().groupOf(inL1)).isPresent();
            Nest.Level l2 = nest.push(List.of("-M", "q35", "-m", "128M", "-nodefaults", "-append", "intel_iommu=on",
                    "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:00:04.0"), true, err::add);
            assertThat(inL1.driver().name()).isEqualTo("vfio-pci"); // L2's managed binding, done in L1
            assertThat(l2.managed().steps()).extracting(ManagedBinding.Step::device).containsExactly("0000:00:04.0");
            VfioPciDevice top = l2.vmm().assignedDevices().get(0);
            assertThat(nest.under(top)).isSameAs(l1.vmm().assignedDevices().get(0));
            DmaOps ops = l2.guest().kernel().drivers().dmaOps();
            ops.setMask(top.address(), EduDevice.DEFAULT_DMA_MASK);
            long page = ops.allocPages(1);
            long iova = ops.map(top.address(), page, Page.SIZE, DmaOps.Direction.FROM_DEVICE);
            assertThat(iova).isNotEqualTo(page); // an L2 IOVA
            // the frames, level by level, from each VMM's own memory
            PhysAddr inL1Ram = l2.vmm().hostFrameOf(page);
            PhysAddr inHost = l1.vmm().hostFrameOf(inL1Ram.value());
            var r = host.machine().iommu().translate(new DmaRequest(
                    l1.vmm().assignedDevices().get(0).vfioDevice().pciDevice().rid(), Iova.of(iova), 64, DmaAccess.WRITE));
            assertThat(r).isInstanceOf(Translation.class);
            assertThat(((Translation) r).output(Iova.of(iova))).isEqualTo(inHost);
            // the physical edu, driven through L2's BAR (down L1's VFIO region and the host's), DMAs to the IOVA
            EduDevice edu = NestedRun.physicalEdu(nest, top);
            byte[] pattern = new byte[64];
            for (int i = 0; i < 64; i++) {
                pattern[i] = (byte) (i * 7 + 3);
            }
            System.arraycopy(pattern, 0, edu.state().buffer, 0, 64);
            long bar = top.barAddress(0);
            var mem = l2.vmm().machine().memory();
            top.configWrite(0x04, top.configRead(0x04, 2) | 0x6, 2);
            mem.write(PhysAddr.of(bar + EduDevice.REG_DMA_SRC), EduDevice.DMA_BUFFER_BASE, 8);
            mem.write(PhysAddr.of(bar + EduDevice.REG_DMA_DST), iova, 8);
            mem.write(PhysAddr.of(bar + EduDevice.REG_DMA_COUNT), 64, 8);
            mem.write(PhysAddr.of(bar + EduDevice.REG_DMA_CMD), EduDevice.DMA_CMD_START | EduDevice.DMA_CMD_TO_RAM, 8);
            nest.runAll(null);
            assertThat(edu.lastDma().ok()).isTrue();
            byte[] atHost = new byte[64];
            host.machine().memory().readBytes(inHost, atHost, 0, 64);
            byte[] inL2 = new byte[64];
            mem.readBytes(PhysAddr.of(page), inL2, 0, 64);
            assertThat(atHost).isEqualTo(pattern);
            assertThat(inL2).isEqualTo(pattern);
            // unmapped in L2: gone from L1's VFIO, L1's vIOMMU, the host's VFIO and the host unit
            ops.unmap(top.address(), iova, Page.SIZE, DmaOps.Direction.FROM_DEVICE);
            nest.runAll(null);
            assertThat(host.machine().iommu().translate(new DmaRequest(
                    l1.vmm().assignedDevices().get(0).vfioDevice().pciDevice().rid(), Iova.of(iova), 64,
                    DmaAccess.WRITE))).isNotInstanceOf(Translation.class);
            assertThat(err).containsOnly("qemu-system-x86_64: vfio: Cannot reset device 0000:00:04.0, no available"
                    + " reset mechanism.");
        } finally {
            nest.shutdown();
        }
    }

    @Test
    void theRunReportsEveryLevelAndTheStrayDmaIsStoppedInTheHostUnit() throws Exception {
        Kernel host = GuestTest.host();
        NestedReport r = NestedRun.run(host, new NestedRun.Options("host", List.of(L1, L2), true));
        assertThat(r.ok()).as(r.failure()).isTrue();
        assertThat(r.levels()).extracting(NestedReport.Level::level).containsExactly("L0", "L1", "L2");
        assertThat(r.levels()).extracting(l -> l.device().bdf())
                .containsExactly("0000:00:04.0", "0000:00:04.0", "0000:00:03.0");
        assertThat(r.levels().get(0).device().driver()).isEqualTo("vfio-pci");
        assertThat(r.levels().get(1).device().driver()).isEqualTo("vfio-pci"); // L1's own vfio-pci, --managed
        assertThat(r.levels().get(1).managed()).isEmpty(); // the host's setup had bound it already
        assertThat(r.levels().get(2).managed()).extracting(RunReport.Managed::device).containsExactly("0000:00:04.0");
        assertThat(r.levels().get(2).device().driver()).isNull(); // the edu has no driver in L2
        assertThat(r.levels().get(1).viommu().cachingMode()).isTrue();
        assertThat(r.levels().get(1).viommu().intremap()).isTrue();
        // each VMM trapped its VM's invalidations and mirrored them into the VFIO below
        for (int i = 1; i <= 2; i++) {
            NestedReport.VmmSide v = r.levels().get(i).vmm();
            assertThat(v.runsOn()).isEqualTo("L" + (i - 1));
            assertThat(v.invalidationsTrapped()).isPositive();
            assertThat(v.mapCalls()).isPositive();
            assertThat(v.mappings()).isEqualTo(1); // the DMA's page, while it was mapped
        }
        NestedReport.Dma d = r.dma();
        assertThat(d.hops()).extracting(NestedReport.Hop::level).containsExactly("L2", "L1", "L0");
        assertThat(d.hops()).allMatch(NestedReport.Hop::ok);
        assertThat(d.bytesMatched()).isTrue();
        assertThat(d.deviceDma()).startsWith("ok: the physical edu's DMA");
        NestedReport.Stray s = r.stray();
        assertThat(s.landed()).isFalse();
        assertThat(s.firstUnmapped()).isEqualTo("L2");
        assertThat(s.stoppedAt()).startsWith("L0: the host's VT-d unit");
        assertThat(s.hostLog()).contains("DMAR: [DMA Write NO_PASID] Request device [00:04.0] fault addr " + s.iova()
                + " [fault reason 0x05] PTE Write access is not set");
        assertThat(r.levels().get(0).faults()).hasSize(1);
        assertThat(r.levels().get(1).faults()).isEmpty(); // no vIOMMU above sees the physical device's DMA
        assertThat(r.levels().get(2).faults()).isEmpty();
        // everything given back: the L1 devices are gone with L1, the host's edu still on vfio-pci (bound by the setup)
        assertThat(host.drivers().device("0000:00:04.0").orElseThrow().driver().name()).isEqualTo("vfio-pci");
    }

    @Test
    void threeLevelsDeep() throws Exception {
        NestedReport r = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(L1, L2, L3), true));
        assertThat(r.ok()).as(r.failure()).isTrue();
        assertThat(r.levels()).hasSize(4);
        assertThat(r.dma().hops()).extracting(NestedReport.Hop::level).containsExactly("L3", "L2", "L1", "L0");
        assertThat(r.dma().hops()).allMatch(NestedReport.Hop::ok);
        assertThat(r.dma().deviceDma()).startsWith("ok:");
        assertThat(r.stray().firstUnmapped()).isEqualTo("L3");
        assertThat(r.stray().landed()).isFalse();
        assertThat(r.levels().get(3).vmm().runsOn()).isEqualTo("L2");
    }

    @Test
    void withoutManagedADeviceNotOnVfioPciInL1IsRefusedAsQemuRefusesItOnAHost() throws Exception {
        NestedReport r = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(L1, L2), false));
        assertThat(r.ok()).isFalse();
        assertThat(r.failedAt()).isEqualTo("L2");
        assertThat(r.failure()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=0000:00:04.0,addr=03.0: vfio"
                + " 0000:00:04.0: failed to open /dev/vfio/1: No such file or directory");
        assertThat(r.levels().get(2).iommu()).isEqualTo("never started");
    }

    @Test
    void anL1WithoutAVirtualIommuCannotHandTheDeviceOn() throws Exception {
        List<String> plain = List.of("-M", "q35", "-m", "256M", "-nodefaults", "-device",
                "vfio-pci,host=0000:00:04.0,addr=04.0");
        NestedReport r = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(plain, L2), true));
        assertThat(r.ok()).isFalse();
        assertThat(r.failedAt()).isEqualTo("L2");
        // L1's vfio-pci probe fails without an IOMMU group (no noiommu), then QEMU finds no group
        assertThat(r.levels().get(1).log()).contains("vfio-pci: probe of 0000:00:04.0 failed with error -22");
        assertThat(r.levels().get(1).device().group()).isNull();
        assertThat(r.failure()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=0000:00:04.0,addr=03.0: vfio"
                + " 0000:00:04.0: no iommu_group found: No such file or directory");
    }

    /** An L1 without a vIOMMU, given the host's edu. */
    static final List<String> PLAIN_L1 = List.of("-M", "q35", "-m", "256M", "-nodefaults", "-device",
            "vfio-pci,host=0000:00:04.0,addr=04.0");
    /** L1's root: VFIO's no-IOMMU mode, then the device on vfio-pci (the forum thread's way). */
    static final List<String> NOIOMMU_SETUP = List.of("modprobe vfio enable_unsafe_noiommu_mode=1", "modprobe vfio-pci",
            "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override",
            "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe");

    /**
     * An L1 without a vIOMMU can give the device to its user space only through VFIO's no-IOMMU
     * mode: L1's vfio-pci probe then succeeds with a fake group and taints L1's kernel (Linux's
     * lines in L1's log), a DPDK-style process of L1 drives the ring through /dev/vfio/noiommu-0
     * with physical addresses and no MAP_DMA at any level, and the same process can point the
     * device at a page of L1's kernel: the bytes land there, and the report says so. Without the
     * parameter the probe fails and the ring cannot have the device.
     */
    @Test
    void anL1WithoutAVirtualIommuGivesTheDeviceToItsUserSpaceOnlyThroughTheTaintedNoIommuMode() throws Exception {
        NestedReport r = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(PLAIN_L1), false,
                VmRun.Workload.STATIC, 128, 16, List.of(NOIOMMU_SETUP)));
        assertThat(r.ok()).as(r.failure()).isTrue();
        NestedReport.Level l1 = r.levels().get(1);
        assertThat(l1.setup()).extracting(NestedReport.SetupLine::command).containsExactlyElementsOf(NOIOMMU_SETUP);
        assertThat(l1.device().driver()).isEqualTo("vfio-pci");
        assertThat(l1.device().group()).isZero();
        assertThat(l1.device().groupMembers()).containsExactly("0000:00:04.0");
        assertThat(l1.device().vfioNode()).isEqualTo("/dev/vfio/noiommu-0");
        assertThat(l1.log()).contains("vfio-pci 0000:00:04.0: Adding to iommu group 0",
                        "vfio-pci 0000:00:04.0: Adding kernel taint for vfio-noiommu group on device")
                .anyMatch(l -> l.matches("vfio-pci 0000:00:04\\.0: vfio-noiommu device opened by user \\(dpdk:\\d+\\)"));
        assertThat(l1.noIommu()).startsWith("UNSAFE: VFIO no-IOMMU mode (/dev/vfio/noiommu-0): L1's kernel is tainted"
                + " (/proc/sys/kernel/tainted 64)");
        assertThat(r.warnings()).anyMatch(w -> w.startsWith("L1: UNSAFE: VFIO no-IOMMU mode"));
        // the ring: every packet delivered to the physical addresses the process gave; L1's VMM (all L1 RAM
        // mapped at its start) neither traps nor maps anything for it
        NestedReport.Workload w = r.workload();
        assertThat(w.delivered()).isEqualTo(128);
        assertThat(w.dmaFaults()).isZero();
        assertThat(w.levels()).singleElement().satisfies(c -> {
            assertThat(c.trapsPerPacket()).isZero();
            assertThat(c.vfioCallsPerPacket()).isZero();
        });
        // the unsafe DMA: into a page of L1's kernel, unchecked in L1, stopped nowhere below
        NestedReport.Unsafe u = r.unsafe();
        assertThat(u.node()).isEqualTo("/dev/vfio/noiommu-0");
        assertThat(Long.decode(u.gpa())).isLessThan(Kernel.USER_MEMORY_BASE);
        assertThat(u.landed()).isTrue();
        assertThat(u.hostPhysical()).isNotNull();
        // L1's RAM covers all the edu reaches: no unmapped address for a stray DMA
        assertThat(r.stray().iova()).isNull();
        assertThat(r.stray().landed()).isFalse();
        assertThat(r.levels().get(0).faults()).isEmpty();

        NestedReport without = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(PLAIN_L1), false,
                VmRun.Workload.STATIC, 128, 16, List.of(NOIOMMU_SETUP.subList(1, 4))));
        assertThat(without.ok()).isFalse();
        assertThat(without.levels().get(1).log()).contains("vfio-pci: probe of 0000:00:04.0 failed with error -22");
        assertThat(without.levels().get(1).noIommu()).isNull();
        assertThat(without.unsafe()).isNull();
        assertThat(without.failure()).startsWith("viommu run: --workload static in L1: VFIO in the guest needs the"
                + " guest's intel-iommu driver");
    }

    /**
     * Over that, L2 cannot have the device: L1's QEMU 7.2 reads the device's iommu_group link (the
     * no-IOMMU group 0) and opens /dev/vfio/0, which that mode does not create (only noiommu-0).
     */
    @Test
    void anL2CannotHaveTheDeviceOfAnL1InNoIommuMode() throws Exception {
        NestedReport r = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(PLAIN_L1, L2), false,
                VmRun.Workload.NONE, 0, 0, List.of(NOIOMMU_SETUP)));
        assertThat(r.ok()).isFalse();
        assertThat(r.failedAt()).isEqualTo("L2");
        assertThat(r.failure()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=0000:00:04.0,addr=03.0: vfio"
                + " 0000:00:04.0: failed to open /dev/vfio/0: No such file or directory");
        assertThat(r.levels().get(2).iommu()).isEqualTo("never started");
        NestedReport.Level l1 = r.levels().get(1);
        assertThat(l1.device().vfioNode()).isEqualTo("/dev/vfio/noiommu-0");
        assertThat(l1.log()).contains("vfio-pci 0000:00:04.0: Adding kernel taint for vfio-noiommu group on device");
        assertThat(l1.noIommu()).contains("no VM above it can be given the device");
        assertThat(r.unsafe()).isNull();
    }

    /**
     * The nic-ring workload in L2: every packet's map and unmap trap in L2's VMM, become VFIO calls
     * in L1, trap again in L1's VMM and become host VFIO calls and host IOTLB invalidations: the
     * same per-packet count at every level, all frames delivered; in L1 alone, one level of it.
     */
    @Test
    void theNicRingInL2CostsEachLevelTheSameTrapsAndVfioCallsPerPacket() throws Exception {
        NestedReport r = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(L1, L2), true, 128, 32));
        assertThat(r.ok()).as(r.failure()).isTrue();
        NestedReport.Workload w = r.workload();
        assertThat(w.runsIn()).isEqualTo("L2");
        assertThat(w.delivered()).isEqualTo(128);
        assertThat(w.levels()).extracting(NestedReport.LevelCost::level).containsExactly("L1", "L2");
        double traps = w.levels().get(1).trapsPerPacket();
        assertThat(traps).isGreaterThanOrEqualTo(2.0); // a map and an unmap per packet, each invalidated (caching mode)
        assertThat(w.levels().get(0).trapsPerPacket()).isEqualTo(traps);
        assertThat(w.levels().get(0).vfioCallsPerPacket()).isEqualTo(w.levels().get(1).vfioCallsPerPacket());
        assertThat(w.hostIotlbInvalidationsPerPacket()).isEqualTo(traps);
        NestedReport one = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(L1), true, 128, 32));
        assertThat(one.ok()).as(one.failure()).isTrue();
        assertThat(one.workload().levels()).hasSize(1);
        assertThat(one.workload().levels().get(0).trapsPerPacket()).isEqualTo(traps);
        assertThat(one.workload().hostIotlbInvalidationsPerPacket()).isEqualTo(traps);
    }

    /**
     * The host's IOTLB invalidations per packet depend on the host unit, not on the nesting: Linux
     * 6.1's intel-iommu invalidates after every unmap, and after a map only when the unit reports
     * caching mode ({@code __mapping_notify_one}; a physical unit does not). So on a host without
     * caching mode they are L1's VMM's UNMAP_DMA calls per packet (half its traps: one map and one
     * unmap per packet), on a QEMU host with it its MAP_DMA and UNMAP_DMA calls together.
     */
    @Test
    void theHostInvalidatesOnUnmapOnlyUnlessItsUnitHasCachingMode() throws Exception {
        NestedReport plain = NestedRun.run(GuestTest.host(false), new NestedRun.Options("host", List.of(L1, L2), true, 128, 32));
        assertThat(plain.ok()).as(plain.failure()).isTrue();
        NestedReport.Workload w = plain.workload();
        assertThat(w.hostCachingMode()).isFalse();
        NestedReport.LevelCost l1 = w.levels().get(0);
        assertThat(l1.mapCallsPerPacket()).isEqualTo(l1.unmapCallsPerPacket()).isPositive();
        assertThat(l1.vfioCallsPerPacket()).isEqualTo(l1.mapCallsPerPacket() + l1.unmapCallsPerPacket());
        assertThat(w.hostIotlbInvalidationsPerPacket()).isEqualTo(l1.unmapCallsPerPacket())
                .isEqualTo(l1.trapsPerPacket() / 2);
        NestedReport cm = NestedRun.run(GuestTest.host(true), new NestedRun.Options("host", List.of(L1, L2), true, 128, 32));
        assertThat(cm.ok()).as(cm.failure()).isTrue();
        assertThat(cm.workload().hostCachingMode()).isTrue();
        NestedReport.LevelCost c1 = cm.workload().levels().get(0);
        assertThat(cm.workload().hostIotlbInvalidationsPerPacket()).isEqualTo(c1.vfioCallsPerPacket())
                .isEqualTo(c1.trapsPerPacket());
        // the levels above pay the same whatever the host unit
        assertThat(c1.trapsPerPacket()).isEqualTo(l1.trapsPerPacket());
    }

    /**
     * {@code --workload static} in L2: L2's kernel binds the device to its own vfio-pci and a
     * DPDK-style process maps its buffer area once through that VFIO; the one MAP_DMA programs
     * L2's vIOMMU, is trapped by L2's VMM and mirrored into L1's VFIO, trapped again by L1's VMM
     * and mirrored into the host's: every packet then arrives with no trap and no VFIO call at
     * any level (the set-up's, spread over the packets, aside), all delivered.
     */
    @Test
    void aStaticDpdkRingInL2IsShadowedOnceThroughEveryLevelAndCostsNothingPerPacket() throws Exception {
        NestedReport dyn = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(L1, L2), true,
                VmRun.Workload.NIC_RING, 256, 32));
        NestedReport st = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(L1, L2), true,
                VmRun.Workload.STATIC, 256, 32));
        assertThat(st.ok()).as(st.failure()).isTrue();
        NestedReport.Workload w = st.workload();
        assertThat(w.name()).isEqualTo("static");
        assertThat(w.delivered()).isEqualTo(256);
        assertThat(w.dmaFaults()).isZero();
        assertThat(w.levels()).extracting(NestedReport.LevelCost::level).containsExactly("L1", "L2");
        for (NestedReport.LevelCost c : w.levels()) {
            // the set-up: the area's MAP_DMA (and the teardown's UNMAP_DMA) only, well under one call per packet
            assertThat(c.mapCallsPerPacket() * 256).as(c.level()).isBetween(1.0, 16.0);
            assertThat(c.trapsPerPacket() * 256).as(c.level()).isBetween(1.0, 32.0);
            assertThat(c.trapsPerPacket()).isLessThan(dyn.workload().levels().get(0).trapsPerPacket() / 8);
        }
        // the level below repeats what the level above did: one shadow per level
        assertThat(w.levels().get(0).mapCallsPerPacket()).isEqualTo(w.levels().get(1).mapCallsPerPacket());
        assertThat(w.hostIotlbInvalidationsPerPacket()).isLessThan(dyn.workload().hostIotlbInvalidationsPerPacket() / 8);
        // the innermost guest's device is on its own vfio-pci now (the DPDK process bound it)
        assertThat(st.levels().get(2).device().driver()).isEqualTo("vfio-pci");
    }

    /**
     * Without --managed, L1's root binds the device by hand before L2 starts (--nest-setup): the
     * lines run in L1's kernel, their output is kept in the report, and L2 runs; a failing line
     * stops the run there, before L2's VMM, with the line named.
     */
    @Test
    void l1sRootCanBindTheDeviceByHandBeforeL2Starts() throws Exception {
        List<String> bind = List.of("# L1's root", "modprobe vfio-pci",
                "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override",
                "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe");
        NestedReport r = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(L1, L2), false,
                VmRun.Workload.NONE, 0, 0, List.of(bind)));
        assertThat(r.ok()).as(r.failure()).isTrue();
        assertThat(r.levels().get(1).setup()).extracting(NestedReport.SetupLine::command)
                .containsExactly(bind.get(1), bind.get(2), bind.get(3));
        assertThat(r.levels().get(1).setup()).allMatch(NestedReport.SetupLine::ok);
        assertThat(r.levels().get(2).managed()).isEmpty();
        assertThat(r.levels().get(1).device().driver()).isEqualTo("vfio-pci");
        NestedReport bad = NestedRun.run(GuestTest.host(), new NestedRun.Options("host", List.of(L1, L2), false,
                VmRun.Workload.NONE, 0, 0, List.of(List.of("modprobe vfio-pci",
                        "echo vfio-pci > /sys/bus/pci/devices/0000:00:09.0/driver_override"))));
        assertThat(bad.ok()).isFalse();
        assertThat(bad.failure()).isEqualTo("viommu run: L1's setup (--nest-setup) failed at: echo vfio-pci >"
                + " /sys/bus/pci/devices/0000:00:09.0/driver_override");
        assertThat(bad.levels().get(1).setup().get(1).ok()).isFalse();
        assertThat(bad.levels().get(1).setup().get(1).output()).isNotEmpty();
        assertThat(bad.levels().get(2).vmm()).isNull(); // L2 never started
    }
}
