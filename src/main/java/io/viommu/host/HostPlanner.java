package io.viommu.host;

import io.viommu.linux.driver.AcsCheck;
import io.viommu.linux.acpi.DmarTable;
import io.viommu.host.HostReport.AcsHop;
import io.viommu.host.HostReport.Assignment;
import io.viommu.host.HostReport.Check;
import io.viommu.host.HostReport.Device;
import io.viommu.host.HostReport.Dmar;
import io.viommu.host.HostReport.Group;
import io.viommu.host.HostReport.Host;
import io.viommu.host.HostReport.InterruptRemapping;
import io.viommu.host.HostReport.Iommu;
import io.viommu.host.HostReport.Reason;
import io.viommu.host.HostReport.Reset;
import io.viommu.host.HostReport.Severity;
import io.viommu.host.HostReport.Sriov;
import io.viommu.host.HostReport.Status;
import io.viommu.host.HostReport.Summary;
import io.viommu.host.HostReport.Unit;
import io.viommu.host.HostSnapshot.HostDevice;
import io.viommu.host.HostSnapshot.HostGroup;
import io.viommu.host.HostSnapshot.IommuUnit;
import io.viommu.host.HostSnapshot.TableState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The pure half of {@code host scan}: a {@link HostSnapshot} in, a {@link HostReport} out, no I/O.
 * It answers what libvirt's virt-host-validate answers (hardware virtualization, /dev/kvm, IOMMU in
 * firmware, IOMMU enabled by the kernel, quoting its messages where it has the same check) and then
 * precisely why not, and per PCI function whether vfio-pci can take it, what goes with it and how.
 */
public final class HostPlanner {
    /** Drivers that leave a group usable by VFIO (driver_managed_dma in Linux, plus unbound). */
    static final Set<String> VFIO_FRIENDLY = Set.of("vfio-pci", "pci-stub", "pcieport");

    /** ACPI OEM ids of hypervisors' tables, to name the VMM when a VM has no IOMMU. */
    static final Map<String, String> VMM_OEM_IDS = Map.of("FIRECK", "Firecracker", "BOCHS", "QEMU",
            "CLOUDH", "Cloud Hypervisor", "VBOX", "VirtualBox", "VMWARE", "VMware", "VRTUAL", "Hyper-V",
            "XEN", "Xen", "AMAZON", "Amazon EC2");

    private HostPlanner() {
    }

    public static HostReport plan(HostSnapshot s) {
        Iommu iommu = iommu(s);
        InterruptRemapping ir = interruptRemapping(s, iommu);
        List<Group> groups = s.groups().stream().map(g -> group(s, g)).toList();
        List<Device> devices = s.devices().stream().map(d -> device(s, d, iommu, ir)).toList();
        return new HostReport(HostReport.SCHEMA, s.source(), host(s), checks(s, iommu, ir), iommu, ir, groups, devices,
                summary(iommu, devices));
    }

    // ---------------------------------------------------------------- host and checks

    static Host host(HostSnapshot s) {
        return new Host(s.kernelRelease(), s.cpu().vendor(), s.cpu().modelName(), s.cpu().processors(), s.cpu().vmx(),
                s.cpu().svm(), s.cpu().hypervisor(), s.cmdline().relevant(), s.kernelConfig(), s.modules(),
                s.devNodes(), s.firmware().acpiTables(), s.firmware().oemId());
    }

    static List<Check> checks(HostSnapshot s, Iommu iommu, InterruptRemapping ir) {
        List<Check> out = new ArrayList<>();
        CpuInfo cpu = s.cpu();
        if (cpu.vmx() || cpu.svm()) {
            out.add(new Check("hw-virt", Status.PASS, "Hardware virtualization",
                    (cpu.vmx() ? "vmx (Intel VT-x)" : "svm (AMD-V)") + " in /proc/cpuinfo flags"));
        } else {
            String why = cpu.hypervisor()
                    ? "this kernel runs under a hypervisor that does not expose " + (cpu.amd() ? "AMD-V (svm)" : cpu.intel()
                    ? "VT-x (vmx)" : "vmx/svm") + " to it (nested virtualization off)"
                    : "the CPU lacks it or it is disabled in the firmware setup";
            out.add(new Check("hw-virt", Status.FAIL, "Hardware virtualization",
                    "no vmx or svm flag in /proc/cpuinfo (" + nonEmpty(cpu.modelName(), "unknown CPU") + "): " + why
                            + ". virt-host-validate: \"Only emulated CPUs are available, performance will be"
                            + " significantly limited\""));
        }
        boolean kvm = s.devNodes().contains("/dev/kvm");
        String kvmModules = String.join(", ", s.modules().keySet().stream().filter(m -> m.startsWith("kvm")).toList());
        if (kvm) {
            String detail = "/dev/kvm exists" + (kvmModules.isEmpty() ? "" : " (modules: " + kvmModules + ")");
            if (!cpu.vmx() && !cpu.svm() && s.modules().containsKey("kvm_pvm")) {
                detail += "; without vmx/svm it is served by kvm_pvm, a paravirtualized KVM, not hardware virtualization";
            }
            out.add(new Check("dev-kvm", Status.PASS, "KVM device", detail));
        } else {
            out.add(new Check("dev-kvm", Status.FAIL, "KVM device", "/dev/kvm does not exist"
                    + (cpu.vmx() ? ": modprobe kvm_intel" : cpu.svm() ? ": modprobe kvm_amd" : "")));
        }
        out.add(firmwareCheck(s));
        if (iommu.enabled()) {
            out.add(new Check("iommu-kernel", Status.PASS, "IOMMU enabled by the kernel",
                    iommu.units().size() + " unit(s) in /sys/class/iommu, " + s.groups().size() + " IOMMU group(s)"
                            + (iommu.defaultDomain() == null ? "" : ", default domain " + iommu.defaultDomain())));
        } else {
            out.add(new Check("iommu-kernel", Status.FAIL, "IOMMU enabled by the kernel",
                    "no: " + String.join("; ", iommu.reasons())));
        }
        Status irStatus = switch (ir.state()) {
            case "enabled" -> Status.PASS;
            case "unavailable" -> Status.FAIL;
            case "unknown" -> Status.INFO;
            default -> Status.WARN;
        };
        out.add(new Check("irq-remapping", irStatus, "Interrupt remapping", ir.state() + ": " + String.join("; ", ir.reasons())));
        out.add(vfioCheck(s));
        return out;
    }

