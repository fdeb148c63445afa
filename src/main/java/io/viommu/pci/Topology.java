package io.viommu.pci;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A read-only snapshot of the PCI hierarchy as a Linux 6.1 guest enumerates it, for the kernel
 * model (IOMMU groups, sysfs): taken with configuration reads only, after firmware numbered the
 * buses ({@link BusNumbering}). Scan rules are Linux's {@code pci_scan_child_bus_extend}:
 * <ul>
 * <li>device 0 only below a root port or a downstream port ({@code only_one_child});</li>
 * <li>function 0 must answer; once it says multi-function (header type bit 7), functions 1-7
 *     are each tried, gaps allowed (a function found above 0 counts as multi-function, as
 *     pci_scan_slot marks it); on a bus whose bridge has ARI forwarding enabled, the ARI
 *     next-function numbers are followed instead ({@code next_fn});</li>
 * <li>a bridge's secondary bus is scanned after all functions of its own bus.</li>
 * </ul>
 * {@link #functions()} is in Linux's device-add order ({@code pci_bus_add_devices}: a bus's
 * functions in devfn order, then the buses below them in turn), then SR-IOV VFs that are enabled,
 * PF by PF. IDs are the ones Linux uses: a VF shows its PF's vendor and the PF's VF Device ID.
 */
public final class Topology {
    /** A capability as found in configuration space. */
    public record Capability(int id, int offset, boolean extended, int version) {
    }

    /**
     * An ACS capability: which bits it advertises and which are enabled; read from the model's
     * config space here and from a real host's sysfs config file by host scan.
     */
    public record Acs(int offset, int capability, int control) {
        /**
         * Linux's pci_acs_flags_enabled (drivers/pci/pci.c): every wanted control the function
         * implements is enabled; unimplemented ones count as enabled, except EC, which is
         * wanted whenever asked for.
         */
        public boolean enabled(int flags) {
            int f = flags & (capability | AcsCapability.EC);
            return (control & f) == f;
        }
    }

    /** State of a PF's SR-IOV capability. */
    public record Sriov(int offset, int initialVfs, int totalVfs, int numVfs, int vfOffset, int vfStride,
                        int vfDeviceId, boolean vfEnabled, boolean vfMemoryEnabled,
                        boolean ariCapableHierarchy, List<RequesterId> virtualFunctions) {
    }

    /**
     * One function.
     *
     * @param parentBridge     the bridge whose secondary bus holds this function; null on the
     *                         root bus and on a bridgeless VF bus
     * @param onVirtualBus     a VF on a bus with no bridge (Linux: {@code bus->self == NULL})
     * @param portType         PCIe device/port type, null for a conventional function
     * @param ariNextFunction  next function number of the ARI capability, -1 without one
     * @param ariForwarding    for PCIe ports: [supported, enabled] from DEVCAP2/DEVCTL2 bit 5
     * @param secondaryBus     bridges: secondary and subordinate bus numbers; else -1
     * @param qemuType         the device model's QEMU type name ({@code e1000e}, {@code mch})
     */
    public record Function(RequesterId rid, int vendorId, int deviceId, int subsystemVendorId, int subsystemId,
                           int classCode, int revision, int headerLayout, boolean multiFunction,
                           RequesterId parentBridge, boolean onVirtualBus,
                           PcieCapability.PortType portType, List<Capability> capabilities, Acs acs,
                           int ariNextFunction, boolean[] ariForwarding, Sriov sriov,
                           boolean virtualFunction, RequesterId physicalFunction,
                           int secondaryBus, int subordinateBus,
                           String qemuType, String qemuId, Map<String, String> qemuProperties) {
        public boolean isBridge() {
            return headerLayout == PciRegs.HEADER_TYPE_BRIDGE;
        }

        public boolean isExpress() {
            return portType != null;
        }

        public boolean hasAri() {
            return ariNextFunction >= 0;
        }

        public boolean ariForwardingSupported() {
            return ariForwarding[0];
        }

        public boolean ariForwardingEnabled() {
            return ariForwarding[1];
        }

        /** Linux's "0000:bb:dd.f". */
        public String bdf() {
            return "0000:" + rid;
        }

        public Optional<Capability> capability(int id, boolean extended) {
            return capabilities.stream().filter(c -> c.id() == id && c.extended() == extended).findFirst();
        }
    }

    private final List<Function> functions;
    private final Map<RequesterId, Function> byRid;

