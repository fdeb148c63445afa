package io.viommu.machine.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.machine.Machine;
import io.viommu.machine.device.MachineLog;
import java.util.List;
import org.junit.jupiter.api.Test;

/** JSON -device as libvirt 9.0 emits it, -accel qtest, -trace; every text checked against qemu-system-x86_64 7.2. */
class QemuCommandLineExtrasTest {

    static Machine machine(String... args) throws MachineConfigException {
        return MachineBuilder.fromCommandLine(List.of(args), MachineLog.SILENT);
    }

    static void refused(String json, String text) {
        assertThatThrownBy(() -> machine("-nodefaults", "-device", json))
                .hasMessage("qemu-system-x86_64: -device " + json + ": " + text);
    }

    @Test
    void jsonDevicesGoThroughTheSameCatalogWithTypedValues() throws Exception {
        QemuCommandLine cl = QemuCommandLine.parse(List.of("-device",
                "{\"driver\":\"intel-iommu\",\"id\":\"iommu0\",\"intremap\":\"on\",\"caching-mode\":true,\"aw-bits\":48}"));
        assertThat(cl.devices().get(0).driver()).isEqualTo("intel-iommu");
        assertThat(cl.devices().get(0).properties()).containsEntry("caching-mode", "on")
                .containsEntry("aw-bits", "48").containsEntry("intremap", "on").containsEntry("id", "iommu0");
        machine("-nodefaults", "-device", "{\"driver\":\"intel-iommu\",\"caching-mode\":true,\"aw-bits\":48}",
                "-device", "{\"driver\":\"edu\",\"addr\":\"0x4\"}");
        // "addr":4 is devfn 4: slot 0 function 4, which a single-function device cannot take
        refused("{\"driver\":\"edu\",\"addr\":4}", "PCI: single function device can't be populated in function 0.4");
    }

    @Test
    void keyValueDevicesAreCreatedBeforeJsonOnes() {
        assertThatThrownBy(() -> machine("-device", "{\"driver\":\"intel-iommu\",\"id\":\"a\"}",
                "-device", "intel-iommu,id=b"))
                .hasMessage("qemu-system-x86_64: -device {\"driver\":\"intel-iommu\",\"id\":\"a\"}: "
                        + "QEMU does not support multiple vIOMMUs for x86 yet.");
    }

    @Test
    void malformedJsonIsRefusedWithQemusText() {
        refused("{\"addr\":\"0x4\"}", "Parameter 'driver' is missing");
        refused("{\"driver\":5}", "Parameter 'driver' is missing");
        refused("{\"driver\":\"edu\",", "JSON parse error, premature EOI");
        refused("{\"driver\":\"edu\",\"bogus\":1}", "Property 'edu.bogus' not found");
        refused("{\"driver\":\"nope\"}", "'nope' is not a valid device model name");
        refused("{\"driver\":\"intel-iommu\",\"caching-mode\":1}",
                "Invalid parameter type for 'caching-mode', expected: boolean");
        refused("{\"driver\":\"intel-iommu\",\"caching-mode\":\"on\"}",
                "Invalid parameter type for 'caching-mode', expected: boolean");
        refused("{\"driver\":\"intel-iommu\",\"aw-bits\":\"48\"}", "Parameter 'aw-bits' expects uint64");
        refused("{\"driver\":\"intel-iommu\",\"intremap\":true}",
                "Invalid parameter type for 'intremap', expected: string");
        refused("{\"driver\":\"edu\",\"addr\":{\"a\":1}}", "Invalid parameter type for 'addr', expected int or str");
    }

    /** Upstream 7.2's qtest accelerator (Debian's build lacks it): accepted, TCG-like for the model. */
    @Test
    void qtestAcceleratorIsAcceptedAsUpstreamDoes() throws Exception {
        assertThat(QemuCommandLine.parse(List.of("-accel", "qtest")).accelerator()).isEqualTo(Accelerator.TCG);
        assertThat(QemuCommandLine.parse(List.of("-M", "q35,accel=qtest")).accelerator()).isEqualTo(Accelerator.TCG);
        assertThatThrownBy(() -> QemuCommandLine.parse(List.of("-accel", "bogus")))
                .hasMessage("qemu-system-x86_64: -accel bogus: invalid accelerator bogus");
    }

    @Test
    void traceIsAcceptedWithOneNoteAndQemusRefusals() throws Exception {
        QemuCommandLine cl = QemuCommandLine.parse(List.of("-trace", "vtd_*", "-trace", "enable=vtd_*",
                "-trace", "file=/tmp/x.log"));
        assertThat(cl.warnings()).containsExactly(io.viommu.machine.config.QemuTrace.NOTE,
                "viommu: note: -trace file=/tmp/x.log is not honoured: trace events go to stderr");
        assertThat(cl.tracePatterns()).containsExactly("vtd_*", "vtd_*");
        assertThatThrownBy(() -> QemuCommandLine.parse(List.of("-trace", "bogus=1")))
                .hasMessage("qemu-system-x86_64: -trace bogus=1: Invalid parameter 'bogus'");
        assertThatThrownBy(() -> QemuCommandLine.parse(List.of("-trace", "events=/nonexistent")))
                .hasMessage("qemu-system-x86_64:/nonexistent: No such file or directory");
    }
}