    static Check firmwareCheck(HostSnapshot s) {
        HostSnapshot.Firmware fw = s.firmware();
        String title = "Device assignment IOMMU support (firmware)";
        if (fw.dmarState() == TableState.READ) {
            Dmar d = Dmar.of(fw.dmar());
            return new Check("iommu-firmware", Status.PASS, title, "ACPI DMAR table: host address width " + d.hostAddressWidth()
                    + ", " + d.drhds().size() + " DRHD, " + d.rmrrs().size() + " RMRR, " + d.atsrs().size() + " ATSR"
                    + (d.interruptRemapping() ? ", INTR_REMAP" : ""));
        }
        if (fw.dmarState() == TableState.UNREADABLE) {
            return new Check("iommu-firmware", Status.PASS, title,
                    "ACPI DMAR table present (not parsed: /sys/firmware/acpi/tables/DMAR is readable by root only)");
        }
        if (fw.ivrsState() != TableState.ABSENT) {
            return new Check("iommu-firmware", Status.PASS, title, "ACPI IVRS table present"
                    + (fw.ivrs() != null ? ": " + fw.ivrs().ivhds().size() + " IVHD block(s)" : " (readable by root only)"));
        }
        if (!s.iommus().isEmpty()) {
            return new Check("iommu-firmware", Status.PASS, title, "no DMAR/IVRS table, but the kernel registered "
                    + s.iommus().get(0).name() + " (e.g. virtio-iommu, described by VIOT or the device itself)");
        }
        String tables = fw.acpiTables().isEmpty() ? "no ACPI tables are exposed in /sys/firmware/acpi/tables"
                : "/sys/firmware/acpi/tables holds only " + String.join(", ", fw.acpiTables());
        String vhv = s.cpu().intel() ? "No ACPI DMAR table found, IOMMU either disabled in BIOS or not supported by this hardware platform"
                : s.cpu().amd() ? "No ACPI IVRS table found, IOMMU either disabled in BIOS or not supported by this hardware platform"
                : "Unknown if this platform has IOMMU support";
        return new Check("iommu-firmware", Status.FAIL, title, "neither a DMAR (Intel VT-d) nor an IVRS (AMD-Vi) table: "
                + tables + ". virt-host-validate: \"" + vhv + "\"");
    }

    static Check vfioCheck(HostSnapshot s) {
        String title = "VFIO (vfio-pci, type1 IOMMU backend)";
        Map<String, String> cfg = s.kernelConfig();
        boolean loaded = s.modules().containsKey("vfio_pci") || s.modules().containsKey("vfio_pci_core");
        if (loaded) {
            return new Check("vfio", Status.PASS, title, "vfio-pci present in /sys/module"
                    + (s.devNodes().contains("/dev/vfio/vfio") ? ", /dev/vfio/vfio exists" : ""));
        }
        if (cfg == null) {
            return new Check("vfio", Status.INFO, title, "vfio-pci is not loaded; kernel configuration unknown"
                    + " (no /proc/config.gz or /boot/config-" + s.kernelRelease() + "): try modprobe vfio-pci");
        }
        String vfio = cfg.getOrDefault("CONFIG_VFIO", "n");
        String pci = cfg.getOrDefault("CONFIG_VFIO_PCI", "n");
        if (vfio.equals("n") || pci.equals("n")) {
            return new Check("vfio", Status.FAIL, title, "the kernel is built without "
                    + (vfio.equals("n") ? "CONFIG_VFIO" : "CONFIG_VFIO_PCI") + ": no device can be handed to user space");
        }
        return new Check("vfio", Status.INFO, title, "built as a module (CONFIG_VFIO_PCI=" + pci + "), not loaded: modprobe vfio-pci");
    }

