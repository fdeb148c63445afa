package io.viommu.pci;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * One device function's only route to memory (DESIGN.md "A DMA, end to end"): bus-master
 * check, then translation page by page through the covering IOMMU (or an explicit bypass),
 * then the access on the target address space.
 *
 * <p>A faulting page does not end the transfer: as in QEMU (checked with 7.2 through edu and
 * intel-iommu), the memory core translates every page of the span, drops the writes to pages
 * that fault and reads zeros from them, and moves the other pages. With bus mastering off
 * nothing reaches memory and a read returns zeros (QEMU disables the function's bus-master
 * address space, so the access lands on unassigned memory).
 */
public final class DmaPort {
    /**
     * How a transfer ended: {@code bytesDone} bytes reached memory; {@code fault} is the first
     * fault met (later pages may have faulted too, each translated and reported to the IOMMU).
     */
    public record Outcome(int bytesDone, DmaFault fault, boolean masterDisabled) {
        public boolean ok() {
            return fault == null && !masterDisabled;
        }
    }

    /**
     * One page-sized piece of an observed transfer: what the IOMMU answered for it
     * ({@code result} null when no IOMMU covers the device) and where it went in memory
     * ({@code physical}, meaningless when the piece faulted).
     */
    public record Piece(Iova iova, int length, TranslationResult result, long physical) {
        public boolean faulted() {
            return result instanceof DmaFault || (result instanceof Translation t && !t.covers(iova));
        }
    }

    /** A whole transfer as an {@link Observer} sees it, after it ended. */
    public record Transfer(RequesterId requester, DmaAccess access, Iova iova, int length,
                           List<Piece> pieces, Outcome outcome) {
    }

    /**
     * Sees every transfer of this port after it ended (explanations, tracing). Without one the
     * transfer loop records nothing and allocates nothing extra.
     */
    public interface Observer {
        void transferred(Transfer transfer);
    }

    private Observer observer;

    private final Supplier<RequesterId> requester;
    private final AddressSpace target;
    private final DmaRemapper remapper; // null = bypass: no IOMMU covers this device
    private final BooleanSupplier busMaster;
    private AtsEndpoint ats; // null: the function has no ATS capability

    /**
     * @param remapper the IOMMU covering this device, or null for an explicit bypass
     *                 (no IOMMU on the platform, or the device was realized before it)
     */
    public DmaPort(RequesterId requester, AddressSpace target, DmaRemapper remapper,
                   BooleanSupplier busMaster) {
        this(() -> requester, target, remapper, busMaster);
    }

    /**
     * A port whose requester id is read at each request: a function behind a bridge gets its
     * bus number only when firmware numbers the bridge, and the IOMMU must see the current one.
     */
    public DmaPort(Supplier<RequesterId> requester, AddressSpace target, DmaRemapper remapper,
                   BooleanSupplier busMaster) {
        this.requester = requester;
        this.target = target;
        this.remapper = remapper;
        this.busMaster = busMaster;
    }

    public RequesterId requester() {
        return requester.get();
    }

    /**
     * A port for another function behind the same upstream path (same target, same IOMMU or
     * bypass): an SR-IOV VF's, whose requests leave through its PF's link with its own
     * requester id and bus-master bit.
     */
    public DmaPort sibling(Supplier<RequesterId> requester, BooleanSupplier busMaster) {
        return new DmaPort(requester, target, remapper, busMaster);
    }

    public boolean isTranslated() {
        return remapper != null;
    }

    /**
     * Gives this port the function's ATS path: while the function's ATS capability is enabled,
     * pages are translated through its device-TLB and sent as translated requests.
     */
    public void attachAts(AtsEndpoint endpoint) {
        this.ats = endpoint;
    }

    public AtsEndpoint ats() {
        return ats;
    }

    /** Sets (or with null removes) the observer of this port's transfers. */
    public void setObserver(Observer observer) {
        this.observer = observer;
    }

    public Outcome read(Iova iova, byte[] dst, int off, int len) {
        return transfer(iova, dst, off, len, DmaAccess.READ);
    }

    public Outcome write(Iova iova, byte[] src, int off, int len) {
        return transfer(iova, src, off, len, DmaAccess.WRITE);
    }

    private Outcome transfer(Iova iova, byte[] buf, int off, int len, DmaAccess access) {
        List<Piece> pieces = observer == null ? null : new ArrayList<>();
        Outcome o = transfer(iova, buf, off, len, access, pieces);
        if (pieces != null) {
            observer.transferred(new Transfer(requester.get(), access, iova, len, List.copyOf(pieces), o));
        }
        return o;
    }

    private Outcome transfer(Iova iova, byte[] buf, int off, int len, DmaAccess access,
                             List<Piece> pieces) {
        if (!busMaster.getAsBoolean()) {
            if (!access.isWrite()) {
                Arrays.fill(buf, off, off + len, (byte) 0);
            }
            return new Outcome(0, null, true);
        }
        int done = 0;
        int moved = 0;
        DmaFault firstFault = null;
        while (done < len) {
            long a = iova.value() + done;
            long phys;
            long chunkEnd;
            boolean faulted = false;
            TranslationResult lastResult = null;
            if (remapper == null) {
                phys = a;
                chunkEnd = (a & -Page.SIZE) + Page.SIZE;
            } else {
                // an interrupt message (0xFEEx_xxxx) is an untranslated request even with ATS enabled:
                // the IOMMU's interrupt remapping takes it (VT-d 3.3 section 5.1.1), never the device-TLB
                TranslationResult r = ats == null || MsiAddress.contains(a) ? null
                        : ats.translate(new Iova(a), len - done, access);
                if (r == null) {
                    r = remapper.translate(new DmaRequest(requester.get(), new Iova(a), len - done, access));
                }
                lastResult = r;
                if (r instanceof Translation t && t.covers(new Iova(a))) {
                    phys = t.outputValue(a);
                    chunkEnd = t.iovaPageValue() + t.pageSize();
                } else {
                    // A fault covers the 4 KiB page (QEMU's failed IOTLB entry has a 4K mask).
                    if (firstFault == null && r instanceof DmaFault f) {
                        firstFault = f;
                    }
                    faulted = true;
                    phys = 0;
                    chunkEnd = (a & -Page.SIZE) + Page.SIZE;
                }
            }
            int n = (int) Math.min(len - done, chunkEnd - a);
            if (n <= 0) { // wrap-around at the top of the 64-bit space: stop
                break;
            }
            if (pieces != null) {
                pieces.add(new Piece(new Iova(a), n, lastResult, phys));
            }
            if (faulted) {
                if (!access.isWrite()) {
                    Arrays.fill(buf, off + done, off + done + n, (byte) 0);
                }
            } else {
                if (access.isWrite()) {
                    target.writeBytes(PhysAddr.of(phys), buf, off + done, n);
                } else {
                    target.readBytes(PhysAddr.of(phys), buf, off + done, n);
                }
                moved += n;
            }
            done += n;
        }
        return new Outcome(moved, firstFault, false);
    }
}
