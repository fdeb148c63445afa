package io.viommu.linux.iommu;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A scatter list (struct scatterlist array) as a driver builds it: CPU-side segments (a
 * physical address and a length each) and, after {@link DmaApi#mapSg}, the DMA side that
 * dma_map_sg filled in: the first {@link #dmaCount()} entries carry a DMA address and length,
 * where the IOMMU path has merged segments that ended up contiguous in IOVA space.
 */
public final class ScatterList {
    /** One CPU-side segment (sg_phys(sg), sg->length). */
    public record Segment(PhysAddr phys, int length) {
        public Segment {
            if (length <= 0) {
                throw new IllegalArgumentException("segment length must be positive: " + length);
            }
        }
    }

    /** One DMA segment (sg_dma_address, sg_dma_len). */
    public record DmaSegment(Iova address, int length) {
    }

    private final List<Segment> segments;
    private final List<DmaSegment> dma = new ArrayList<>();

    public ScatterList(List<Segment> segments) {
        if (segments.isEmpty()) {
            throw new IllegalArgumentException("empty scatter list");
        }
        this.segments = List.copyOf(segments);
    }

    public static ScatterList of(Segment... segments) {
        return new ScatterList(List.of(segments));
    }

    public List<Segment> segments() {
        return segments;
    }

    public int nents() {
        return segments.size();
    }

    /** The DMA segments dma_map_sg produced (empty before mapping or after unmapping). */
    public List<DmaSegment> dmaSegments() {
        return Collections.unmodifiableList(dma);
    }

    public int dmaCount() {
        return dma.size();
    }

    void setDma(List<DmaSegment> out) {
        dma.clear();
        dma.addAll(out);
    }
}
