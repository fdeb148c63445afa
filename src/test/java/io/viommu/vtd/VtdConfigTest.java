package io.viommu.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** CAP/ECAP and messages as read from qemu-system-x86_64 7.2 (q35, qtest, TCG). */
class VtdConfigTest {

    static Map<String, String> props(String spec) {
        Map<String, String> m = new LinkedHashMap<>();
        if (!spec.isEmpty()) {
            for (String kv : spec.split(",")) {
                int eq = kv.indexOf('=');
                m.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        return m;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
            "version=0;                           00d2008c22260206; 0000000000f00f4a",
            "intremap=off,caching-mode=on;        00d2008c22260286; 0000000000000f42",
            "aw-bits=48;                          00d2008c222f0606; 0000000000f00f4a",
            "device-iotlb=on;                     00d2008c22260206; 0000000000f00f4e",
            "pt=off;                              00d2008c22260206; 0000000000f00f0a",
            "snoop-control=on;                    00d2008c22260206; 0000000000f00fca",
            "x-scalable-mode=on;                  00d2008c22260206; 0000480080f00f4a",
            "x-scalable-mode=on,x-pasid-mode=on;  00d2008c22260206; 0000490080f00f4a",
            "dma-drain=off;                       0012008c22260206; 0000000000f00f4a",
            "dma-translation=off;                 00d2008c22260006; 0000000000f00f4a",
            "x-buggy-eim=on,eim=on;               00d2008c22260206; 0000000000f00f5a",
            "intremap=off;                        00d2008c22260206; 0000000000000f42",
    })
    void capAndEcapReadAsQemu72(String spec, String cap, String ecap) {
        VtdBench b = VtdBench.withProps(props(spec.trim()));
        assertThat(b.readq(VtdRegisters.CAP)).isEqualTo(Long.parseUnsignedLong(cap.trim(), 16));
        assertThat(b.readq(VtdRegisters.ECAP)).isEqualTo(Long.parseUnsignedLong(ecap.trim(), 16));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
            "caching-mode=xx; Parameter 'caching-mode' expects 'on' or 'off'",
            "caching-mode=ON; Parameter 'caching-mode' expects 'on' or 'off'",
            "caching-mode=; Parameter 'caching-mode' expects 'on' or 'off'",
            "foo=1; Property 'intel-iommu.foo' not found",
            "stale-tm=on; Property 'intel-iommu.stale-tm' not found",
            "aw-bits=40; Supported values for aw-bits are: 39, 48",
            "aw-bits=xx; Parameter 'aw-bits' expects integer",
            "aw-bits=048; Parameter 'aw-bits' expects integer",
            "aw-bits=300; Parameter 'aw-bits' expects uint8_t",
            "aw-bits=-1; Parameter 'aw-bits' expects uint8_t",
            "eim=on,intremap=off; eim=on cannot be selected without intremap=on",
            "eim=xx; Parameter 'eim' does not accept value 'xx'",
            "intremap=xx; Parameter 'intremap' does not accept value 'xx'",
            "eim=on; eim=on requires accel=kvm,kernel-irqchip=split",
            "x-pasid-mode=on; Need to set scalable mode for PASID",
            "x-scalable-mode=on,dma-drain=off; Need to set dma_drain for scalable mode",
            "device-iotlb=on,x-pasid-mode=on,x-scalable-mode=on; PASID based device IOTLB is not supported",
            "version=xx; Parameter 'version' expects integer",
    })
    void badPropertiesFailWithQemusMessage(String spec, String message) {
        assertThatThrownBy(() -> VtdConfig.fromQemuProperties(props(spec)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(message);
    }

    @Test
    void boolSyntaxAcceptsQemusSpellings() {
        for (String on : new String[] {"on", "yes", "true", "y"}) {
            assertThat(VtdConfig.fromQemuProperties(Map.of("caching-mode", on)).cachingMode()).isTrue();
        }
        for (String off : new String[] {"off", "no", "false", "n"}) {
            assertThat(VtdConfig.fromQemuProperties(Map.of("pt", off)).pt()).isFalse();
        }
        assertThat(VtdConfig.fromQemuProperties(Map.of("aw-bits", "0x30")).awBits()).isEqualTo(48);
    }

    @Test
    void defaultsEqualAnEmptyPropertyList() {
        assertThat(VtdConfig.fromQemuProperties(Map.of())).isEqualTo(VtdConfig.defaults());
    }

    @Test
    void awBits57IsViommusExtensionWith5LevelSagaw() {
        VtdConfig c = VtdConfig.fromQemuProperties(Map.of("aw-bits", "57"));
        assertThat((c.cap() >>> 8) & 0x1f).isEqualTo(0xe);
        assertThat((c.cap() >>> 16) & 0x3f).isEqualTo(56);
    }

    @Test
    void moreFaultRecordsGrowNfrAndTheBlockButKeepFro() {
        VtdConfig c = VtdConfig.fromQemuProperties(Map.of("fault-records", "8"));
        assertThat((c.cap() >>> 40) & 0xff).isEqualTo(7);
        assertThat((c.cap() >>> 24) & 0x3ff).isEqualTo(0x22);
        assertThat(c.registerBlockSize()).isEqualTo(0x220 + 8 * 16);
        assertThatThrownBy(() -> VtdConfig.fromQemuProperties(Map.of("fault-records", "0")))
                .hasMessageContaining("fault-records");
        assertThatThrownBy(() -> VtdConfig.fromQemuProperties(Map.of("fault-records", "300")))
                .hasMessageContaining("fault-records");
    }
}