    // ---------------------------------------------------------------- IOMMU

    static Iommu iommu(HostSnapshot s) {
        HostSnapshot.Firmware fw = s.firmware();
        String firmware = fw.dmarState() == TableState.READ ? "DMAR" : fw.dmarState() == TableState.UNREADABLE ? "DMAR (unreadable)"
                : fw.ivrsState() == TableState.READ ? "IVRS" : fw.ivrsState() == TableState.UNREADABLE ? "IVRS (unreadable)" : "none";
        boolean enabled = !s.iommus().isEmpty() || !s.groups().isEmpty();
        String vendor = s.iommus().stream().map(u -> switch (u.kind()) {
            case "intel-iommu" -> "intel";
            case "amd-iommu" -> "amd";
            default -> "virtio";
        }).findFirst().orElse(enabled ? "unknown" : null);
        List<String> reasons = enabled ? List.of() : whyNoIommu(s);
        String cause = enabled ? null : cause(s);
        Dmar dmar = fw.dmar() == null ? null : Dmar.of(fw.dmar());
        List<Unit> units = s.iommus().stream().map(HostPlanner::unit).toList();
        String domain = s.groups().stream().map(HostGroup::type).filter(t -> t != null).findFirst().orElse(null);
        return new Iommu(firmware, enabled, vendor, cause, reasons, dmar, fw.ivrs(), units, domain);
    }

    static Unit unit(IommuUnit u) {
        List<String> features = u.cap() != null && u.ecap() != null ? VtdFeatures.names(u.cap(), u.ecap()) : List.of();
        return new Unit(u.name(), u.kind(), u.cap() == null ? null : Long.toHexString(u.cap()),
                u.ecap() == null ? null : Long.toHexString(u.ecap()), u.version(), u.address(), features,
                u.devices().stream().map(PciAddress::toString).toList());
    }

    /**
     * Why the kernel runs no IOMMU, most fundamental first: firmware, hypervisor, kernel build,
     * command line, then what is (not) in sysfs. Mirrors the decisions of detect_intel_iommu /
     * intel_iommu_init (drivers/iommu/intel/dmar.c, iommu.c) and amd_iommu_detect.
     */
    static List<String> whyNoIommu(HostSnapshot s) {
        List<String> r = new ArrayList<>();
        HostSnapshot.Firmware fw = s.firmware();
        KernelCmdline cl = s.cmdline();
        Map<String, String> cfg = s.kernelConfig();
        boolean dmar = fw.dmarState() != TableState.ABSENT;
        boolean ivrs = fw.ivrsState() != TableState.ABSENT;
        if (!dmar && !ivrs) {
            String oem = fw.oemId().isEmpty() ? "" : " (ACPI OEM id " + fw.oemId() + vmmName(fw.oemId()).map(n -> ", " + n).orElse("") + ")";
            r.add("the firmware provides no DMAR (Intel VT-d) or IVRS (AMD-Vi) ACPI table"
                    + (fw.acpiTables().isEmpty() ? " (no ACPI tables in /sys/firmware/acpi/tables)"
                    : ": /sys/firmware/acpi/tables holds only " + String.join(", ", fw.acpiTables())) + oem);
            if (s.cpu().hypervisor()) {
                r.add("this kernel runs in a virtual machine (cpuinfo flag \"hypervisor\")"
                        + vmmName(fw.oemId()).map(n -> " under " + n).orElse("")
                        + ", which emulates no IOMMU; a VM has one only if its VMM provides it"
                        + " (QEMU: -device intel-iommu with -machine q35, or -device virtio-iommu-pci)");
            } else {
                r.add("enable VT-d / AMD-Vi (often \"IOMMU\" or \"SVM/VT-d\") in the firmware setup, if the platform has it");
            }
        }
        if (cfg != null) {
            List<String> missing = new ArrayList<>();
            for (String k : List.of("CONFIG_INTEL_IOMMU", "CONFIG_AMD_IOMMU", "CONFIG_VIRTIO_IOMMU")) {
                if (cfg.getOrDefault(k, "n").equals("n")) {
                    missing.add(k);
                }
            }
            if (missing.size() == 3) {
                r.add("the kernel is built without any x86 IOMMU driver (" + String.join(", ", missing)
                        + " are not set), so it could not use one even if the firmware described it");
            } else if (dmar && missing.contains("CONFIG_INTEL_IOMMU")) {
                r.add("the firmware has a DMAR table but the kernel is built without CONFIG_INTEL_IOMMU");
            } else if (ivrs && missing.contains("CONFIG_AMD_IOMMU")) {
                r.add("the firmware has an IVRS table but the kernel is built without CONFIG_AMD_IOMMU");
            }
        }
        if (cl.kernel().noIommu()) {
            r.add("the kernel command line has iommu=off, which disables every IOMMU driver");
        }
        if (dmar) {
            Optional<Boolean> on = intelIommuSwitch(cl);
            if (on.isPresent() && !on.get()) {
                r.add("the kernel command line has intel_iommu=off: remove it or use intel_iommu=on");
            } else if (on.isEmpty()) {
                String def = cfg == null ? null : intelIommuDefaultOn(cfg) ? "y" : "n";
                if (def == null) {
                    r.add("the kernel command line lacks intel_iommu=on, and whether this kernel enables VT-d by default"
                            + " (CONFIG_INTEL_IOMMU_DEFAULT_ON) is unknown: add intel_iommu=on");
                } else if (def.equals("n")) {
                    r.add("the kernel command line lacks intel_iommu=on and this kernel's default is off"
                            + " (CONFIG_INTEL_IOMMU_DEFAULT_ON is not set): add intel_iommu=on");
                }
            }
            if (fw.dmarState() == TableState.UNREADABLE) {
                r.add("the DMAR table is readable by root only; run as root to see its contents");
            }
        }
        if (ivrs && cl.has("amd_iommu", "off")) {
            r.add("the kernel command line has amd_iommu=off");
        }
        if ((dmar || ivrs) && r.isEmpty()) {
            r.add("the firmware describes an IOMMU and nothing on the command line disables it, yet the kernel"
                    + " registered none: see `dmesg | grep -i -e DMAR -e IOMMU -e AMD-Vi` (a broken table or a"
                    + " platform quirk makes the kernel ignore it)");
        }
        r.add("so /sys/class/iommu is empty and " + (s.iommuGroupsDir() ? "/sys/kernel/iommu_groups has no groups"
                : "/sys/kernel/iommu_groups does not exist (kernel without CONFIG_IOMMU_API)"));
        return r;
    }

