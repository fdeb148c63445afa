package io.viommu.machine.device;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.pci.MsixCapability;
import org.junit.jupiter.api.Test;

/**
 * virtio-pci's MSI-X outside what the QEMU capture (VmmVirtioMsixCaptureTest, 2 vectors) shows:
 * the exclusive BAR's layout for larger tables (msix_init_exclusive_bar) and a vector shared by
 * the configuration and a queue staying used while either still holds it (msix_entry_used counts).
 */
class VirtioPciMsixTest {
    private static Endpoints.VirtioPci blk(int vectors) {
        return new Endpoints.VirtioPci(Endpoints.VirtioKind.BLK, new Endpoints.Placement(true, true), false, true,
                vectors, false, false, new VirtioFunctions.Blk(1, 1 << 20));
    }

    @Test
    void theExclusiveBarKeepsFourKibUntilTableAndPbaOutgrowIt() {
        int[][] cases = {{2, 0x800, 0x1000}, {128, 0x800, 0x1000}, {200, 3200, 0x1000}, {250, 4000, 0x2000},
                {256, 4096, 0x2000}, {600, 9600, 0x4000}};
        for (int[] c : cases) {
            Endpoints.VirtioPci f = blk(c[0]);
            int cap = f.msix().capability();
            assertThat(MsixCapability.vectors((int) f.configRead(cap + MsixCapability.CONTROL, 2))).isEqualTo(c[0]);
            assertThat(f.configRead(cap + MsixCapability.TABLE, 4)).as("table of %d", c[0]).isEqualTo(1);
            assertThat(f.configRead(cap + MsixCapability.PBA, 4)).as("PBA of %d", c[0]).isEqualTo(c[1] | 1);
            assertThat(f.bar(1).size()).as("BAR1 of %d vectors", c[0]).isEqualTo(c[2]);
        }
        assertThat(blk(0).msix()).isNull();
    }

    @Test
    void aVectorSharedByConfigurationAndQueueStaysUsedUntilBothLetGo() {
        Endpoints.VirtioPci f = blk(2);
        VirtioModern q = f.queue();
        q.store(VirtioModern.MSIX_CONFIG, 1, 2);
        q.store(VirtioModern.QUEUE_SELECT, 0, 2);
        q.store(VirtioModern.QUEUE_MSIX_VECTOR, 1, 2);
        assertThat(f.msix().isUsed(1)).isTrue();
        q.store(VirtioModern.QUEUE_MSIX_VECTOR, VirtioModern.NO_VECTOR, 2);
        assertThat(f.msix().isUsed(1)).as("still the configuration's").isTrue();
        q.store(VirtioModern.MSIX_CONFIG, 7, 2); // past the table: NO_VECTOR, and vector 1 let go
        assertThat(q.load(VirtioModern.MSIX_CONFIG, 2)).isEqualTo(VirtioModern.NO_VECTOR);
        assertThat(f.msix().isUsed(1)).isFalse();
        q.store(VirtioModern.QUEUE_MSIX_VECTOR, 0, 2);
        q.store(VirtioModern.DEVICE_STATUS, 0, 1); // reset: msix_unuse_all_vectors
        assertThat(f.msix().isUsed(0)).isFalse();
        assertThat(q.load(VirtioModern.QUEUE_MSIX_VECTOR, 2)).isEqualTo(VirtioModern.NO_VECTOR);
    }
}
