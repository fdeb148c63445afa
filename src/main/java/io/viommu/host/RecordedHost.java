package io.viommu.host;

import io.viommu.host.HostSnapshot.HostDevice;
import io.viommu.linux.Kernel;
import io.viommu.linux.acpi.DmarTable;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.shell.RootShell;
import io.viommu.machine.GuestOptions;
import io.viommu.machine.Machine;
import io.viommu.machine.SmpTopology;
import io.viommu.machine.device.RecordedFunction;
import io.viommu.pci.PciBridge;
import io.viommu.pci.PciBus;
import io.viommu.pci.PciFunction;
import io.viommu.vtd.CapReg;
import io.viommu.vtd.EcapReg;
import io.viommu.vtd.VtdConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A model of a real host from a tree saved by {@code viommu host snapshot} ({@code --host-sysfs DIR}):
 * a machine whose PCI functions are the recorded ones ({@link RecordedFunction}: saved configuration
 * space, so ids, class, capabilities, ACS and SR-IOV are the recorded ones; BAR sizes from the saved
 * {@code resource} files), bridges with the bus numbers the host's firmware gave them, the VT-d unit at
 * the recorded DRHD base with the recorded DMAR table, booted with the Linux model on the recorded
 * kernel command line; then the recorded driver bindings are recreated the way root would on a
 * freshly booted host (driver_override, modprobe, sriov_numvfs, bind: lines of {@link RootShell}).
 *
 * <p>What the model cannot reproduce is said in {@link Booted#notes()}, one line each, never dropped
 * silently: a driver the model does not have (the device is left without a driver), capability
 * registers the model's unit composes differently, DRHD units beyond the first (not modelled), a function without a
 * saved configuration space, a PCI domain other than 0000.
 */
public final class RecordedHost {
    /** RAM of the model host: the snapshot does not record it; 2 GiB (the fixtures' host). */
    public static final long RAM = 2L << 30;

    private final HostFiles tree;
    private final HostSnapshot snap;
    private final List<String> notes = new ArrayList<>();

    /** The booted model host and what it could not reproduce. */
    public record Booted(Kernel kernel, List<String> notes) {
    }

    /** A tree that is not a saved host, or one the model cannot build a machine from. */
    public static final class TreeException extends Exception {
        public TreeException(String message) {
            super(message);
        }
    }

    private RecordedHost(HostFiles tree) {
        this.tree = tree;
        this.snap = HostReader.read(tree);
    }

    public static Booted boot(Path dir) throws TreeException {
        SavedTree t = new SavedTree(dir);
        if (!t.exists(HostReader.PCI_DEVICES)) {
            throw new TreeException(dir + ": not a saved host tree (no sys/bus/pci/devices; make one with"
                    + " `viommu host snapshot DIR`)");
        }
        return new RecordedHost(t).boot();
    }

    private Booted boot() throws TreeException {
        String cmdline = tree.read(HostReader.CMDLINE).map(String::trim).orElse("");
        if (cmdline.isEmpty()) {
            notes.add("no proc/cmdline saved: the host kernel boots with an empty command line");
        }
        int cpus = (int) Math.max(1, Math.min(SmpTopology.Q35_MAX_CPUS,
                tree.read(HostReader.CPUINFO).orElse("").lines().filter(l -> l.startsWith("processor")).count()));
        Machine m = Machine.recordedBoard(RAM, new SmpTopology(cpus, cpus, 1, 1, cpus, 1),
                new GuestOptions(cpus, cmdline, null, null, null, false, false, null));
        plugFunctions(m);
        attachIommu(m);
        Kernel k = Kernel.boot(m);
        recreateBindings(k);
        return new Booted(k, List.copyOf(notes));
    }

    // ---------------------------------------------------------------- PCI

    private void plugFunctions(Machine m) {
        Map<PciAddress, PciBus> below = new HashMap<>();
        List<HostDevice> todo = new ArrayList<>();
        for (HostDevice d : snap.devices()) {
            if (d.physfn() != null) {
                continue; // created by the PF's SR-IOV capability when VFs are enabled
            }
            if (d.address().segment() != 0) {
                notes.add(d.address() + ": PCI domain " + String.format("%04x", d.address().segment())
                        + " is not modelled (one PCI segment): left out");
                continue;
            }
            todo.add(d);
        }
        // parents before children: by depth in the device path, then by address
        todo.sort((a, b) -> a.sysfsPath().split("/").length != b.sysfsPath().split("/").length
                ? Integer.compare(a.sysfsPath().split("/").length, b.sysfsPath().split("/").length)
                : a.address().compareTo(b.address()));
        for (HostDevice d : todo) {
            Optional<byte[]> cfg = tree.readBytes(HostReader.PCI_DEVICES.resolve(d.address().toString()).resolve("config"));
            if (cfg.isEmpty() || cfg.get().length < 64) {
                notes.add(d.address() + ": no configuration space saved: left out of the model");
                continue;
            }
            PciBus bus = d.parent() == null ? m.rootBus() : below.get(d.parent());
            if (bus == null) {
                notes.add(d.address() + ": its bridge " + d.parent() + " is not in the model: left out");
                continue;
            }
            RecordedFunction.Shape shape = new RecordedFunction.Shape(cfg.get(), barSizes(d.address(), 0));
            PciFunction f;
            if (d.isBridge()) {
                RecordedFunction.Bridge b = new RecordedFunction.Bridge(shape, "bus-" + d.address());
                below.put(d.address(), b.secondaryBus());
                f = b;
            } else {
                f = new RecordedFunction(shape, sriov(d));
            }
            try {
                m.plugDevice(f, bus, d.address().device() << 3 | d.address().function());
            } catch (PciBus.PlugException e) {
                notes.add(d.address() + ": " + e.getMessage() + ": left out");
                if (f instanceof PciBridge) {
                    below.remove(d.address());
                }
            }
            if (f.bus() != null && m.rootBus().route(d.address().bus(), f.devfn()) != f) {
                notes.add(d.address() + ": not reachable by configuration cycles: bus "
                        + String.format("%02x", d.address().bus()) + " is outside the bus range recorded by the bridges"
                        + " above it (" + ranges(f.bus()) + "); the kernel model does not see it");
            }
        }
    }

    /** The secondary-subordinate ranges of the bridges above a bus, nearest first. */
    private static String ranges(PciBus bus) {
        List<String> out = new ArrayList<>();
        for (PciBridge b = bus.parentBridge(); b != null; b = b.bus() == null ? null : b.bus().parentBridge()) {
            out.add(String.format("0000:%s: %02x-%02x", b.address(), b.secondaryBusNumber(), b.subordinateBusNumber()));
        }
        return String.join(", ", out);
    }

    private RecordedFunction.Sriov sriov(HostDevice pf) {
        if (pf.sriov() == null) {
            return null;
        }
        long[] iov = barSizes(pf.address(), 7);
        long[] perVf = new long[6];
        for (int i = 0; i < 6; i++) {
            perVf[i] = pf.sriov().totalVfs() > 0 ? iov[i] / pf.sriov().totalVfs() : 0;
        }
        Map<Integer, RecordedFunction.Shape> vfs = new HashMap<>();
        for (PciAddress vf : pf.virtfns()) {
            tree.readBytes(HostReader.PCI_DEVICES.resolve(vf.toString()).resolve("config")).ifPresent(b ->
                    vfs.put(vf.bus() << 8 | vf.device() << 3 | vf.function(), new RecordedFunction.Shape(b, new long[6])));
        }
        return new RecordedFunction.Sriov(perVf, vfs);
    }

    /**
     * Sizes of six resources from line {@code first} of the saved {@code resource} file
     * ("start end flags" per line; 0 for an empty one): 0 = the standard BARs, 7 = the SR-IOV BARs.
     */
    private long[] barSizes(PciAddress a, int first) {
        long[] out = new long[6];
        Optional<String> text = tree.read(HostReader.PCI_DEVICES.resolve(a.toString()).resolve("resource"));
        if (text.isEmpty()) {
            return out;
        }
        List<String> lines = text.get().lines().toList();
        for (int i = 0; i < 6 && first + i < lines.size(); i++) {
            String[] f = lines.get(first + i).trim().split("\\s+");
            if (f.length < 3) {
                continue;
            }
            try {
                long start = Long.parseUnsignedLong(f[0].replaceFirst("^0x", ""), 16);
                long end = Long.parseUnsignedLong(f[1].replaceFirst("^0x", ""), 16);
                long flags = Long.parseUnsignedLong(f[2].replaceFirst("^0x", ""), 16);
                out[i] = flags == 0 || end < start ? 0 : end - start + 1;
            } catch (NumberFormatException e) {
                out[i] = 0;
            }
        }
        return out;
    }

    /** Whether any saved function carries a resource file (snapshots before it was saved do not). */
    private boolean resourcesSaved() {
        return snap.devices().stream().anyMatch(d ->
                tree.exists(HostReader.PCI_DEVICES.resolve(d.address().toString()).resolve("resource")));
    }

    // ---------------------------------------------------------------- VT-d

    private void attachIommu(Machine m) throws TreeException {
        if (!resourcesSaved()) {
            notes.add("no resource files saved (a snapshot older than --host-sysfs): BAR sizes are unknown,"
                    + " the model's functions have no BARs");
        }
        HostSnapshot.Firmware fw = snap.firmware();
        if (fw.dmarState() == HostSnapshot.TableState.ABSENT) {
            return; // no VT-d: the model host has no IOMMU either
        }
        if (fw.dmarState() == HostSnapshot.TableState.UNREADABLE || fw.dmar() == null) {
            notes.add("the DMAR table was not saved (snapshot made without root): the model host has no IOMMU");
            return;
        }
        byte[] table = tree.readBytes(HostReader.ACPI_TABLES.resolve("DMAR")).orElseThrow();
        List<DmarTable.Structure> drhds = fw.dmar().of(DmarTable.TYPE_DRHD);
        if (drhds.isEmpty()) {
            notes.add("the saved DMAR table has no DRHD: the model host has no IOMMU");
            return;
        }
        if (drhds.size() > 1) {
            notes.add(String.format("the saved DMAR table has %d DRHD units; the model has one VT-d unit, at the first"
                    + " one's base %#x: the other register blocks read all ones (the host kernel's boot log says so)",
                    drhds.size(), drhds.get(0).a()));
        }
        long base = drhds.get(0).a();
        Optional<HostSnapshot.IommuUnit> unit = snap.iommus().stream()
                .filter(u -> u.kind().equals("intel-iommu") && u.cap() != null && u.ecap() != null).findFirst();
        VtdConfig config;
        if (unit.isEmpty()) {
            config = VtdConfig.defaults();
            notes.add("no /sys/class/iommu/dmar0 saved (VT-d was off on the recorded host): the unit's CAP/ECAP"
                    + String.format(" are QEMU 7.2's intel-iommu defaults (cap %x ecap %x)", config.cap(), config.ecap()));
        } else {
            config = fromRegisters(unit.get().cap(), unit.get().ecap());
            if (config.cap() != unit.get().cap() || config.ecap() != unit.get().ecap()) {
                notes.add(String.format("%s: the model's VT-d unit composes its registers as QEMU 7.2 does: cap %x ecap %x"
                        + " where the recorded host has cap %x ecap %x (model/recorded: %s)",
                        unit.get().name(), config.cap(), config.ecap(), unit.get().cap(), unit.get().ecap(),
                        fieldDiff(config.cap(), unit.get().cap(), CAP_FIELDS, "CAP.") + ", "
                                + fieldDiff(config.ecap(), unit.get().ecap(), ECAP_FIELDS, "ECAP.")));
            }
        }
        m.attachIommu(config, 0, base);
        m.setFirmwareDmarTable(table);
    }

    /** CAP register fields (VT-d 3.x section 11.4.2): name, low bit, width. */
    private static final Object[][] CAP_FIELDS = {{"ND", 0, 3}, {"AFL", 3, 1}, {"RWBF", 4, 1}, {"PLMR", 5, 1},
        {"PHMR", 6, 1}, {"CM", 7, 1}, {"SAGAW", 8, 5}, {"MGAW", 16, 6}, {"ZLR", 22, 1}, {"FRO", 24, 10},
        {"SLLPS", 34, 4}, {"PSI", 39, 1}, {"NFR", 40, 8}, {"MAMV", 48, 6}, {"DWD", 54, 1}, {"DRD", 55, 1},
        {"FL1GP", 56, 1}, {"PI", 59, 1}, {"FL5LP", 60, 1}, {"ESIRTPS", 62, 1}, {"ESRTPS", 63, 1}};
    /** ECAP register fields (VT-d 3.x section 11.4.3). */
    private static final Object[][] ECAP_FIELDS = {{"C", 0, 1}, {"QI", 1, 1}, {"DT", 2, 1}, {"IR", 3, 1},
        {"EIM", 4, 1}, {"PT", 6, 1}, {"SC", 7, 1}, {"IRO", 8, 10}, {"MHMV", 20, 4}, {"NEST", 26, 1}, {"PRS", 29, 1},
        {"ERS", 30, 1}, {"SRS", 31, 1}, {"NWFS", 33, 1}, {"EAFS", 34, 1}, {"PSS", 35, 5}, {"PASID", 40, 1},
        {"DIT", 41, 1}, {"PDS", 42, 1}, {"SMTS", 43, 1}, {"VCS", 44, 1}, {"SLADS", 45, 1}, {"SLTS", 46, 1},
        {"FLTS", 47, 1}, {"SMPWCS", 48, 1}, {"RPS", 49, 1}};

    /** The named fields in which two register values differ, "NAME model/recorded" each. */
    static String fieldDiff(long model, long recorded, Object[][] fields, String prefix) {
        List<String> out = new ArrayList<>();
        long covered = 0;
        for (Object[] f : fields) {
            int lo = (Integer) f[1];
            int width = (Integer) f[2];
            long mask = (width == 64 ? -1L : (1L << width) - 1) << lo;
            covered |= mask;
            long a = (model & mask) >>> lo;
            long b = (recorded & mask) >>> lo;
            if (a != b) {
                out.add(prefix + f[0] + " " + (width == 1 ? a + "/" + b : String.format("%#x/%#x", a, b)));
            }
        }
        if (((model ^ recorded) & ~covered) != 0) {
            out.add(prefix + String.format("reserved %#x/%#x", model & ~covered, recorded & ~covered));
        }
        return out.isEmpty() ? prefix + "same" : String.join(" ", out);
    }

    /** The model unit closest to recorded CAP/ECAP registers: the features the model has, taken from them. */
    static VtdConfig fromRegisters(long cap, long ecap) {
        int mgaw = CapReg.mgaw(cap);
        int aw = mgaw >= 57 ? 57 : mgaw >= 48 ? 48 : 39;
        int nfr = Math.max(1, Math.min(VtdConfig.MAX_FAULT_RECORDS, CapReg.faultRecordCount(cap)));
        return new VtdConfig(EcapReg.interruptRemapping(ecap), EcapReg.extendedInterruptMode(ecap),
                CapReg.cachingMode(cap), EcapReg.deviceIotlb(ecap), EcapReg.passThrough(ecap), aw,
                (ecap & EcapReg.SMTS) != 0, (ecap & EcapReg.PASID) != 0, EcapReg.snoopControl(ecap),
                (cap & CapReg.DRD) != 0, true, nfr, 1024, (ecap & EcapReg.FLTS) != 0, EcapReg.nested(ecap), false);
    }

    // ---------------------------------------------------------------- drivers

    /**
     * The recorded bindings, recreated as root would on the freshly booted model: driver_override,
     * modprobe of each recorded driver's module (binding what its id table matches), the recorded
     * writable module parameters, sriov_numvfs, then explicit binds where the result differs.
     */
    private void recreateBindings(Kernel k) {
        RootShell sh = new RootShell(k);
        Set<String> unmodelled = new LinkedHashSet<>();
        for (HostDevice d : snap.devices()) {
            if (d.driverOverride() != null && d.physfn() == null) {
                sh.run("echo " + d.driverOverride() + " > /sys/bus/pci/devices/" + d.address() + "/driver_override");
            }
        }
        Set<String> modules = new LinkedHashSet<>();
        for (HostDevice d : snap.devices()) {
            if (d.driver() != null && !d.driver().equals("pcieport")) {
                modules.add(d.driver());
            }
        }
        for (String m : snap.modules().keySet()) {
            if (m.startsWith("vfio")) {
                modules.add(m);
            }
        }
        for (String m : modules) {
            RootShell.Result r = sh.run("modprobe " + m);
            if (!r.ok()) {
                unmodelled.add(m);
            }
        }
        Map<String, String> type1 = snap.modules().getOrDefault("vfio_iommu_type1", Map.of());
        String unsafe = type1.get("allow_unsafe_interrupts");
        if (unsafe != null && (unsafe.equals("Y") || unsafe.equals("1"))) {
            sh.run("echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
        }
        for (HostDevice d : snap.devices()) {
            if (d.sriov() == null || d.sriov().numVfs() == 0) {
                continue;
            }
            Optional<PciDevice> pf = k.drivers().device(d.address().toString());
            if (pf.isEmpty()) {
                continue;
            }
            if (d.sriov().driversAutoprobe() != null && !d.sriov().driversAutoprobe()) {
                sh.run("echo 0 > /sys/bus/pci/devices/" + d.address() + "/sriov_drivers_autoprobe");
            }
            RootShell.Result r = sh.run("echo " + d.sriov().numVfs() + " > /sys/bus/pci/devices/" + d.address()
                    + "/sriov_numvfs");
            if (!r.ok()) {
                // the PF's driver is not modelled: enable the VFs as its sriov_configure did on the host
                int rc = k.drivers().enableSriov(pf.get(), d.sriov().numVfs());
                notes.add(d.address() + ": " + d.sriov().numVfs() + " VFs enabled as recorded"
                        + (d.driver() == null ? "" : " (what its driver " + d.driver() + " did on the host)")
                        + (rc < 0 ? ": failed, errno " + (-rc) : ""));
            }
        }
        for (HostDevice d : snap.devices()) {
            if (d.physfn() != null && d.driverOverride() != null) {
                sh.run("echo " + d.driverOverride() + " > /sys/bus/pci/devices/" + d.address() + "/driver_override");
            }
        }
        for (HostDevice d : snap.devices()) {
            Optional<PciDevice> dev = k.drivers().device(d.address().toString());
            if (dev.isEmpty()) {
                String a = d.address().toString();
                if (notes.stream().noneMatch(n -> n.startsWith(a))) {
                    notes.add(a + ": recorded on the host, not in the model");
                }
                continue;
            }
            String now = dev.get().driver() == null ? null : dev.get().driver().name();
            String want = d.driver();
            if (java.util.Objects.equals(now, want)) {
                continue;
            }
            if (want != null && unmodelled.contains(want)) {
                if (now != null) {
                    sh.run("echo " + d.address() + " > /sys/bus/pci/drivers/" + now + "/unbind");
                }
                notes.add(d.address() + ": driver " + want + " (bound on the recorded host) is not modelled:"
                        + " left without a driver");
                continue;
            }
            if (now != null) {
                sh.run("echo " + d.address() + " > /sys/bus/pci/drivers/" + now + "/unbind");
            }
            if (want != null) {
                RootShell.Result r = sh.run("echo " + d.address() + " > /sys/bus/pci/drivers/" + want + "/bind");
                if (!r.ok()) {
                    notes.add(d.address() + ": driver " + want + " (bound on the recorded host) does not bind in the model ("
                            + r.output().trim() + "): left without a driver");
                }
            } else {
                notes.add(d.address() + ": no driver on the recorded host; the model's " + now + " claimed it:"
                        + " unbound again");
            }
        }
    }
}
