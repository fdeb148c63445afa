package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class ScenarioCommandTest {
    @Test
    void nicRingPrintsOneRowPerPolicyAndCachingModePlusStaticVfioWithEveryPacketDelivered() {
        CliRun r = CliRun.of("scenario", "nic-ring", "--packets", "300", "--ring", "16");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("NIC ring: 300 packets of 1500 bytes into a ring of 16 buffers");
        assertThat(r.out().lines().filter(l -> l.startsWith("DMA API"))).hasSize(4);
        assertThat(r.out()).containsPattern("DMA API lazy->strict +on +1 +1 +2 ");
        assertThat(r.out().lines().filter(l -> l.startsWith("VFIO static"))).hasSize(2);
        // static mappings: nothing per packet, one MAP_DMA at setup
        assertThat(r.out()).containsPattern("VFIO static +on( +0){11} \\| +1 ");
        assertThat(r.out().lines().filter(l -> l.startsWith("DMA API") || l.startsWith("VFIO")))
                .allSatisfy(l -> assertThat(l).endsWith("| 300/300"));
    }

    @Test
    void nicRingJsonCarriesPerPacketCostsAndNullsWhereNothingShadows() throws Exception {
        CliRun r = CliRun.of("scenario", "nic-ring", "--packets", "255", "--ring", "8", "--policy", "strict",
                "--caching-mode", "both", "--json");
        assertThat(r.code()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("scenario").asText()).isEqualTo("nic-ring");
        JsonNode runs = j.get("runs");
        assertThat(runs).hasSize(4);
        JsonNode off = runs.get(0);
        JsonNode on = runs.get(2);
        assertThat(runs.get(1).get("mapping").asText()).isEqualTo("static_vfio");
        assertThat(runs.get(3).get("perPacket").get("notifierEvents").asDouble()).isZero();
        assertThat(runs.get(3).get("setup").get("maps").asLong()).isEqualTo(1);
        assertThat(off.get("cachingMode").asBoolean()).isFalse();
        assertThat(off.get("perPacket").get("iotlbPage").asDouble()).isEqualTo(1.0);
        assertThat(off.get("perPacket").get("notifierEvents").isNull()).isTrue();
        assertThat(on.get("perPacket").get("iotlbPage").asDouble()).isEqualTo(2.0);
        assertThat(on.get("perPacket").get("notifierEvents").asDouble()).isEqualTo(2.0);
        assertThat(on.get("traffic").get("hostPagesMapped").asLong()).isEqualTo(255);
        assertThat(on.get("delivered").asLong()).isEqualTo(255);
    }

    @Test
    void nicRingRefusesSizesOutsideItsLimitsWithUsageExit() {
        CliRun r = CliRun.of("scenario", "nic-ring", "--packets", "0");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--packets must be 1..1000000");
        assertThat(CliRun.of("scenario", "nic-ring", "--policy", "sometimes").code()).isEqualTo(2);
    }
}
