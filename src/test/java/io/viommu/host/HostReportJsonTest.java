package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostReportJsonTest {
    private static JsonNode json(Path tree) throws IOException {
        return new ObjectMapper().readTree(HostReportJson.format(Trees.report(tree)));
    }

    private static JsonNode device(JsonNode root, String bdf) {
        return StreamSupport.stream(root.get("devices").spliterator(), false)
                .filter(d -> d.get("address").asText().equals(bdf)).findFirst().orElseThrow();
    }

    @Test
    void jsonCarriesSchemaIommuVerdictsAndAssignmentFields() throws IOException {
        JsonNode j = json(Trees.INTEL_VTD);
        assertThat(j.get("schema").asText()).isEqualTo("viommu.host-scan/1");
        assertThat(j.at("/iommu/enabled").asBoolean()).isTrue();
        assertThat(j.at("/iommu/vendor").asText()).isEqualTo("intel");
        assertThat(j.at("/iommu/cause").isNull()).isTrue();
        assertThat(j.at("/iommu/dmar/hostAddressWidth").asInt()).isEqualTo(46);
        assertThat(j.at("/iommu/dmar/rmrrs/0/scopes/0").asText()).isEqualTo("endpoint 00:14.0");
        assertThat(j.at("/iommu/units/0/ecap").asText()).isEqualTo("f020df");
        assertThat(j.at("/interruptRemapping/state").asText()).isEqualTo("enabled");
        assertThat(j.at("/host/vmx").asBoolean()).isTrue();
        assertThat(j.at("/host/kernelConfig/CONFIG_INTEL_IOMMU").asText()).isEqualTo("y");
        JsonNode gpu = device(j, "0000:01:00.0");
        assertThat(gpu.get("id").asText()).isEqualTo("10de:1e87");
        assertThat(gpu.get("classCode").asText()).isEqualTo("0x030000");
        assertThat(gpu.get("group").asInt()).isEqualTo(7);
        assertThat(gpu.get("pcieType").asText()).isEqualTo("legacy-endpoint");
        assertThat(gpu.at("/reset/methods/0").asText()).isEqualTo("bus");
        assertThat(gpu.at("/reset/source").asText()).isEqualTo("reset_method");
        assertThat(gpu.at("/acsPath/0/bridge").asText()).isEqualTo("0000:00:01.0");
        assertThat(gpu.at("/assignment/verdict").asText()).isEqualTo("assignable-with-group");
        assertThat(gpu.at("/assignment/mustGoWith/0").asText()).isEqualTo("0000:01:00.1");
        assertThat(gpu.at("/assignment/reasons/0/severity").asText()).isEqualTo("INFO");
        assertThat(gpu.at("/assignment/qemu/0").asText()).isEqualTo("-device vfio-pci,host=0000:01:00.0");
        JsonNode pf = device(j, "0000:02:00.0");
        assertThat(pf.at("/sriov/numVfs").asInt()).isEqualTo(2);
        assertThat(pf.at("/sriov/vfs/1").asText()).isEqualTo("0000:02:10.2");
        assertThat(device(j, "0000:02:10.0").get("physfn").asText()).isEqualTo("0000:02:00.0");
        assertThat(j.at("/groups/7/endpoints").size()).isEqualTo(2);
    }

    @Test
    void jsonOfAHostWithoutIommuSaysWhyAndHasNullGroups() throws IOException {
        JsonNode j = json(Trees.FIRECRACKER_VM);
        assertThat(j.at("/iommu/enabled").asBoolean()).isFalse();
        assertThat(j.at("/iommu/firmware").asText()).isEqualTo("none");
        assertThat(j.at("/iommu/reasons").size()).isEqualTo(4);
        assertThat(j.at("/iommu/cause").asText()).contains("Firecracker");
        assertThat(j.at("/iommu/dmar").isNull()).isTrue();
        assertThat(j.get("groups").size()).isZero();
        JsonNode blk = device(j, "0000:00:02.0");
        assertThat(blk.get("group").isNull()).isTrue();
        assertThat(blk.at("/assignment/verdict").asText()).isEqualTo("blocked");
        assertThat(blk.at("/assignment/reasons/0/severity").asText()).isEqualTo("BLOCKER");
        List<String> checkIds = StreamSupport.stream(j.get("checks").spliterator(), false).map(c -> c.get("id").asText()).toList();
        assertThat(checkIds).containsExactly("hw-virt", "dev-kvm", "iommu-firmware", "iommu-kernel", "irq-remapping", "vfio");
    }

    @Test
    void snapshotOfASavedTreeReadsBackToTheSameReport(@TempDir Path tmp) throws IOException {
        for (Path tree : List.of(Trees.INTEL_VTD, Trees.INTEL_VTD_OFF, Trees.FIRECRACKER_VM)) {
            Path copy = tmp.resolve(tree.getFileName());
            HostSnapshotWriter.write(new SavedTree(tree), copy);
            HostReport a = Trees.report(tree);
            HostReport b = Trees.report(copy);
            String ja = HostReportJson.format(a).replace(a.source(), "SRC");
            String jb = HostReportJson.format(b).replace(b.source(), "SRC");
            assertThat(jb).as(tree.toString()).isEqualTo(ja);
        }
    }

    @Test
    void snapshotRefusesANonEmptyDirectory(@TempDir Path tmp) throws IOException {
        java.nio.file.Files.writeString(tmp.resolve("x"), "x");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> HostSnapshotWriter.write(new SavedTree(Trees.INTEL_VTD), tmp))
                .isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
    }
}
