package io.viommu.vtd;

import static io.viommu.vtd.VtdBench.*;
import static io.viommu.vtd.VtdRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * Garbage in, architected behaviour out: random register writes, random descriptors and random
 * table bytes never throw, never hang, and GSTS only moves the way GCMD says.
 */
class VtdRobustnessProperties {

    sealed interface Op permits Store, Descriptor, Poke, Dma {
    }

    record Store(int offset, int size, long value) implements Op {
    }

    record Descriptor(int index, long lo, long hi, int tail) implements Op {
    }

    record Poke(long addr, long value) implements Op {
    }

    record Dma(int sid, long iova, boolean write) implements Op {
    }

    @Provide
    Arbitrary<Op> ops() {
        Arbitrary<Integer> regOffsets = Arbitraries.oneOf(
                Arbitraries.of(GCMD, RTADDR, CCMD, CCMD + 4, FSTS, FECTL, FEDATA, FEADDR, IQT, IQA, ICS,
                        IECTL, IEDATA, IEADDR, IRTA, IVA, IOTLB, IOTLB + 4, FRCD, FRCD + 8, FRCD + 12),
                Arbitraries.integers().between(0, 0x400));
        Arbitrary<Long> gcmdValues = Arbitraries.of(GCMD_TE, GCMD_SRTP, GCMD_QIE, GCMD_IRE, GCMD_SIRTP,
                GCMD_TE | GCMD_QIE, 0, GCMD_CFI | GCMD_WBF).map(v -> (long) v & 0xffffffffL);
        Arbitrary<Long> anyLong = Arbitraries.longs();
        Arbitrary<Store> store = Combinators.combine(regOffsets, Arbitraries.of(1, 2, 4, 8),
                Arbitraries.oneOf(anyLong, gcmdValues, Arbitraries.of(ROOT, IQ, 0x7fff0L, -1L)))
                .as(Store::new);
        Arbitrary<Long> descLo = Arbitraries.oneOf(anyLong,
                Arbitraries.longs().map(v -> (v & ~0xfL) | (v & 7)),
                Arbitraries.of(0x12L, 0x25L | (5L << 32), 0x15L, 0x35L, 0x31L | (8L << 32), 0x3L, 0x4L));
        Arbitrary<Long> descHi = Arbitraries.oneOf(anyLong, Arbitraries.of(STATUS, 0L, 0x200000L, 0x20000000L));
        Arbitrary<Descriptor> desc = Combinators.combine(Arbitraries.integers().between(0, 300), descLo, descHi,
                Arbitraries.integers().between(0, 300)).as(Descriptor::new);
        Arbitrary<Long> tableAddrs = Arbitraries.oneOf(
                Arbitraries.of(ROOT, ROOT + 8, CTX + 0x80, CTX + 0x88, L3, L2 + 8, L1, L1 + 8),
                Arbitraries.longs().between(0x100000, 0x105ff8).map(a -> a & ~7L));
        Arbitrary<Long> tableValues = Arbitraries.oneOf(anyLong,
                Arbitraries.of(0x300003L, 0x400083L, L1 | 3, -1L, 0xfee00003L, 0L, L3 | 1 | 2, 0x102L, 0x101L));
        Arbitrary<Poke> poke = Combinators.combine(tableAddrs, tableValues).as(Poke::new);
        Arbitrary<Dma> dma = Combinators.combine(Arbitraries.of(0x08, 0x10, 0x108, 0xffff),
                Arbitraries.oneOf(Arbitraries.longs().between(0x200000, 0x3fffff),
                        Arbitraries.longs(), Arbitraries.of(0xfee00000L, 1L << 39)),
                Arbitraries.of(true, false)).as(Dma::new);
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(4, store.map(s -> (Op) s)),
                net.jqwik.api.Tuple.of(2, desc.map(d -> (Op) d)),
                net.jqwik.api.Tuple.of(2, poke.map(p -> (Op) p)),
                net.jqwik.api.Tuple.of(3, dma.map(d -> (Op) d)));
    }

    @Property(tries = 300)
    void garbageNeverThrowsHangsOrMovesGstsIllegally(@ForAll @Size(max = 60) List<@From("ops") Op> ops,
                                                    @ForAll("configs") Map<String, String> props) {
        VtdBench b = VtdBench.withProps(props).tables();
        b.iommu.setTrace(new VtdTrace() {
            @Override
            public void transition(Enum<?> from, Enum<?> to, String reason) {
                assertThat(from).isNotEqualTo(to);
            }
        });
        for (Op op : ops) {
            int before = (int) b.readl(GSTS);
            boolean gcmdWrite = false;
            long gcmd = 0;
            switch (op) {
                case Store s -> {
                    b.iommu.store(s.offset(), s.value(), s.size());
                    // QEMU's memory core cuts accesses into aligned pieces; one may start at GCMD.
                    for (int done = 0; done < s.size(); ) {
                        int a = s.offset() + done;
                        int piece = Integer.highestOneBit(Math.min(s.size() - done, a == 0 ? 8 : Math.min(8, a & -a)));
                        if (a == GCMD && piece >= 4) {
                            gcmdWrite = true;
                            gcmd = (s.value() >>> (8 * done)) & 0xffffffffL;
                        }
                        done += piece;
                    }
                }
                case Descriptor d -> {
                    b.descriptor(d.index(), d.lo(), d.hi());
                    b.tail(d.tail());
                }
                case Poke p -> b.ram.writeLong(PhysAddr.of(p.addr()), p.value());
                case Dma d -> {
                    TranslationResult r = b.iommu.translate(new DmaRequest(new RequesterId(d.sid()),
                            Iova.of(d.iova()), 8, d.write() ? DmaAccess.WRITE : DmaAccess.READ));
                    if (r instanceof Translation t) {
                        assertThat(t.covers(Iova.of(d.iova()))).isTrue();
                        assertThat(d.write() ? t.writable() : t.readable()).isTrue();
                    } else {
                        assertThat(((DmaFault) r).reason()).isBetween(1, 0xE);
                    }
                }
            }
            int after = (int) b.readl(GSTS);
            if (!gcmdWrite) {
                assertThat(after).as("GSTS changed without a GCMD write: %s", op).isEqualTo(before);
            } else {
                assertThat(after & GSTS_TES).isEqualTo((int) gcmd & GCMD_TE);
                assertThat(after & GSTS_IRES).isEqualTo((int) gcmd & GCMD_IRE);
                if ((gcmd & GCMD_SRTP) != 0 || (before & GSTS_RTPS) != 0) {
                    assertThat(after & GSTS_RTPS).isEqualTo(GSTS_RTPS);
                } else {
                    assertThat(after & GSTS_RTPS).isZero();
                }
                int qies = after & GSTS_QIES;
                assertThat(qies == ((int) gcmd & GCMD_QIE) || qies == (before & GSTS_QIES)).isTrue();
                assertThat(after & ~(GSTS_TES | GSTS_RTPS | GSTS_QIES | GSTS_IRES | GSTS_IRTPS | GCMD_CFI)).isZero();
            }
            assertThat(b.iommu.translationState() == TranslationState.ENABLED).isEqualTo((after & GSTS_TES) != 0);
            assertThat(b.iommu.queueState() != QueueState.DISABLED).isEqualTo((after & GSTS_QIES) != 0);
            assertThat(b.iommu.iotlbSize()).isLessThanOrEqualTo(b.iommu.iotlbCapacity());
        }
        // everything the guest did wrong is visible as a fault record or IQE, never as an exception
        VtdState s = b.iommu.snapshot();
        assertThat(s.iqHead()).isBetween(0, Math.max(0, s.iqSize()));
    }

    @Provide
    Arbitrary<Map<String, String>> configs() {
        return Arbitraries.of(Map.of(), Map.of("caching-mode", "on", "iotlb-entries", "4"),
                Map.of("aw-bits", "48", "fault-records", "3"), Map.of("device-iotlb", "on", "pt", "off"),
                Map.of("aw-bits", "57", "snoop-control", "on"));
    }
}
