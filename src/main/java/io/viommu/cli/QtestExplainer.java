package io.viommu.cli;

import io.viommu.machine.Machine;
import io.viommu.pci.Bar;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaPort;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import io.viommu.vtd.FaultReason;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdRegisters;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code viommu qtest --explain}: after each command, what the model did, in words, for a
 * person reading along (on stderr; stdout stays the qtest protocol).
 *
 * <p>Every sentence comes from the model's own state and events, never from the command's
 * text: the transfers each device's {@link DmaPort} reports (the IOMMU's answer per page), the
 * VT-d unit's status registers read back over MMIO before and after the step (GSTS, RTADDR,
 * FSTS, the fault recording registers), and each device's COMMAND register and BAR decoding.
 * Change a page-table entry in a script and the sentence about the DMA through it changes.
 * Reading registers has no side effect on the unit (VT-d registers have no read side effects),
 * so explaining changes nothing a script can observe.
 */
final class QtestExplainer {
    /** What the reader is looking at, printed once before the first command. */
    static final String PREAMBLE = String.join(System.lineSeparator(),
            "# viommu qtest --explain: the qtest replies (OK ...) are on stdout, unchanged. These # lines",
            "# (stderr) come before the reply of each command that made the model do something:",
            "# \"# <line>: <command>\", then what the model did. The other commands only moved data the",
            "# model merely stores (RAM such as the page tables, a device register before the DMA starts).");

    /** The model's state that explanations compare across one step. */
    private record Snapshot(int gsts, long rtaddr, int fsts, long[] frcd, int[] command, long[][] bars) {
    }

    private record Dma(PciFunction device, DmaPort.Transfer transfer) {
    }

    private final IntelIommu iommu;
    private final io.viommu.machine.AddressMap machineMemory;
    private final List<PciFunction> devices;
    private final List<Dma> dmas = new ArrayList<>();
    private final List<String> reads = new ArrayList<>();
    private Snapshot before;

    QtestExplainer(Machine machine) {
        this.iommu = machine.iommu();
        this.machineMemory = machine.memory();
        this.devices = List.copyOf(machine.devices());
        for (PciFunction f : devices) {
            if (f.dma() != null) {
                f.dma().setObserver(t -> dmas.add(new Dma(f, t)));
            }
        }
        before = snapshot();
    }

    /** The sentences for everything the model did since the previous call (one qtest step). */
    List<String> step() {
        Snapshot now = snapshot();
        List<String> out = new ArrayList<>(reads);
        reads.clear();
        devices(before, now, out);
        unit(before, now, out);
        List<Integer> reported = new ArrayList<>();
        for (Dma d : dmas) {
            out.add(dma(d, now, reported));
        }
        faultRecords(before, now, reported, out);
        dmas.clear();
        before = now;
        return out;
    }

    /**
     * A guest read the machine routed to the VT-d unit's registers: the value decoded. Where
     * the read landed is the machine's own address decoding ({@code lookup}), not the
     * command's text.
     */
    void read(long addr, int size, long value) {
        if (iommu == null) {
            return;
        }
        var hit = machineMemory.lookup(addr);
        if (hit == null || hit.mmio() != iommu) {
            return;
        }
        int off = (int) (addr - hit.base());
        String name = null;
        boolean whole = false;
        for (VtdRegisters.Register r : VtdRegisters.table(iommu.config())) {
            if (off == r.offset()) {
                name = r.name();
                whole = size >= r.width();
            } else if (r.width() == 8 && off == r.offset() + 4) {
                name = r.name() + " bits 63:32";
            }
        }
        if (name == null) {
            return;
        }
        String meaning = whole ? registerMeaning(name, off, value) : "";
        reads.add(String.format("VT-d %s read: 0x%x%s", name, value, meaning.isEmpty() ? "" : " = " + meaning));
    }

