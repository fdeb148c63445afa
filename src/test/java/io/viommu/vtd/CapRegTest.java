package io.viommu.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The one CAP/ECAP layout: what VtdConfig composes, the decoders read back. */
class CapRegTest {
    @Test
    void qemuDefaultCapDecodesToItsFields() {
        long cap = VtdConfig.defaults().cap(); // QEMU 7.2: 0x00d2008c22260206 ("cap d2008c22260206")
        assertThat(cap).isEqualTo(0x00d2008c22260206L);
        assertThat(CapReg.domains(cap)).isEqualTo(65536);
        assertThat(CapReg.mgaw(cap)).isEqualTo(39);
        assertThat(CapReg.supportsAgaw(cap, 1)).isTrue();
        assertThat(CapReg.supportsAgaw(cap, 2)).isFalse();
        assertThat(CapReg.faultRecordOffset(cap)).isEqualTo(VtdConfig.FRCD_OFFSET);
        assertThat(CapReg.faultRecordCount(cap)).isEqualTo(1);
        assertThat(CapReg.faultRecordsEnd(cap)).isEqualTo(VtdConfig.defaults().registerBlockSize());
        assertThat(CapReg.psi(cap)).isTrue();
        assertThat(CapReg.mamv(cap)).isEqualTo(18);
        assertThat(CapReg.superPages(cap)).isEqualTo(3);
        assertThat(CapReg.cachingMode(cap)).isFalse();
        assertThat(CapReg.rwbf(cap)).isFalse();
        assertThat(CapReg.esrtps(cap)).isFalse();
    }

    @Test
    void qemuDefaultEcapDecodesToItsFields() {
        long ecap = VtdConfig.defaults().ecap(); // intremap defaults to on (auto) in this model
        assertThat(EcapReg.queuedInvalidation(ecap)).isTrue();
        assertThat(EcapReg.iotlbOffset(ecap)).isEqualTo(VtdRegisters.IVA);
        assertThat(EcapReg.iotlbEnd(ecap)).isEqualTo(VtdRegisters.IVA + 16);
        assertThat(EcapReg.interruptRemapping(ecap)).isTrue();
        assertThat(EcapReg.maxHandleMask(ecap)).isEqualTo(0xf);
        assertThat(EcapReg.scalableMode(ecap)).isFalse();
    }

    @Test
    void eachFlagOptionSetsItsOneBit() {
        VtdConfig d = VtdConfig.defaults();
        VtdConfig cm = new VtdConfig(true, false, true, true, true, 48, true, true, true, true, true, 4, 1024, true, true, false);
        assertThat(CapReg.cachingMode(cm.cap())).isTrue();
        assertThat(CapReg.faultRecordCount(cm.cap())).isEqualTo(4);
        assertThat(CapReg.mgaw(cm.cap())).isEqualTo(48);
        assertThat(CapReg.supportsAgaw(cm.cap(), 2)).isTrue();
        assertThat(CapReg.readDrain(cm.cap()) && CapReg.writeDrain(cm.cap())).isTrue();
        assertThat(CapReg.firstLevel1GPages(cm.cap()) && CapReg.firstLevel5Level(cm.cap())).isTrue();
        long e = cm.ecap();
        assertThat(EcapReg.deviceIotlb(e) && EcapReg.passThrough(e) && EcapReg.scalableMode(e)
                && EcapReg.secondLevel(e) && EcapReg.firstLevel(e) && EcapReg.nested(e) && EcapReg.pasid(e)
                && EcapReg.snoopControl(e)).isTrue();
        assertThat(EcapReg.deviceIotlb(d.ecap()) || EcapReg.scalableMode(d.ecap())).isFalse();
    }
}