    /** The reasons of {@link #whyNoIommu} in one line, for the summary and per-device verdicts. */
    static String cause(HostSnapshot s) {
        HostSnapshot.Firmware fw = s.firmware();
        Map<String, String> cfg = s.kernelConfig();
        List<String> parts = new ArrayList<>();
        boolean dmar = fw.dmarState() != TableState.ABSENT;
        boolean ivrs = fw.ivrsState() != TableState.ABSENT;
        if (!dmar && !ivrs) {
            parts.add("the firmware has no DMAR/IVRS table" + (s.cpu().hypervisor()
                    ? " (" + vmmName(fw.oemId()).map(n -> "a " + n + " VM").orElse("a virtual machine")
                    + " without a virtual IOMMU)" : ""));
        }
        if (cfg != null && cfg.getOrDefault("CONFIG_INTEL_IOMMU", "n").equals("n")
                && cfg.getOrDefault("CONFIG_AMD_IOMMU", "n").equals("n") && cfg.getOrDefault("CONFIG_VIRTIO_IOMMU", "n").equals("n")) {
            parts.add("the kernel has no IOMMU driver");
        }
        if (s.cmdline().kernel().noIommu()) {
            parts.add("iommu=off is on the kernel command line");
        }
        if (dmar) {
            Optional<Boolean> on = intelIommuSwitch(s.cmdline());
            if (on.isPresent() && !on.get()) {
                parts.add("intel_iommu=off is on the kernel command line");
            } else if (on.isEmpty() && (cfg == null || !intelIommuDefaultOn(cfg))) {
                parts.add("the kernel command line lacks intel_iommu=on" + (cfg == null ? "" : " (this kernel's default is off)"));
            }
        }
        if (ivrs && s.cmdline().has("amd_iommu", "off")) {
            parts.add("amd_iommu=off is on the kernel command line");
        }
        if (parts.isEmpty()) {
            parts.add("the kernel registered no IOMMU although the firmware describes one (see dmesg)");
        }
        return String.join(", and ", parts);
    }

    /**
     * Whether the kernel enables VT-d without intel_iommu=on: CONFIG_INTEL_IOMMU_DEFAULT_ON, or
     * Debian's CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF (on, integrated Intel GPUs excluded), which
     * Debian's kernels set instead.
     */
    static boolean intelIommuDefaultOn(Map<String, String> cfg) {
        return cfg.getOrDefault("CONFIG_INTEL_IOMMU_DEFAULT_ON", "n").equals("y")
                || cfg.getOrDefault("CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF", "n").equals("y");
    }

    /** intel_iommu=on/off as the kernel's parser reads it (intel_iommu_setup, last one wins). */
    static Optional<Boolean> intelIommuSwitch(KernelCmdline cl) {
        return cl.kernel().intelIommuSwitch();
    }

    static Optional<String> vmmName(String oemId) {
        return Optional.ofNullable(VMM_OEM_IDS.get(oemId.trim()));
    }

    // ---------------------------------------------------------------- interrupt remapping

