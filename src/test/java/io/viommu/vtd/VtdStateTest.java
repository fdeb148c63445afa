package io.viommu.vtd;

import static io.viommu.vtd.VtdBench.*;
import static io.viommu.vtd.VtdRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.memory.PhysAddr;
import io.viommu.pci.Translation;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VtdStateTest {

    @Test
    void snapshotRestoresIntoAFreshUnitThatBehavesTheSame() {
        VtdBench a = new VtdBench().tables().enable().enableQueue();
        a.write(0x203000);
        a.descriptor(0, 0x12, 0);
        a.tail(1);
        VtdState s = a.iommu.snapshot();
        assertThat(s.translation()).isEqualTo(TranslationState.ENABLED);
        assertThat(s.queue()).isEqualTo(QueueState.ENABLED);
        assertThat(s.rootTable()).isEqualTo(ROOT);
        assertThat(s.iqHead()).isEqualTo(1);

        VtdBench b = new VtdBench();
        b.ram.writeBytes(PhysAddr.of(0), new byte[0], 0, 0);
        a.tables(); // same RAM layout in b
        b.tables();
        b.iommu.restore(s);
        assertThat(b.iommu.snapshot()).isEqualTo(s);
        assertThat(b.readq(FRCD)).isEqualTo(0x203000);
        assertThat(b.readl(GSTS)).isEqualTo(a.readl(GSTS));
        assertThat(((Translation) b.write(0x200000)).physPage().value()).isEqualTo(0x300000);
    }

    @Test
    void resetReturnsToResetValues() {
        VtdBench a = new VtdBench().tables().enable();
        a.write(0x203000);
        a.iommu.reset();
        assertThat(a.iommu.snapshot()).isEqualTo(new VtdBench().iommu.snapshot());
        assertThat(a.readl(FECTL)).isEqualTo(0x80000000L);
    }

    @Test
    void restoreRefusesASnapshotOfAnotherShape() {
        VtdState big = VtdBench.withProps(Map.of("fault-records", "4")).iommu.snapshot();
        assertThatThrownBy(() -> new VtdBench().iommu.restore(big)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void lifecycleTransitionsAreTraced() {
        VtdBench a = new VtdBench().tables();
        List<String> t = new ArrayList<>();
        a.iommu.setTrace(new VtdTrace() {
            @Override
            public void transition(Enum<?> from, Enum<?> to, String reason) {
                t.add(from + "->" + to + " (" + reason + ")");
            }
        });
        a.enable().enableQueue();
        a.descriptor(0, 0, 0);
        a.tail(1);
        a.writel(FSTS, FSTS_IQE);
        assertThat(t).containsExactly("DISABLED->ENABLED (GCMD.TE=1)", "DISABLED->ENABLED (GCMD.QIE=1)",
                "ENABLED->ERROR (invalidation queue error)", "ERROR->ENABLED (FSTS.IQE cleared)");
    }
}
