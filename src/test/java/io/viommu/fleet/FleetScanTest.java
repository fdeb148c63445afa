package io.viommu.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class FleetScanTest {
    @Test
    void printsTheFleet() throws Exception {
        FleetSnapshots.Loaded l = FleetSnapshots.load(FleetFixtures.all());
        assertThat(l.refusals()).isEmpty();
        FleetReport r = FleetScanner.scan(l.snapshots(), "qemu");
        Files.writeString(Path.of("/tmp/fl/scan.txt"), FleetText.format(r));
        assertThat(r.hosts()).hasSize(6);
    }
}