    static InterruptRemapping interruptRemapping(HostSnapshot s, Iommu iommu) {
        boolean unsafeAllowed = allowUnsafeInterrupts(s);
        List<String> r = new ArrayList<>();
        String unsafeNote = unsafeAllowed ? "vfio_iommu_type1.allow_unsafe_interrupts is on: VFIO will accept groups anyway (unsafe)"
                : "VFIO refuses to attach a group without it (EPERM) unless vfio_iommu_type1.allow_unsafe_interrupts=1";
        if (!iommu.enabled()) {
            r.add("no IOMMU is enabled, and interrupt remapping is done by the IOMMU");
            return new InterruptRemapping("unavailable", r, unsafeAllowed);
        }
        if (s.cmdline().kernel().interruptRemappingOff()) {
            r.add("the kernel command line has intremap=off");
            r.add(unsafeNote);
            return new InterruptRemapping("disabled", r, unsafeAllowed);
        }
        if (!s.iommus().isEmpty() && s.iommus().stream().allMatch(u -> u.kind().equals("intel-iommu"))) {
            List<String> noIr = s.iommus().stream().filter(u -> u.ecap() != null && !VtdFeatures.interruptRemapping(u.ecap()))
                    .map(IommuUnit::name).toList();
            if (!noIr.isEmpty()) {
                r.add("ECAP.IR is clear on " + String.join(", ", noIr) + (s.cpu().hypervisor()
                        ? " (QEMU: -device intel-iommu,intremap=on needs -machine kernel-irqchip=split)" : ""));
            }
            DmarTable d = s.firmware().dmar();
            if (d != null && !d.interruptRemapping()) {
                r.add("the DMAR table's INTR_REMAP flag is clear");
            }
            if (!r.isEmpty()) {
                r.add(unsafeNote);
                return new InterruptRemapping("unsupported", r, unsafeAllowed);
            }
        }
        if (s.kernelConfig() != null && s.kernelConfig().getOrDefault("CONFIG_IRQ_REMAP", "n").equals("n")) {
            r.add("the kernel is built without CONFIG_IRQ_REMAP");
            r.add(unsafeNote);
            return new InterruptRemapping("disabled", r, unsafeAllowed);
        }
        if (Boolean.TRUE.equals(s.irqRemapping())) {
            r.add("/proc/interrupts shows IR- interrupt chips");
            return new InterruptRemapping("enabled", r, unsafeAllowed);
        }
        if (Boolean.FALSE.equals(s.irqRemapping())) {
            r.add("/proc/interrupts shows MSI/IO-APIC chips without the IR- prefix");
            r.add(unsafeNote);
            return new InterruptRemapping("disabled", r, unsafeAllowed);
        }
        r.add("capable (firmware and IOMMU), but /proc/interrupts was not available to confirm it is in use");
        return new InterruptRemapping("unknown", r, unsafeAllowed);
    }

    static boolean allowUnsafeInterrupts(HostSnapshot s) {
        String mod = s.modules().getOrDefault("vfio_iommu_type1", Map.of()).get("allow_unsafe_interrupts");
        if (mod != null) {
            return KernelCmdline.bool(mod).orElse(false);
        }
        return s.cmdline().value("vfio_iommu_type1.allow_unsafe_interrupts").flatMap(KernelCmdline::bool).orElse(false);
    }

    // ---------------------------------------------------------------- groups

    static Group group(HostSnapshot s, HostGroup g) {
        List<String> endpoints = new ArrayList<>();
        List<String> drivers = new ArrayList<>();
        for (PciAddress a : g.devices()) {
            Optional<HostDevice> d = s.device(a);
            if (d.isPresent() && d.get().isBridge()) {
                continue;
            }
            endpoints.add(a.toString());
            String drv = d.map(HostDevice::driver).orElse(null);
            if (drv != null && !VFIO_FRIENDLY.contains(drv)) {
                drivers.add(a + ": " + drv);
            }
        }
        return new Group(g.id(), g.type(), g.devices().stream().map(PciAddress::toString).toList(), endpoints,
                drivers.isEmpty(), drivers, g.reservedRegions());
    }

    // ---------------------------------------------------------------- devices

    static Device device(HostSnapshot s, HostDevice d, Iommu iommu, InterruptRemapping ir) {
        PciConfig c = d.config();
        String pcieType = c == null || !c.capabilitiesReadable() ? null : c.pcieType() == null ? "conventional"
                : c.pcieType().name().toLowerCase().replace('_', '-');
        Sriov sriov = null;
        if (d.sriov() != null) {
            sriov = new Sriov(d.sriov().totalVfs(), d.sriov().numVfs(), d.sriov().offset(), d.sriov().stride(),
                    d.sriov().vfDevice(), d.virtfns().stream().map(PciAddress::toString).toList());
        } else if (c != null && c.sriov() != null) {
            PciConfig.Sriov v = c.sriov();
            sriov = new Sriov(v.totalVfs(), v.vfEnable() ? v.numVfs() : 0, v.firstVfOffset(), v.vfStride(),
                    String.format("%04x", v.vfDeviceId()), d.virtfns().stream().map(PciAddress::toString).toList());
        }
        return new Device(d.address().toString(), String.format("%04x:%04x", d.vendor() & 0xffff, d.device() & 0xffff),
                String.format("%04x:%04x", d.subVendor() & 0xffff, d.subDevice() & 0xffff),
                String.format("0x%06x", d.classCode() & 0xffffff), PciNames.describe(d.vendor(), d.device(), d.classCode()),
                d.driver(), d.group(), d.parent() == null ? null : d.parent().toString(), pcieType,
                c != null && c.multifunction(), c == null ? List.of() : collapse(c.capabilities()), acsPath(s, d), reset(s, d), sriov,
                d.physfn() == null ? null : d.physfn().toString(), d.hostUses(), assignment(s, d, iommu, ir));
    }

