package io.viommu.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.acpi.AcpiTable;
import io.viommu.machine.acpi.TableLoader;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The DMAR table viommu publishes against the one QEMU 7.2 publishes, both read over qtest
 * from fw_cfg etc/acpi/tables (DMA interface) and compared byte for byte, checksum byte
 * included (both leave it 0 for the firmware's ADD_CHECKSUM command); plus the fw_cfg
 * signature, feature bitmap and file-directory format.
 */
class DmarTableConformanceTest {

    record Tables(byte[] dmar, Map<String, FwCfgQtestReader.FileEntry> dir, byte[] signature, byte[] id,
                  byte[] loader) {
    }

    static Tables read(QtestPeer q) {
        FwCfgQtestReader r = new FwCfgQtestReader(q);
        byte[] sig = r.readItemByPorts(0, 4);
        byte[] id = r.readItemByPorts(1, 4);
        Map<String, FwCfgQtestReader.FileEntry> dir = r.directory();
        byte[] blob = r.readFile("etc/acpi/tables");
        byte[] loader = r.readFile("etc/table-loader");
        return new Tables(blob == null ? null : FwCfgQtestReader.findTable(blob, "DMAR"), dir, sig, id, loader);
    }

    static void assertSameDmar(String... args) {
        Tables qemu;
        Tables ours;
        try (QtestPeer q = Differential.qemu(args)) {
            qemu = read(q);
        }
        try (QtestPeer v = Differential.viommu(args)) {
            ours = read(v);
        }
        assertThat(qemu.dmar()).as("QEMU publishes a DMAR for %s", List.of(args)).isNotNull();
        assertThat(HexFormat.of().formatHex(ours.dmar())).as("DMAR for %s", List.of(args))
                .isEqualTo(HexFormat.of().formatHex(qemu.dmar()));
        assertThat(ours.signature()).isEqualTo(qemu.signature()).isEqualTo("QEMU".getBytes());
        assertThat(ours.id()).isEqualTo(qemu.id());
        assertDirectoryFormat(qemu.dir());
        assertDirectoryFormat(ours.dir());
        // What the firmware does with our loader script: a DMAR with a valid checksum.
        byte[] fixed = ours.dmar().clone();
        TableLoader.applyChecksums(ours.loader(), "etc/acpi/tables", fixed);
        assertThat(AcpiTable.checksumValid(fixed)).isTrue();
    }

    /** Sorted by name, selects from 0x20 in that order, reserved 0 (QEMU 7.2's format). */
    static void assertDirectoryFormat(Map<String, FwCfgQtestReader.FileEntry> dir) {
        List<String> names = new ArrayList<>(dir.keySet());
        assertThat(names).isSorted().contains("etc/acpi/tables", "etc/table-loader");
        int i = 0;
        for (FwCfgQtestReader.FileEntry e : dir.values()) {
            assertThat(e.select()).isEqualTo(0x20 + i++);
            assertThat(e.reserved()).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"intel-iommu", "intel-iommu,intremap=off", "intel-iommu,device-iotlb=on",
            "intel-iommu,aw-bits=48", "intel-iommu,caching-mode=on,intremap=on", "intel-iommu,x-buggy-eim=on"})
    void dmarMatchesQemuByteForByte(String device) {
        assertSameDmar("-device", device);
    }

    @Test
    void dmarListsEveryRootBusFunctionIncludingDevicesAddedLater() {
        assertSameDmar("-device", "intel-iommu", "-device", "edu", "-device", "edu,addr=05.0");
    }

    @Test
    void dmarWithExtendedInterruptModeUnderKvmSplitIrqchip() {
        Differential.requireKvm();
        assertSameDmar("-accel", "kvm", "-machine", "q35,kernel-irqchip=split", "-device", "intel-iommu,eim=on");
    }

    @Test
    void fwCfgDmaReportsSuccessAndPortReadsAgree() {
        for (QtestPeer q : List.of(Differential.qemu("-device", "intel-iommu"),
                Differential.viommu("-device", "intel-iommu"))) {
            try (q) {
                FwCfgQtestReader r = new FwCfgQtestReader(q);
                int[] control = new int[1];
                byte[] sigByDma = r.readByDma(0, 4, control);
                assertThat(control[0]).isZero();
                assertThat(sigByDma).isEqualTo("QEMU".getBytes());
                // Past the end of an item: zeros.
                assertThat(r.readItemByPorts(0, 6)).containsExactly('Q', 'E', 'M', 'U', 0, 0);
                // The DMA register reads back the "QEMU CFG" signature.
                assertThat(q.cmd("inb 0x514")).isEqualTo("OK 0x0051");
            }
        }
    }
}
