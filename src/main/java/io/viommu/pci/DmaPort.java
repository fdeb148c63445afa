package io.viommu.pci;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import java.util.function.BooleanSupplier;

/**
 * One device function's only route to memory (DESIGN.md "A DMA, end to end"): bus-master
 * check, then translation page by page through the covering IOMMU (or an explicit bypass),
 * then the access on the target address space. A fault stops the transfer at that page;
 * pages before it have been moved, as on real hardware and in QEMU.
 */
public final class DmaPort {
    /** How a transfer ended. {@code bytesDone} bytes moved before {@code fault} (if any). */
    public record Outcome(int bytesDone, DmaFault fault, boolean masterDisabled) {
        public boolean ok() {
            return fault == null && !masterDisabled;
        }
    }

    private static final long PAGE = 4096;

    private final RequesterId requester;
    private final AddressSpace target;
    private final DmaRemapper remapper; // null = bypass: no IOMMU covers this device
    private final BooleanSupplier busMaster;

    /**
     * @param remapper the IOMMU covering this device, or null for an explicit bypass
     *                 (no IOMMU on the platform, or the device was realized before it)
     */
    public DmaPort(RequesterId requester, AddressSpace target, DmaRemapper remapper,
                   BooleanSupplier busMaster) {
        this.requester = requester;
        this.target = target;
        this.remapper = remapper;
        this.busMaster = busMaster;
    }

    public RequesterId requester() {
        return requester;
    }

    public boolean isTranslated() {
        return remapper != null;
    }

    public Outcome read(Iova iova, byte[] dst, int off, int len) {
        return transfer(iova, dst, off, len, DmaAccess.READ);
    }

    public Outcome write(Iova iova, byte[] src, int off, int len) {
        return transfer(iova, src, off, len, DmaAccess.WRITE);
    }

    private Outcome transfer(Iova iova, byte[] buf, int off, int len, DmaAccess access) {
        if (!busMaster.getAsBoolean()) {
            return new Outcome(0, null, true);
        }
        int done = 0;
        while (done < len) {
            long a = iova.value() + done;
            long phys;
            long chunkEnd;
            if (remapper == null) {
                phys = a;
                chunkEnd = (a & -PAGE) + PAGE;
            } else {
                TranslationResult r = remapper.translate(
                        new DmaRequest(requester, new Iova(a), len - done, access));
                if (r instanceof DmaFault f) {
                    return new Outcome(done, f, false);
                }
                Translation t = (Translation) r;
                phys = t.outputValue(a);
                chunkEnd = t.iovaPage().value() + t.pageSize();
            }
            int n = (int) Math.min(len - done, chunkEnd - a);
            if (access.isWrite()) {
                target.writeBytes(phys, buf, off + done, n);
            } else {
                target.readBytes(phys, buf, off + done, n);
            }
            done += n;
        }
        return new Outcome(done, null, false);
    }
}