    /** The bridges from the device up to its root bus, and what each does for isolation (pci_acs_path_enabled). */
    static List<AcsHop> acsPath(HostSnapshot s, HostDevice d) {
        List<AcsHop> hops = new ArrayList<>();
        PciAddress up = d.parent();
        for (int guard = 0; up != null && guard < 64; guard++) {
            Optional<HostDevice> b = s.device(up);
            if (b.isEmpty()) {
                break;
            }
            HostDevice br = b.get();
            PciConfig c = br.config();
            String cap = c == null || c.acs() == null ? null : String.format("0x%04x", c.acs().capability());
            String ctrl = c == null || c.acs() == null ? null : String.format("0x%04x", c.acs().control());
            String type;
            String effect;
            if (c == null || !c.capabilitiesReadable()) {
                type = "unknown";
                effect = "config space unreadable (run as root)";
            } else if (c.pcieType() == null) {
                type = "pci-bridge";
                effect = "conventional PCI bridge: DMA from below carries the bridge's requester id, so everything"
                        + " below it is one IOMMU group";
            } else {
                type = c.pcieType().name().toLowerCase().replace('_', '-');
                effect = switch (c.pcieType()) {
                    case PCIE_TO_PCI_BRIDGE -> "PCIe-to-PCI bridge: DMA from below is aliased to (secondary bus "
                            + String.format("%02x", c.secondaryBus()) + ", 00.0), so everything below it is one IOMMU group";
                    case ROOT_PORT, DOWNSTREAM_PORT -> c.acs() == null
                            ? "no ACS: peer-to-peer traffic below it is not isolated, its subtree shares a group"
                            + " with it (and with its siblings when it is multifunction)"
                            : c.acs().enabled(AcsCheck.REQ_ACS_FLAGS) ? "ACS SV/RR/CR/UF enabled: isolates its subtree"
                            : "ACS present but SV/RR/CR/UF not all enabled (Linux enables them only when an IOMMU is"
                            + " active): its subtree is not isolated";
                    case UPSTREAM_PORT -> "switch upstream port: isolation comes from the downstream ports";
                    default -> "bridge of type " + type;
                };
            }
            hops.add(new AcsHop(up.toString(), type, cap, ctrl, effect));
            up = br.parent();
        }
        return hops;
    }

    /**
     * Reset methods: the kernel's reset_method list when present; otherwise inferred the way
     * pci_init_reset_methods would find them: FLR (DevCap or AF), PM (D3hot->D0 without
     * No_Soft_Reset), bus (the only function on a non-root bus, pci_parent_bus_reset).
     */
    static Reset reset(HostSnapshot s, HostDevice d) {
        if (d.resetMethods() != null) {
            return new Reset(d.resetMethods(), "reset_method");
        }
        List<String> m = new ArrayList<>();
        PciConfig c = d.config();
        if (c != null && c.capabilitiesReadable()) {
            if (c.flr() && !c.afFlr()) {
                m.add("flr");
            }
            if (c.afFlr()) {
                m.add("af_flr");
            }
            if (c.pm() && !c.pmNoSoftReset()) {
                m.add("pm");
            }
        }
        boolean alone = d.parent() != null && s.devices().stream()
                .noneMatch(o -> o != d && o.address().segment() == d.address().segment() && o.address().bus() == d.address().bus());
        if (alone && !d.isBridge()) {
            m.add("bus");
        }
        return new Reset(List.copyOf(m), "inferred");
    }