    /** What the bits of a status or fault register say. */
    private String registerMeaning(String name, int off, long v) {
        if (off == VtdRegisters.GSTS) {
            String[] bits = {"TES", "RTPS", "FLS", "AFLS", "WBFS", "QIES", "IRES", "IRTPS", "CFIS"};
            List<String> set = new ArrayList<>();
            for (int i = 0; i < bits.length; i++) {
                if ((v & (1L << (31 - i))) != 0) {
                    set.add(bits[i]);
                }
            }
            String s = set.isEmpty() ? "nothing enabled" : String.join(" ", set);
            if (set.contains("TES")) {
                s += " (DMA remapping on)";
            }
            return s;
        }
        if (off == VtdRegisters.FSTS) {
            List<String> set = new ArrayList<>();
            if ((v & VtdRegisters.FSTS_PPF) != 0) {
                set.add(String.format("PPF (a fault record is pending, first at FRCD %d)",
                        (v & VtdRegisters.FSTS_FRI_MASK) >>> VtdRegisters.FSTS_FRI_SHIFT));
            }
            if ((v & VtdRegisters.FSTS_PFO) != 0) {
                set.add("PFO (faults were lost: overflow)");
            }
            if ((v & VtdRegisters.FSTS_IQE) != 0) {
                set.add("IQE (invalidation queue error)");
            }
            return set.isEmpty() ? "no fault pending" : String.join(", ", set);
        }
        if (name.startsWith("FRCD") && name.contains("_HI")) {
            if ((v & VtdRegisters.FRCD_F) == 0) {
                return "F clear: no fault in this record";
            }
            int reason = (int) (v >>> VtdRegisters.FRCD_FR_SHIFT) & 0xff;
            FaultReason r = FaultReason.ofCode(reason);
            return String.format("F set: fault reason 0x%x%s, %s request from %s", reason,
                    r == null ? "" : " (" + r.description() + ")", (v & VtdRegisters.FRCD_T) == 0 ? "write" : "read",
                    new RequesterId((int) (v & 0xffff)));
        }
        if (name.startsWith("FRCD") && name.endsWith("_LO")) {
            return String.format("faulting page 0x%x", v & ~0xfffL);
        }
        return "";
    }

    // ---- snapshots ----

    private Snapshot snapshot() {
        int[] command = new int[devices.size()];
        long[][] bars = new long[devices.size()][6];
        for (int i = 0; i < devices.size(); i++) {
            PciFunction f = devices.get(i);
            command[i] = f.command();
            for (int b = 0; b < 6; b++) {
                bars[i][b] = f.barAddress(b);
            }
        }
        if (iommu == null) {
            return new Snapshot(0, 0, 0, new long[0], command, bars);
        }
        int records = iommu.config().faultRecords();
        long[] frcd = new long[2 * records];
        for (int i = 0; i < records; i++) {
            frcd[2 * i] = iommu.load(VtdRegisters.FRCD + 16L * i, 8);
            frcd[2 * i + 1] = iommu.load(VtdRegisters.FRCD + 16L * i + 8, 8);
        }
        return new Snapshot((int) iommu.load(VtdRegisters.GSTS, 4), iommu.load(VtdRegisters.RTADDR, 8),
                (int) iommu.load(VtdRegisters.FSTS, 4), frcd, command, bars);
    }

    // ---- devices: COMMAND and BARs ----

    private void devices(Snapshot a, Snapshot b, List<String> out) {
        for (int i = 0; i < devices.size(); i++) {
            PciFunction f = devices.get(i);
            List<String> what = new ArrayList<>();
            int changed = a.command()[i] ^ b.command()[i];
            if ((changed & PciRegs.COMMAND_MEMORY) != 0) {
                what.add("memory decoding " + onOff(f.memoryDecodeEnabled()));
            }
            if ((changed & PciRegs.COMMAND_MASTER) != 0) {
                what.add("bus mastering (DMA) " + onOff(f.busMasterEnabled()));
            }
            for (int bar = 0; bar < 6; bar++) {
                if (a.bars()[i][bar] != b.bars()[i][bar]) {
                    Bar r = f.bar(bar);
                    what.add(b.bars()[i][bar] == Bar.UNMAPPED ? "BAR" + bar + " no longer decodes"
                            : String.format("BAR%d decodes at 0x%x (%s)", bar, b.bars()[i][bar], size(r.size())));
                }
            }
            if (!what.isEmpty()) {
                out.add(name(f) + ": " + String.join(", ", what));
            }
        }
    }

