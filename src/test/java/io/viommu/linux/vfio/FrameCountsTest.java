package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FrameCountsTest {
    @Test
    void agreesWithABoxedMapThroughGrowthRemovalsAndShrinking() {
        FrameCounts c = new FrameCounts();
        Map<Long, Integer> ref = new HashMap<>();
        Random r = new Random(13);
        for (int round = 0; round < 200_000; round++) {
            long frame = (1 + r.nextInt(round < 100_000 ? 40_000 : 300)) * 4096L;
            int delta = r.nextInt(3) == 0 ? -1 : 1;
            int want = Math.max(0, ref.getOrDefault(frame, 0) + delta);
            if (want == 0) {
                ref.remove(frame);
            } else {
                ref.put(frame, want);
            }
            assertThat(c.add(frame, delta)).isEqualTo(want);
        }
        assertThat(c.size()).isEqualTo(ref.size());
        Map<Long, Integer> seen = new HashMap<>();
        c.forEach(seen::put);
        assertThat(seen).isEqualTo(ref);
        for (long f : ref.keySet()) {
            assertThat(c.get(f)).isEqualTo(ref.get(f));
        }
        assertThat(c.get(12345L * 4096)).isZero();
    }
}