    static Assignment assignment(HostSnapshot s, HostDevice d, Iommu iommu, InterruptRemapping ir) {
        List<Reason> reasons = new ArrayList<>();
        if (d.isBridge()) {
            reasons.add(new Reason(Severity.INFO, "a PCI bridge/port: vfio-pci takes only normal (type 0) functions;"
                    + " bridges in a group stay with the host and do not block assignment"));
            return new Assignment("not-a-candidate", List.of(), reasons, List.of(), List.of(), null);
        }
        if (d.isBridgeClass()) {
            reasons.add(new Reason(Severity.INFO, "a platform bridge function (" + PciNames.className(d.classCode())
                    + "): part of the chipset, not something to give to a VM"));
            return new Assignment("not-a-candidate", List.of(), reasons, List.of(), List.of(), null);
        }
        if (d.group() == null) {
            String why = iommu.enabled() ? "the IOMMU does not cover it (not listed in any /sys/kernel/iommu_groups/N/devices)"
                    : "this host runs no IOMMU: " + iommu.cause();
            reasons.add(new Reason(Severity.BLOCKER, "no IOMMU group: " + why));
            Map<String, String> cfg = s.kernelConfig();
            String noiommu = cfg == null || cfg.getOrDefault("CONFIG_VFIO_NOIOMMU", "n").equals("y") ? ""
                    : cfg.getOrDefault("CONFIG_VFIO", "n").equals("n") ? " (not on this kernel: it is built without VFIO)"
                    : " (not on this kernel: it is built without CONFIG_VFIO_NOIOMMU)";
            reasons.add(new Reason(Severity.INFO, "VFIO's no-IOMMU mode (vfio.enable_unsafe_noiommu_mode=1) can hand it"
                    + " to a user-space driver such as DPDK with no DMA isolation and a tainted kernel" + noiommu
                    + "; QEMU does not accept no-IOMMU groups, so it cannot be given to a VM"));
            addUsage(reasons, d, "it");
            return new Assignment("blocked", List.of(), reasons, List.of(), List.of(), null);
        }
        List<HostDevice> members = new ArrayList<>();
        members.add(d);
        List<String> mustGoWith = new ArrayList<>();
        List<PciAddress> groupDevices = s.group(d.group()).map(HostGroup::devices)
                .orElse(s.devices().stream().filter(o -> d.group().equals(o.group())).map(HostDevice::address).toList());
        for (PciAddress a : groupDevices) {
            if (a.equals(d.address())) {
                continue;
            }
            Optional<HostDevice> o = s.device(a);
            if (o.isPresent() && o.get().isBridge()) {
                continue;
            }
            mustGoWith.add(a.toString());
            o.ifPresent(members::add);
        }
        if (!mustGoWith.isEmpty()) {
            reasons.add(new Reason(Severity.INFO, "IOMMU group " + d.group() + " also holds " + String.join(", ", mustGoWith)
                    + ": a group is assigned whole, so " + (mustGoWith.size() == 1 ? "it" : "they")
                    + " must be bound to vfio-pci (or left unbound) too"));
            explainSharing(s, d, reasons);
        }
        for (HostDevice m : members) {
            String who = m == d ? "it" : m.address().toString();
            if (m != d && m.isBridgeClass()) {
                reasons.add(new Reason(Severity.BLOCKER, "the group holds " + m.address() + " ("
                        + PciNames.className(m.classCode()) + "), a chipset function the host cannot give away"));
            }
            addUsage(reasons, m, who);
            if (m.driver() == null) {
                continue;
            }
            if (m.driver().equals("vfio-pci")) {
                reasons.add(new Reason(Severity.INFO, who + " is already bound to vfio-pci"));
            } else if (!m.driver().equals("pci-stub")) {
                reasons.add(new Reason(Severity.ACTION, who + " is bound to " + m.driver() + ": unbind it and bind vfio-pci"));
            }
            if (m.sriov() != null && m.sriov().numVfs() > 0) {
                reasons.add(new Reason(Severity.ACTION, who + " is an SR-IOV PF with " + m.sriov().numVfs()
                        + " VFs enabled: vfio-pci will not take a PF that has VFs (EBUSY); disable them first"
                        + " (sriov_numvfs=0) or assign the VFs instead"));
            }
        }
        if (d.physfn() != null) {
            String pfDriver = s.device(d.physfn()).map(HostDevice::driver).orElse(null);
            reasons.add(new Reason(Severity.INFO, "an SR-IOV VF of " + d.physfn() + (pfDriver == null ? ""
                    : " (PF driver " + pfDriver + ")") + ": the PF stays on the host; VFs of a PF that is itself"
                    + " owned by vfio-pci need a vf_token"));
        } else if (d.sriov() != null && d.sriov().numVfs() == 0 && d.sriov().totalVfs() > 0) {
            reasons.add(new Reason(Severity.INFO, "SR-IOV capable (" + d.sriov().totalVfs() + " VFs): instead of the"
                    + " whole function, VFs can be created (echo N > sriov_numvfs) and assigned one per VM"));
        }
        Reset reset = reset(s, d);
        if (reset.methods().isEmpty()) {
            reasons.add(new Reason(Severity.WARNING, "no reset method" + (reset.source().equals("inferred")
                    ? " (inferred: no FLR, no PM reset, not alone on its bus)" : " (the kernel lists none)")
                    + ": the device cannot be reset between VM runs, state can leak from one user to the next and"
                    + " some devices fail to re-initialise; QEMU will warn that no reset mechanism is available"));
        } else if (reset.methods().equals(List.of("bus"))) {
            reasons.add(new Reason(Severity.INFO, "the only reset is a secondary bus reset of its parent bridge"));
        }
        if (!"enabled".equals(ir.state()) && !ir.vfioAllowsUnsafe()) {
            reasons.add(new Reason(Severity.ACTION, "interrupt remapping is " + ir.state() + ": VFIO refuses to attach"
                    + " the group (EPERM) unless vfio_iommu_type1.allow_unsafe_interrupts=1, which lets the device"
                    + " forge interrupts (a security trade-off only you can make)"));
        }
        if (d.config() != null && !d.config().capabilitiesReadable()) {
            reasons.add(new Reason(Severity.INFO, "capabilities not read: config space beyond 64 bytes needs root"));
        }
        boolean blocked = reasons.stream().anyMatch(r -> r.severity() == Severity.BLOCKER);
        String verdict = blocked ? "blocked" : mustGoWith.isEmpty() ? "assignable" : "assignable-with-group";
        if (blocked) {
            return new Assignment(verdict, mustGoWith, reasons, List.of(), List.of(), null);
        }
        return new Assignment(verdict, mustGoWith, reasons, steps(s, members), qemu(members), libvirt(members));
    }