    // ---- the VT-d unit: GSTS, FSTS ----

    private void unit(Snapshot a, Snapshot b, List<String> out) {
        if (iommu == null) {
            return;
        }
        int up = b.gsts() & ~a.gsts();
        int down = a.gsts() & ~b.gsts();
        if ((up & VtdRegisters.GSTS_RTPS) != 0) {
            out.add(String.format("VT-d: root table pointer latched (GSTS.RTPS): root table at 0x%x, %s",
                    b.rtaddr() & ~0xfffL, (b.rtaddr() & VtdRegisters.RTADDR_SMT) != 0 ? "scalable mode" : "legacy mode"));
        }
        if ((up & VtdRegisters.GSTS_TES) != 0) {
            out.add("VT-d: DMA remapping on (GSTS.TES): from now on every DMA of a device behind the unit is"
                    + " translated through the root, context and page tables");
        }
        if ((down & VtdRegisters.GSTS_TES) != 0) {
            out.add("VT-d: DMA remapping off (GSTS.TES clear): device DMA goes to memory untranslated");
        }
        gstsBit(up, down, VtdRegisters.GSTS_QIES, "queued invalidation", out);
        gstsBit(up, down, VtdRegisters.GSTS_IRES, "interrupt remapping", out);
        if ((up & VtdRegisters.GSTS_IRTPS) != 0) {
            out.add("VT-d: interrupt remapping table pointer latched (GSTS.IRTPS)");
        }
        int fup = b.fsts() & ~a.fsts();
        int fdown = a.fsts() & ~b.fsts();
        if ((fdown & VtdRegisters.FSTS_PPF) != 0) {
            out.add("VT-d: no fault record pending any more (FSTS.PPF clear)");
        }
        if ((fup & VtdRegisters.FSTS_PFO) != 0) {
            out.add("VT-d: fault overflow (FSTS.PFO): a fault arrived with every fault record full and was not recorded");
        }
        if ((fup & VtdRegisters.FSTS_IQE) != 0) {
            out.add("VT-d: invalidation queue error (FSTS.IQE): the unit stopped fetching descriptors");
        }
    }

    private static void gstsBit(int up, int down, int bit, String what, List<String> out) {
        if ((up & bit) != 0) {
            out.add("VT-d: " + what + " on");
        }
        if ((down & bit) != 0) {
            out.add("VT-d: " + what + " off");
        }
    }

    // ---- DMA transfers ----

    private String dma(Dma d, Snapshot now, List<Integer> reported) {
        DmaPort.Transfer t = d.transfer();
        boolean write = t.access() == DmaAccess.WRITE;
        StringBuilder sb = new StringBuilder(name(d.device())).append(" DMA ").append(size(t.length()))
                .append(write ? " device→RAM" : " RAM→device");
        DmaPort.Outcome o = t.outcome();
        if (o.masterDisabled()) {
            return sb.append(String.format(" at IOVA 0x%x: bus mastering is off, nothing reached memory%s",
                    t.iova().value(), write ? "" : " (the device read zeros)")).toString();
        }
        List<String> pages = new ArrayList<>();
        for (DmaPort.Piece p : t.pieces()) {
            pages.add(piece(p, t.requester(), now, reported));
        }
        sb.append(pages.size() == 1 ? " via " : ": ").append(String.join("; ", pages)).append(": ");
        if (o.ok()) {
            sb.append(write ? "written" : "copied");
        } else if (o.bytesDone() == 0) {
            sb.append(write ? "nothing written" : "nothing read (the device got zeros)");
        } else {
            sb.append(String.format("%s of %s moved, the faulting pages %s", size(o.bytesDone()), size(t.length()),
                    write ? "dropped" : "read as zeros"));
        }
        return sb.toString();
    }

