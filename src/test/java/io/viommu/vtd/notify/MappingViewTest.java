package io.viommu.vtd.notify;

import static io.viommu.vtd.notify.Permission.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.memory.PhysAddr;
import io.viommu.vtd.InvalidationOrigin;
import java.util.List;
import org.junit.jupiter.api.Test;

class MappingViewTest {
    static final InvalidationCause CAUSE = InvalidationCause.of(InvalidationCause.Kind.REPLAY, InvalidationOrigin.DIRECT);

    @Test
    void contiguousPutsMergeIntoOneRunAndEqualViewsCompareEqual() {
        MappingView a = new MappingView();
        a.put(Mapping.of(0x2000, 0x1000, 0x12000, READ_WRITE));
        a.put(Mapping.of(0x1000, 0x1000, 0x11000, READ_WRITE));
        a.put(Mapping.of(0x3000, 0x1000, 0x13000, READ_WRITE));
        assertThat(a.mappings()).containsExactly(Mapping.of(0x1000, 0x3000, 0x11000, READ_WRITE));
        assertThat(a).isEqualTo(new MappingView(List.of(Mapping.of(0x1000, 0x3000, 0x11000, READ_WRITE))));
    }

    @Test
    void differentPermissionOrPhysicalGapKeepsRunsApart() {
        MappingView a = new MappingView();
        a.put(Mapping.of(0x1000, 0x1000, 0x11000, READ_WRITE));
        a.put(Mapping.of(0x2000, 0x1000, 0x12000, READ_ONLY));
        a.put(Mapping.of(0x3000, 0x1000, 0x14000, READ_ONLY));
        assertThat(a.runCount()).isEqualTo(3);
    }

    @Test
    void removingTheMiddleSplitsARunAndTranslatesTheRest() {
        MappingView a = new MappingView(List.of(Mapping.of(0, 0x10000, 0x100000, READ_WRITE)));
        a.remove(new IovaRange(0x4000, 0x5fff));
        assertThat(a.mappings()).containsExactly(Mapping.of(0, 0x4000, 0x100000, READ_WRITE),
                Mapping.of(0x6000, 0xa000, 0x106000, READ_WRITE));
        assertThat(a.translate(0x7123)).isEqualTo(new PhysAddr(0x107123));
        assertThat(a.translate(0x4000)).isNull();
        assertThat(a.isFullyMapped(new IovaRange(0, 0x3fff))).isTrue();
        assertThat(a.isFullyMapped(new IovaRange(0, 0x4fff))).isFalse();
    }

    @Test
    void strictApplicationRejectsEventsThatBreakTheContract() {
        MappingView a = new MappingView(List.of(Mapping.of(0x1000, 0x1000, 0x11000, READ_WRITE)));
        assertThatThrownBy(() -> a.applyStrict(new IommuEvent.Map(Mapping.of(0x1000, 0x1000, 0x1000, READ_ONLY), CAUSE)))
                .hasMessageContaining("MAP over mapped");
        assertThatThrownBy(() -> a.applyStrict(new IommuEvent.Unmap(new IovaRange(0x1000, 0x2fff), CAUSE)))
                .hasMessageContaining("UNMAP of unmapped");
        assertThatThrownBy(() -> a.applyStrict(new IommuEvent.Replace(Mapping.of(0x1000, 0x1000, 0x5000, READ_ONLY),
                new PhysAddr(0x99000), READ_WRITE, CAUSE))).hasMessageContaining("old mapping differs");
        a.applyStrict(new IommuEvent.Replace(Mapping.of(0x1000, 0x1000, 0x5000, READ_ONLY), new PhysAddr(0x11000),
                READ_WRITE, CAUSE));
        assertThat(a.translate(0x1000)).isEqualTo(new PhysAddr(0x5000));
    }

    @Test
    void diffOfASuperpageSplitOnlyNamesTheChangedPiece() {
        List<Mapping> old = List.of(Mapping.of(0, 0x200000, 0x400000, READ_WRITE));
        List<Mapping> now = List.of(Mapping.of(0, 0x5000, 0x400000, READ_WRITE), Mapping.of(0x5000, 0x1000, 0x900000, READ_ONLY),
                Mapping.of(0x6000, 0x1fa000, 0x406000, READ_WRITE));
        assertThat(MappingDiff.diff(old, now, CAUSE)).containsExactly(new IommuEvent.Replace(
                Mapping.of(0x5000, 0x1000, 0x900000, READ_ONLY), new PhysAddr(0x405000), READ_WRITE, CAUSE));
    }

    @Test
    void diffMergesAdjacentUnmapsAndContiguousReplaces() {
        List<Mapping> old = List.of(Mapping.of(0, 0x1000, 0x10000, READ_WRITE), Mapping.of(0x1000, 0x1000, 0x50000, READ_ONLY));
        assertThat(MappingDiff.diff(old, List.of(), CAUSE)).containsExactly(new IommuEvent.Unmap(new IovaRange(0, 0x1fff), CAUSE));
        List<Mapping> a = List.of(Mapping.of(0, 0x4000, 0x10000, READ_WRITE));
        List<Mapping> b = List.of(Mapping.of(0, 0x4000, 0x80000, READ_WRITE));
        assertThat(MappingDiff.diff(a, b, CAUSE)).containsExactly(new IommuEvent.Replace(Mapping.of(0, 0x4000, 0x80000, READ_WRITE),
                new PhysAddr(0x10000), READ_WRITE, CAUSE));
    }
}