    private Topology(List<Function> functions) {
        this.functions = List.copyOf(functions);
        Map<RequesterId, Function> m = new LinkedHashMap<>();
        for (Function f : functions) {
            m.put(f.rid(), f);
        }
        this.byRid = Collections.unmodifiableMap(m);
    }

    /** Every function in Linux's device-add order. */
    public List<Function> functions() {
        return functions;
    }

    public Optional<Function> function(RequesterId rid) {
        return Optional.ofNullable(byRid.get(rid));
    }

    /** Functions sorted by bus/device/function (what {@code ls /sys/bus/pci/devices} shows). */
    public List<Function> byBdf() {
        List<Function> out = new ArrayList<>(functions);
        out.sort((a, b) -> a.rid().compareTo(b.rid()));
        return out;
    }

    /** The functions whose parent bridge is {@code bridge} (null: the root bus). */
    public List<Function> childrenOf(RequesterId bridge) {
        List<Function> out = new ArrayList<>();
        for (Function f : functions) {
            if (java.util.Objects.equals(f.parentBridge(), bridge) && !f.onVirtualBus()) {
                out.add(f);
            }
        }
        return out;
    }

    /** Scans the hierarchy below {@code root} as Linux does (see the class comment). */
    public static Topology scan(PciBus root) {
        ConfigAccess cfg = ConfigAccess.of(root);
        List<Function> out = new ArrayList<>();
        scanBus(root, cfg, root.busNumber(), null, null, out);
        List<Function> vfs = new ArrayList<>();
        for (Function f : out) {
            if (f.sriov() != null) {
                for (RequesterId vf : f.sriov().virtualFunctions()) {
                    Function n = describe(root, cfg, vf, null, null, f);
                    if (n != null) {
                        vfs.add(n);
                    }
                }
            }
        }
        out.addAll(vfs);
        return new Topology(out);
    }

    private static void scanBus(PciBus root, ConfigAccess cfg, int bus, RequesterId bridgeRid, Function bridge,
                                List<Function> out) {
        List<Function> here = new ArrayList<>();
        boolean oneChild = bridge != null && bridge.portType() != null && bridge.portType().isDownstreamPort();
        boolean ari = bridge != null && bridge.ariForwardingEnabled();
        for (int dev = 0; dev < 32; dev++) {
            if (oneChild && dev > 0) {
                break;
            }
            int fn = 0;
            while (fn >= 0) {
                int devfn = ari ? fn : dev << 3 | fn;
                Function f = describe(root, cfg, RequesterId.of(bus, devfn), bridgeRid, bridge, null);
                if (f != null) {
                    here.add(f);
                } else if (fn == 0) {
                    break;
                }
                fn = nextFunction(ari, f, fn);
            }
            if (ari) {
                break;
            }
        }
        out.addAll(here);
        for (Function f : here) {
            if (f.isBridge() && f.secondaryBus() > bus && f.secondaryBus() <= f.subordinateBus()) {
                scanBus(root, cfg, f.secondaryBus(), f.rid(), f, out);
            }
        }
    }

    /**
     * Linux 6.1 next_fn / next_ari_fn (drivers/pci/probe.c). Without ARI it stops after function
     * 7, and after a function whose {@code dev->multifunction} is clear; a missing function
     * ({@code dev == NULL}) is a gap and the scan goes on. {@code dev->multifunction} is the
     * header-type bit (pci_setup_device), but pci_scan_slot also sets it on every function it
     * finds above 0 ({@code if (fn > 0) dev->multifunction = 1}): QEMU sets the header bit only
     * on functions given {@code multifunction=on} (checked with 7.2: 00:06.1 reads header type
     * 0x01), so deciding by the header bit alone lost 00:06.2 after a plain 00:06.1.
     */
    private static int nextFunction(boolean ari, Function f, int fn) {
        if (ari) {
            if (f == null || !f.hasAri()) {
                return -1;
            }
            int next = f.ariNextFunction();
            return next <= fn ? -1 : next;
        }
        boolean devMultifunction = f != null && (f.multiFunction() || fn > 0);
        if (fn >= 7 || (f != null && !devMultifunction)) {
            return -1;
        }
        return fn + 1;
    }