    private String piece(DmaPort.Piece p, RequesterId rid, Snapshot now, List<Integer> reported) {
        long iova = p.iova().value();
        if (p.result() == null) {
            return String.format("bus address 0x%x = GPA 0x%x (no IOMMU in front of the device)", iova, p.physical());
        }
        if (p.result() instanceof Translation tr && tr.covers(p.iova())) {
            if ((now.gsts() & VtdRegisters.GSTS_TES) == 0 && tr.physPage().value() == tr.iovaPage().value()) {
                return String.format("bus address 0x%x = GPA 0x%x (DMA remapping off: untranslated)", iova, p.physical());
            }
            return String.format("IOVA 0x%x → GPA 0x%x (%s page, %s)", iova, p.physical(), size(tr.pageSize()),
                    tr.readable() && tr.writable() ? "read-write" : tr.writable() ? "write-only" : "read-only");
        }
        if (p.result() instanceof DmaFault f) {
            // VT-d reports a leaf without the needed permission and a missing one alike (R = W = 0
            // is "not present"), so the words name the permission, not the page's state.
            String why = f.reason() == 0x5 ? "DMA write not permitted (page not writable)" : f.reason() == 0x6
                    ? "DMA read not permitted (page not present or not readable)" : f.description();
            String rec;
            int index = recordFor(f, rid, now);
            if (index >= 0) {
                reported.add(index);
                rec = String.format("fault recorded, reason 0x%x, FRCD %d", frcdReason(now, index), index);
            } else {
                rec = String.format("fault reason 0x%x, not recorded%s", f.reason(),
                        f.recorded() ? "" : " (fault processing disabled, or the same fault is still pending)");
            }
            return String.format("IOVA 0x%x: %s: %s", iova, why, rec);
        }
        return String.format("IOVA 0x%x: refused", iova);
    }

    // ---- fault records ----

    /** The fault record, read back from the unit, that holds this fault (-1 if none does). */
    private int recordFor(DmaFault f, RequesterId rid, Snapshot now) {
        for (int i = 0; i < now.frcd().length / 2; i++) {
            long lo = now.frcd()[2 * i];
            long hi = now.frcd()[2 * i + 1];
            boolean write = (hi & VtdRegisters.FRCD_T) == 0; // T = 0: write request (VT-d 10.4.14)
            if ((hi & VtdRegisters.FRCD_F) != 0 && (int) (hi & 0xffff) == rid.value()
                    && (lo & ~0xfffL) == (f.iova().value() & ~0xfffL) && write == f.access().isWrite()
                    && frcdReason(now, i) == f.reason()) {
                return i;
            }
        }
        return -1;
    }

    private static int frcdReason(Snapshot s, int i) {
        return (int) (s.frcd()[2 * i + 1] >>> VtdRegisters.FRCD_FR_SHIFT) & 0xff;
    }

    /** Fault records that changed without a DMA of this step to explain them. */
    private void faultRecords(Snapshot a, Snapshot b, List<Integer> reported, List<String> out) {
        for (int i = 0; i < b.frcd().length / 2; i++) {
            long hiA = a.frcd()[2 * i + 1];
            long hiB = b.frcd()[2 * i + 1];
            boolean was = (hiA & VtdRegisters.FRCD_F) != 0;
            boolean is = (hiB & VtdRegisters.FRCD_F) != 0;
            if (was && !is) {
                out.add(String.format("VT-d: FRCD %d cleared (its F bit written with 1): the record is free again", i));
            } else if (is && (!was || a.frcd()[2 * i] != b.frcd()[2 * i] || hiA != hiB) && !reported.contains(i)) {
                int reason = frcdReason(b, i);
                FaultReason r = FaultReason.ofCode(reason);
                out.add(String.format("VT-d: fault recorded, reason 0x%x%s, FRCD %d: source %s, %s at 0x%x", reason,
                        r == null ? "" : " (" + r.description() + ")", i, new RequesterId((int) (hiB & 0xffff)),
                        (hiB & VtdRegisters.FRCD_T) == 0 ? "write" : "read", b.frcd()[2 * i] & ~0xfffL));
            }
        }
    }

    // ---- words ----

    private static String name(PciFunction f) {
        return f.typeName() + " " + f.address();
    }

    private static String onOff(boolean on) {
        return on ? "on" : "off";
    }

    static String size(long bytes) {
        if (bytes >= 1 << 20 && bytes % (1 << 20) == 0) {
            return bytes / (1 << 20) + " MiB";
        }
        if (bytes >= 1024 && bytes % 1024 == 0) {
            return bytes / 1024 + " KiB";
        }
        return bytes + " B";
    }
}
