package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.viommu.vmm.scale.ScaleReport;
import io.viommu.vmm.scale.ScaleScenario;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScenarioScaleTest {
    @Test
    void jsonCarriesTheOptionsCountsCheckCostsAndMemoryAndNothingElseOnStdout() throws Exception {
        CliRun r = CliRun.of("scenario", "scale", "--vms", "2", "--maps", "300", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("options").get("vms").asInt()).isEqualTo(2);
        assertThat(j.get("options").get("maps").asLong()).isEqualTo(300);
        assertThat(j.get("counts").get("hostVfs").asInt()).isEqualTo(256);
        assertThat(j.get("counts").get("guestMappings").asLong()).isEqualTo(300);
        assertThat(j.get("counts").get("hostVfioEntries").asLong()).isGreaterThanOrEqualTo(300);
        assertThat(j.get("check").get("landed").asLong()).isEqualTo(300);
        assertThat(j.get("check").get("crossVm").asLong()).isZero();
        assertThat(j.get("costs").get("translations").asLong()).isEqualTo(300 * 16);
        assertThat(j.get("memory").get("javaHeapAfterGc").asLong()).isPositive();
        assertThat(j.get("memory").get("offHeap").asLong()).isPositive();
        assertThat(j.get("breaksFirst").isNull()).isTrue();
        assertThat(j.get("ok").asBoolean()).isTrue();
        assertThat(j.get("costs").get("translationsPerCpuSecond").asDouble()).isPositive();
        assertThat(j.get("hostArgs").get(0).asText()).isEqualTo("-machine");
        assertThat(j.get("vmArgs").toString()).contains("intel-iommu,caching-mode=on");
    }

    @Test
    void theTextReportSaysWhatBrokeFirstWithLinuxsErrnoAndExitsOne() {
        CliRun r = CliRun.of("scenario", "scale", "--vms", "1", "--maps", "400", "--dma-entry-limit", "100");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).contains("BREAKS FIRST  VFIO_IOMMU_MAP_DMA -ENOSPC: the container of VM 0 reached"
                + " vfio_iommu_type1.dma_entry_limit (100 mappings)");
        assertThat(r.out()).contains("qemu-system-x86_64: VFIO_MAP_DMA failed: No space left on device");
        assertThat(r.out()).containsPattern("landed at the mapping's guest page +\\d+ of 400");
        assertThat(r.out()).contains("RESULT  a limit was met (above)");
        assertThat(r.err()).as("no progress bar when stdout is not a terminal").isEmpty();
    }

    @Test
    void badOptionsAreUsageErrors() {
        CliRun r = CliRun.of("scenario", "scale", "--vms", "300");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("viommu scenario scale: --vms must be 1..256 (the host has 256 VFs), got 300");
        assertThat(CliRun.of("scenario", "scale", "--dma-entry-limit", "-1").code()).isEqualTo(2);
    }

    @Test
    void thePageHasTheTableAndTwoChartsDrawnByJFreeChartAsSvg() {
        ScaleReport a = ScaleScenario.run(new ScaleScenario.Options(1, 50, -1, -1, 0), ScaleScenario.Progress.NONE);
        ScaleReport b = ScaleScenario.run(new ScaleScenario.Options(2, 200, -1, -1, 0), ScaleScenario.Progress.NONE);
        String page = ScalePage.html(List.of(a, b));
        assertThat(page).startsWith("<!DOCTYPE html>").contains("<table id=\"scale\">");
        assertThat(page.split("<tr><td>", -1)).hasSize(3);
        assertThat(page).contains("<figure id=\"chart-map\"><svg", "<figure id=\"chart-heap\"><svg");
        assertThat(page).contains("CPU cost of one shadowed guest mapping", "Java heap after GC", "2 VMs");
        assertThat(page).doesNotContain("<script");
    }
}