    /** Why the device is not alone in its group: bridges without isolation above it, or its own multifunction siblings. */
    static void explainSharing(HostSnapshot s, HostDevice d, List<Reason> reasons) {
        for (AcsHop hop : acsPath(s, d)) {
            if (hop.type().equals("pcie-to-pci-bridge") || hop.type().equals("pci-bridge")) {
                reasons.add(new Reason(Severity.INFO, "it sits behind " + hop.type().replace('-', ' ') + " "
                        + hop.bridge() + ": every device below a conventional bridge shares one group (DMA aliasing)"));
                return;
            }
            if ((hop.type().equals("root-port") || hop.type().equals("downstream-port")) && !hop.effect().startsWith("ACS SV")) {
                reasons.add(new Reason(Severity.INFO, hop.type().replace('-', ' ') + " " + hop.bridge() + " above it"
                        + " lacks enabled ACS, so its whole subtree is one group"));
                return;
            }
        }
        PciConfig c = d.config();
        if (c != null && c.multifunction() && (c.acs() == null || !c.acs().enabled(AcsCheck.REQ_ACS_FLAGS))) {
            reasons.add(new Reason(Severity.INFO, "it is a function of a multifunction device without ACS, so its"
                    + " sibling functions share its group"));
        }
    }

    static void addUsage(List<Reason> reasons, HostDevice m, String who) {
        for (String use : m.hostUses()) {
            if (use.startsWith("root filesystem")) {
                reasons.add(new Reason(Severity.BLOCKER, who + " holds the host's " + use + ": the host would lose its boot disk"));
            } else if (use.equals("boot VGA")) {
                reasons.add(new Reason(Severity.WARNING, who + " is the boot VGA device: the host console goes with it"));
            } else if (use.startsWith("network interface") && use.endsWith("(up)")) {
                reasons.add(new Reason(Severity.WARNING, who + " carries " + use + ": the host loses that connection"));
            } else {
                reasons.add(new Reason(Severity.WARNING, who + " carries " + use + ": make sure the host no longer uses it"));
            }
        }
    }

    /**
     * The commands that hand {@code members} to vfio-pci: the same steps {@code host plan} and
     * {@code host apply} use ({@link BindPlanner#steps}), as a person would type them.
     */
    static List<String> steps(HostSnapshot s, List<HostDevice> members) {
        java.util.Map<PciAddress, HostDevice> m = new java.util.LinkedHashMap<>();
        members.forEach(d -> m.put(d.address(), d));
        return BindPlanner.steps(s, m, new BindPlanner.Request(List.of(), "qemu", false, null)).stream()
                .map(BindPlan.Step::command).toList();
    }

    static List<String> qemu(List<HostDevice> members) {
        return members.stream().map(m -> "-device vfio-pci,host=" + m.address()).toList();
    }

    static String libvirt(List<HostDevice> members) {
        StringBuilder sb = new StringBuilder();
        for (HostDevice m : members) {
            PciAddress a = m.address();
            sb.append("<hostdev mode='subsystem' type='pci' managed='yes'>\n")
                    .append(String.format("  <source><address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/></source>%n",
                            a.segment(), a.bus(), a.device(), a.function()))
                    .append("</hostdev>\n");
        }
        return sb.toString();
    }

    static Summary summary(Iommu iommu, List<Device> devices) {
        List<String> alone = new ArrayList<>();
        List<String> withGroup = new ArrayList<>();
        List<String> blocked = new ArrayList<>();
        for (Device d : devices) {
            switch (d.assignment().verdict()) {
                case "assignable" -> alone.add(d.address());
                case "assignable-with-group" -> withGroup.add(d.address());
                case "blocked" -> blocked.add(d.address());
                default -> {
                }
            }
        }
        String verdict;
        if (!iommu.enabled()) {
            verdict = "no IOMMU, so no PCI device of this host can be assigned to a VM with vfio-pci: "
                    + iommu.cause();
        } else {
            verdict = (alone.size() + withGroup.size()) + " of " + (alone.size() + withGroup.size() + blocked.size())
                    + " candidate devices can be assigned (" + alone.size() + " alone, " + withGroup.size()
                    + " together with their group)";
        }
        return new Summary(verdict, alone, withGroup, blocked);
    }

    /** "Vendor Vendor Vendor" -> "Vendor x3" (virtio devices carry one vendor capability per structure). */
    static List<String> collapse(List<String> caps) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < caps.size(); ) {
            int j = i;
            while (j < caps.size() && caps.get(j).equals(caps.get(i))) {
                j++;
            }
            out.add(j - i > 1 ? caps.get(i) + " x" + (j - i) : caps.get(i));
            i = j;
        }
        return out;
    }

    private static String nonEmpty(String s, String dflt) {
        return s == null || s.isBlank() ? dflt : s;
    }
}