    private static Function describe(PciBus root, ConfigAccess cfg, RequesterId rid, RequesterId bridgeRid,
                                     Function bridge, Function pf) {
        long id = cfg.read(rid, PciRegs.VENDOR_ID, 4);
        if (pf == null && (id == 0xffff_ffffL || id == 0 || (id & 0xffff) == 0xffff)) {
            return null;
        }
        PciFunction model = root.route(rid.bus(), rid.devfn());
        if (pf != null && model == null) {
            return null;
        }
        int vendor = (int) (id & 0xffff);
        int device = (int) (id >>> 16);
        boolean onVirtualBus = false;
        RequesterId parent = bridgeRid;
        if (pf != null) {
            vendor = pf.vendorId();
            device = pf.sriov().vfDeviceId();
            onVirtualBus = rid.bus() != pf.rid().bus();
            parent = onVirtualBus ? null : pf.parentBridge();
        }
        int ht = (int) cfg.read(rid, PciRegs.HEADER_TYPE, 1);
        int layout = ht & PciRegs.HEADER_TYPE_LAYOUT_MASK;
        List<Capability> caps = new ArrayList<>();
        PcieCapability.PortType type = null;
        Acs acs = null;
        int ariNext = -1;
        boolean[] ariFwd = new boolean[2];
        Sriov sriov = null;
        for (PciFunction.CapabilityRef c : model == null ? List.<PciFunction.CapabilityRef>of() : model.capabilityList()) {
            caps.add(new Capability(c.id(), c.offset(), c.extended(), c.version()));
            int o = c.offset();
            if (!c.extended() && c.id() == PciRegs.CAP_ID_EXP && type == null) {
                int flags = (int) cfg.read(rid, o + PcieCapability.FLAGS, 2);
                type = PcieCapability.portType(flags);
                if (PcieCapability.version(flags) >= 2) {
                    ariFwd[0] = (cfg.read(rid, o + PcieCapability.DEVCAP2, 4) & PcieCapability.DEVCAP2_ARI_FORWARDING) != 0;
                    ariFwd[1] = (cfg.read(rid, o + PcieCapability.DEVCTL2, 2) & PcieCapability.DEVCTL2_ARI_FORWARDING) != 0;
                }
            } else if (c.extended() && c.id() == PciRegs.EXT_CAP_ID_ACS && acs == null) {
                acs = new Acs(o, (int) cfg.read(rid, o + AcsCapability.CAP, 2), (int) cfg.read(rid, o + AcsCapability.CTRL, 2));
            } else if (c.extended() && c.id() == PciRegs.EXT_CAP_ID_ARI && ariNext < 0) {
                ariNext = AriCapability.nextFunction((int) cfg.read(rid, o + AriCapability.CAP, 2));
            } else if (c.extended() && c.id() == PciRegs.EXT_CAP_ID_SRIOV && sriov == null && model.sriov() != null) {
                SriovCapability s = model.sriov();
                List<RequesterId> vfs = new ArrayList<>();
                for (VirtualFunction vf : s.virtualFunctions()) {
                    if (vf.address() != null) {
                        vfs.add(vf.address());
                    }
                }
                sriov = new Sriov(o, s.initialVfs(), s.totalVfs(), s.numVfs(), s.vfOffset(), s.vfStride(),
                        s.vfDeviceId(), s.vfEnabled(), s.vfMemoryEnabled(), s.ariCapableHierarchy(), List.copyOf(vfs));
            }
        }
        boolean isBridge = layout == PciRegs.HEADER_TYPE_BRIDGE;
        return new Function(rid, vendor, device,
                (int) cfg.read(rid, PciRegs.SUBSYSTEM_VENDOR_ID, 2), (int) cfg.read(rid, PciRegs.SUBSYSTEM_ID, 2),
                (int) cfg.read(rid, PciRegs.CLASS_PROG, 4) & 0xffffff, (int) cfg.read(rid, PciRegs.REVISION_ID, 1),
                layout, (ht & PciRegs.HEADER_TYPE_MULTI_FUNCTION) != 0, parent, onVirtualBus, type,
                List.copyOf(caps), acs, ariNext, ariFwd, sriov, pf != null, pf == null ? null : pf.rid(),
                isBridge ? (int) cfg.read(rid, PciRegs.SECONDARY_BUS, 1) : -1,
                isBridge ? (int) cfg.read(rid, PciRegs.SUBORDINATE_BUS, 1) : -1,
                model == null ? null : model.typeName(), model == null ? null : model.id(),
                model == null ? Map.of() : model.properties());
    }
}
