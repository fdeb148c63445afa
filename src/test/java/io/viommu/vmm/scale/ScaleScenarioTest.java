package io.viommu.vmm.scale;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * Many VMs on one host at small scale: the same host (4 nvme x 64 VFs), a few VMs, a few
 * thousand mappings; every count, every mapping's DMA, and the limits Linux puts on it.
 */
class ScaleScenarioTest {
    @Test
    void threeVmsShadowEveryGuestMappingAndEachVfsDmaLandsInItsOwnVmsPagesOnly() {
        ScaleReport r = ScaleScenario.run(new ScaleScenario.Options(3, 3001, -1, -1, 1), ScaleScenario.Progress.NONE);
        var c = r.counts();
        assertThat(c.hostVfs()).isEqualTo(256);
        assertThat(c.vfGroups()).as("a VF behind a root port with ACS is a group of its own").isEqualTo(256);
        assertThat(c.vmsRunning()).isEqualTo(3);
        assertThat(c.guestMappings()).isEqualTo(3001);
        assertThat(c.guestMapFailures()).isZero();
        // the guests' nvme drivers map their admin queues too: each a host entry of its own
        assertThat(c.hostVfioEntries()).isGreaterThanOrEqualTo(3001).isLessThan(3001 + 3 * 8);
        assertThat(c.distinctGuestPages()).isEqualTo(3 * 1001);
        assertThat(c.mapErrors()).isZero();
        var k = r.check();
        assertThat(k.dmas()).isEqualTo(3001);
        assertThat(k.landed()).isEqualTo(3001);
        assertThat(k.wrongFrame()).isZero();
        assertThat(k.crossVm()).isZero();
        assertThat(k.faulted()).isZero();
        assertThat(k.probesFaulted()).as("a DMA to an IOVA no guest mapped is stopped in the host unit").isEqualTo(3);
        assertThat(r.costs().translations()).isEqualTo(3001L * 16);
        assertThat(r.costs().dmaFaults()).isZero();
        assertThat(r.memory().javaHeapAfterGc()).isPositive();
        // guest RAM lives off-heap; only the pages touched are backed (not 3 x 128 MiB)
        assertThat(r.memory().offHeap()).isPositive().isLessThan(128L << 20);
        assertThat(r.breaksFirst()).isNull();
        assertThat(r.ok()).isTrue();
        assertThat(r.hostSetup()).contains("echo 64 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs",
                "echo vfio-pci > /sys/bus/pci/devices/0000:01:00.3/driver_override");
        // QEMU 7.2's nvme VF reports INTx pin 1; vfio-pci (6.1 vfio_config_init) shows 0 and warns once per open
        assertThat(r.hostLog()).contains("vfio-pci 0000:01:00.1: Hardware bug: VF reports bogus INTx pin 1");
        // root VMMs: every pinned page is charged to locked_vm all the same
        assertThat(c.lockedPages()).isEqualTo(c.hostVfioEntries());
    }

    @Test
    void aContainerPastDmaEntryLimitGetsEnospcWithQemusLinesAndTheUnshadowedMappingsFaultInTheHostUnit() {
        // vfio_iommu_type1.dma_entry_limit=1000, 1300 guest mappings per VM
        ScaleReport r = ScaleScenario.run(new ScaleScenario.Options(2, 2600, -1, 1000, 1), ScaleScenario.Progress.NONE);
        assertThat(r.hostSetup()).contains("echo 1000 > /sys/module/vfio_iommu_type1/parameters/dma_entry_limit");
        assertThat(r.counts().hostVfioEntries()).isEqualTo(2 * 1000);
        assertThat(r.counts().guestMappings()).as("the guest does not know").isEqualTo(2600);
        assertThat(r.breaksFirst()).startsWith("VFIO_IOMMU_MAP_DMA -ENOSPC: the container of VM 0 reached"
                + " vfio_iommu_type1.dma_entry_limit (1000 mappings)");
        assertThat(r.failures()).hasSize(2);
        assertThat(r.failures().get(0).lines()).first().asString()
                .isEqualTo("qemu-system-x86_64: VFIO_MAP_DMA failed: No space left on device");
        assertThat(r.failures().get(0).lines().get(1))
                .matches("qemu-system-x86_64: vfio_dma_map\\(0x55812c3d4e50, 0x[0-9a-f]+, 0x1000, 0x7f[0-9a-f]+\\)"
                        + " = -28 \\(No space left on device\\)");
        var k = r.check();
        // each container: the guest nvme driver's few queue mappings, then the workload's up to the limit
        assertThat(k.landed()).isBetween(2000 - 16L, 1998L);
        assertThat(k.faulted()).isEqualTo(2600 - k.landed());
        assertThat(r.costs().dmaFaults()).isEqualTo(k.faulted() * 16);
        assertThat(k.wrongFrame()).isZero();
        assertThat(k.crossVm()).isZero();
        assertThat(r.ok()).isFalse();
    }

    @Test
    void anUnprivilegedVmmWhoseMemlockIsBelowItsRamCannotStartAndSaysWhyAsQemuAndLinuxDo() {
        ScaleReport r = ScaleScenario.run(new ScaleScenario.Options(2, 20, 64L << 20, -1, 1), ScaleScenario.Progress.NONE);
        assertThat(r.counts().vmsRunning()).isZero();
        assertThat(r.breaksFirst()).isEqualTo("VFIO_IOMMU_MAP_DMA -ENOMEM: VM 0's VMM passed RLIMIT_MEMLOCK"
                + " (65536 KiB; vfio_pin_pages_remote)");
        assertThat(r.failures().get(0).lines()).anySatisfy(l -> assertThat(l).isEqualTo(
                "qemu-system-x86_64: -device vfio-pci,host=0000:01:00.1: VFIO_MAP_DMA failed: Cannot allocate memory"));
        assertThat(r.failures().get(0).lines()).anySatisfy(l -> assertThat(l).contains(
                "memory listener initialization failed: Region pc.ram: vfio_dma_map(0x55812c3d4e50, 0x0, 0x8000000, ")
                .endsWith(") = -12 (Cannot allocate memory)"));
        assertThat(r.hostLog()).contains("vfio_pin_pages_remote: RLIMIT_MEMLOCK (67108864) exceeded");
        assertThat(r.check().dmas()).isZero();
    }

    @Test
    void optionsOutsideTheHostAreRefusedWithTheReason() {
        assertThatThrownBy(() -> new ScaleScenario.Options(257, 1000, -1, -1, 1))
                .hasMessage("--vms must be 1..256 (the host has 256 VFs), got 257");
        assertThatThrownBy(() -> new ScaleScenario.Options(8, 7, -1, -1, 1))
                .hasMessage("--maps must be at least --vms (8) and at most 4000000, got 7");
    }
}
