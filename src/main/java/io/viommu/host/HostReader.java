package io.viommu.host;

import io.viommu.linux.acpi.AcpiHeader;
import io.viommu.linux.acpi.DmarTable;
import io.viommu.host.HostSnapshot.Firmware;
import io.viommu.host.HostSnapshot.HostDevice;
import io.viommu.host.HostSnapshot.HostGroup;
import io.viommu.host.HostSnapshot.IommuUnit;
import io.viommu.host.HostSnapshot.SriovFiles;
import io.viommu.host.HostSnapshot.TableState;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;

/**
 * Reads a {@link HostSnapshot} through {@link HostFiles}: the only code that knows sysfs and procfs
 * file names. Nothing here writes. Every read tolerates absence; a file that is present but unreadable
 * is recorded as such where it changes a verdict (ACPI tables, config space).
 */
public final class HostReader {
    static final Path PCI_DEVICES = Path.of("/sys/bus/pci/devices");
    static final Path IOMMU_GROUPS = Path.of("/sys/kernel/iommu_groups");
    static final Path CLASS_IOMMU = Path.of("/sys/class/iommu");
    static final Path ACPI_TABLES = Path.of("/sys/firmware/acpi/tables");
    static final Path CMDLINE = Path.of("/proc/cmdline");
    static final Path CPUINFO = Path.of("/proc/cpuinfo");
    static final Path OSRELEASE = Path.of("/proc/sys/kernel/osrelease");
    static final Path CONFIG_GZ = Path.of("/proc/config.gz");
    static final Path INTERRUPTS = Path.of("/proc/interrupts");
    static final Path MOUNTS = Path.of("/proc/mounts");
    static final Path CLASS_BLOCK = Path.of("/sys/class/block");
    static final Path CLASS_NET = Path.of("/sys/class/net");
    static final Path MODULES = Path.of("/sys/module");

    /** Modules whose presence and parameters matter for KVM and VFIO. */
    static final List<String> MODULES_OF_INTEREST = List.of("kvm", "kvm_intel", "kvm_amd", "kvm_pvm", "vfio",
            "vfio_pci", "vfio_pci_core", "vfio_iommu_type1", "iommufd", "pci_stub", "intel_iommu", "amd_iommu");

    /** Device nodes whose existence matters: KVM, the VFIO container and iommufd. */
    static final List<String> DEV_NODES = List.of("/dev/kvm", "/dev/vfio/vfio", "/dev/iommu");

    /** Kernel options that decide IOMMU, interrupt remapping, VFIO and KVM availability. */
    static final List<String> CONFIG_KEYS = List.of("CONFIG_IOMMU_SUPPORT", "CONFIG_IOMMU_API", "CONFIG_INTEL_IOMMU",
            "CONFIG_INTEL_IOMMU_DEFAULT_ON", "CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF",
            "CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON", "CONFIG_AMD_IOMMU",
            "CONFIG_IRQ_REMAP", "CONFIG_IOMMU_DEFAULT_PASSTHROUGH", "CONFIG_IOMMU_DEFAULT_DMA_STRICT",
            "CONFIG_IOMMU_DEFAULT_DMA_LAZY", "CONFIG_VIRTIO_IOMMU", "CONFIG_VFIO", "CONFIG_VFIO_PCI",
            "CONFIG_VFIO_IOMMU_TYPE1", "CONFIG_VFIO_NOIOMMU", "CONFIG_IOMMUFD", "CONFIG_PCI_STUB", "CONFIG_KVM",
            "CONFIG_KVM_INTEL", "CONFIG_KVM_AMD");

    private HostReader() {
    }

    public static HostSnapshot read(HostFiles fs) {
        KernelCmdline cmdline = KernelCmdline.parse(fs.read(CMDLINE).orElse(""));
        CpuInfo cpu = CpuInfo.parse(fs.read(CPUINFO).orElse(""));
        String release = fs.read(OSRELEASE).orElse("").trim();
        Map<String, String> config = kernelConfig(fs, release);
        Firmware firmware = firmware(fs);
        List<IommuUnit> iommus = iommus(fs);
        List<HostGroup> groups = groups(fs);
        Map<PciAddress, List<String>> uses = hostUses(fs);
        List<HostDevice> devices = new ArrayList<>();
        for (String name : fs.list(PCI_DEVICES)) {
            PciAddress.parse(name).ifPresent(a -> devices.add(device(fs, a, uses.getOrDefault(a, List.of()))));
        }
        devices.sort((x, y) -> x.address().compareTo(y.address()));
        Map<String, Map<String, String>> modules = new TreeMap<>();
        for (String m : MODULES_OF_INTEREST) {
            Path dir = MODULES.resolve(m);
            if (fs.exists(dir)) {
                Map<String, String> params = new TreeMap<>();
                for (String p : fs.list(dir.resolve("parameters"))) {
                    fs.read(dir.resolve("parameters").resolve(p)).ifPresent(v -> params.put(p, v.trim()));
                }
                modules.put(m, params);
            }
        }
        List<String> nodes = new ArrayList<>();
        for (String n : DEV_NODES) {
            if (fs.exists(Path.of(n))) {
                nodes.add(n);
            }
        }
        for (String n : fs.list(Path.of("/dev/vfio"))) {
            if (!n.equals("vfio")) {
                nodes.add("/dev/vfio/" + n);
            }
        }
        return new HostSnapshot(fs.describe(), cmdline, cpu, release, config, firmware, iommus,
                fs.exists(IOMMU_GROUPS), groups, List.copyOf(devices), modules, List.copyOf(nodes),
                irqRemapping(fs.read(INTERRUPTS)));
    }

    static Map<String, String> kernelConfig(HostFiles fs, String release) {
        Optional<String> text = fs.readBytes(CONFIG_GZ).flatMap(HostReader::gunzip);
        if (text.isEmpty() && !release.isEmpty()) {
            text = fs.read(Path.of("/boot/config-" + release));
        }
        if (text.isEmpty()) {
            return null;
        }
        Map<String, String> all = new LinkedHashMap<>();
        for (String line : text.get().split("\n")) {
            if (line.startsWith("CONFIG_") && line.contains("=")) {
                all.put(line.substring(0, line.indexOf('=')), line.substring(line.indexOf('=') + 1));
            } else if (line.startsWith("# CONFIG_") && line.endsWith(" is not set")) {
                all.put(line.substring(2, line.length() - " is not set".length()), "n");
            }
        }
        Map<String, String> out = new TreeMap<>();
        for (String k : CONFIG_KEYS) {
            out.put(k, all.getOrDefault(k, "n"));
        }
        return out;
    }

    private static Optional<String> gunzip(byte[] gz) {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
            return Optional.of(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    static Firmware firmware(HostFiles fs) {
        // data/ and dynamic/ are directories of runtime-loaded tables, not tables.
        List<String> tables = fs.list(ACPI_TABLES).stream().filter(n -> !n.equals("data") && !n.equals("dynamic")).toList();
        String oem = "";
        for (String n : tables) {
            Optional<byte[]> b = fs.readBytes(ACPI_TABLES.resolve(n));
            if (b.isPresent() && b.get().length >= 16) {
                oem = AcpiHeader.of(b.get()).oemId();
                break;
            }
        }
        TableState dmarState = state(fs, "DMAR");
        TableState ivrsState = state(fs, "IVRS");
        DmarTable dmar = dmarState == TableState.READ ? DmarTable.read(fs.readBytes(ACPI_TABLES.resolve("DMAR")).get()) : null;
        IvrsTable ivrs = ivrsState == TableState.READ ? IvrsTable.parse(fs.readBytes(ACPI_TABLES.resolve("IVRS")).get()) : null;
        return new Firmware(tables, dmarState, dmar, ivrsState, ivrs, oem);
    }

    /** Present-but-empty counts as unreadable: that is how a snapshot records a root-only table it could not read. */
    private static TableState state(HostFiles fs, String table) {
        Path p = ACPI_TABLES.resolve(table);
        if (!fs.exists(p)) {
            return TableState.ABSENT;
        }
        return fs.readBytes(p).filter(b -> b.length > 0).isPresent() ? TableState.READ : TableState.UNREADABLE;
    }

    static List<IommuUnit> iommus(HostFiles fs) {
        List<IommuUnit> out = new ArrayList<>();
        for (String name : fs.list(CLASS_IOMMU)) {
            Path dir = CLASS_IOMMU.resolve(name);
            String kind = fs.exists(dir.resolve("intel-iommu")) ? "intel-iommu"
                    : fs.exists(dir.resolve("amd-iommu")) ? "amd-iommu" : "other";
            Long cap = null;
            Long ecap = null;
            String version = null;
            String address = null;
            if (kind.equals("intel-iommu")) {
                cap = hex(fs.read(dir.resolve("intel-iommu/cap"))).orElse(null);
                ecap = hex(fs.read(dir.resolve("intel-iommu/ecap"))).orElse(null);
                version = fs.read(dir.resolve("intel-iommu/version")).map(String::trim).orElse(null);
                address = fs.read(dir.resolve("intel-iommu/address")).map(String::trim).orElse(null);
            } else if (kind.equals("amd-iommu")) {
                version = fs.read(dir.resolve("amd-iommu/cap")).map(String::trim).orElse(null);
                address = fs.read(dir.resolve("amd-iommu/features")).map(String::trim).orElse(null);
            }
            List<PciAddress> devs = fs.list(dir.resolve("devices")).stream()
                    .flatMap(n -> PciAddress.parse(n).stream()).sorted().toList();
            out.add(new IommuUnit(name, kind, cap, ecap, version, address, devs));
        }
        return List.copyOf(out);
    }

    static List<HostGroup> groups(HostFiles fs) {
        List<HostGroup> out = new ArrayList<>();
        for (String n : fs.list(IOMMU_GROUPS)) {
            if (!n.matches("\\d+")) {
                continue;
            }
            Path dir = IOMMU_GROUPS.resolve(n);
            List<String> regions = fs.read(dir.resolve("reserved_regions"))
                    .map(s -> Arrays.stream(s.split("\n")).filter(l -> !l.isBlank()).toList()).orElse(List.of());
            List<PciAddress> devs = fs.list(dir.resolve("devices")).stream()
                    .flatMap(d -> PciAddress.parse(d).stream()).sorted().toList();
            out.add(new HostGroup(Integer.parseInt(n), fs.read(dir.resolve("type")).map(String::trim).orElse(null),
                    regions, devs));
        }
        out.sort((a, b) -> Integer.compare(a.id(), b.id()));
        return List.copyOf(out);
    }

    static HostDevice device(HostFiles fs, PciAddress a, List<String> uses) {
        Path dir = PCI_DEVICES.resolve(a.toString());
        String path = fs.realPath(dir).or(() -> fs.resolveLink(dir)).map(Path::toString).orElse(dir.toString());
        PciAddress parent = null;
        for (Path c : Path.of(path)) {
            Optional<PciAddress> p = PciAddress.parse(c.toString());
            if (p.isPresent() && !p.get().equals(a)) {
                parent = p.get();
            }
        }
        PciConfig config = fs.readBytes(dir.resolve("config")).filter(b -> b.length >= 64).map(PciConfig::parse).orElse(null);
        // reset_method (Linux >= 5.15) lists the methods; it and the write-only "reset" file are
        // hidden when the device has none (pci_dev_reset_method_attr_is_visible, pci_dev_reset_attr_is_visible).
        // "reset" without reset_method: an older kernel; the methods are inferred by the planner.
        List<String> reset = fs.read(dir.resolve("reset_method"))
                .map(s -> s.isBlank() ? List.<String>of() : List.of(s.trim().split("\\s+")))
                .orElse(fs.exists(dir.resolve("reset")) ? null : List.of());
        SriovFiles sriov = null;
        Optional<Integer> total = intAttr(fs, dir.resolve("sriov_totalvfs"));
        if (total.isPresent()) {
            sriov = new SriovFiles(total.get(), intAttr(fs, dir.resolve("sriov_numvfs")).orElse(0),
                    intAttr(fs, dir.resolve("sriov_offset")).orElse(null),
                    intAttr(fs, dir.resolve("sriov_stride")).orElse(null),
                    fs.read(dir.resolve("sriov_vf_device")).map(String::trim).orElse(null),
                    fs.read(dir.resolve("sriov_drivers_autoprobe")).map(s -> s.trim().equals("1")).orElse(null));
        }
        List<PciAddress> vfs = fs.list(dir).stream().filter(n -> n.matches("virtfn\\d+"))
                .sorted((x, y) -> Integer.compare(Integer.parseInt(x.substring(6)), Integer.parseInt(y.substring(6))))
                .flatMap(n -> fs.linkName(dir.resolve(n)).flatMap(PciAddress::parse).stream()).toList();
        PciAddress physfn = fs.linkName(dir.resolve("physfn")).flatMap(PciAddress::parse).orElse(null);
        Integer group = fs.linkName(dir.resolve("iommu_group")).filter(s -> s.matches("\\d+")).map(Integer::parseInt).orElse(null);
        List<String> allUses = new ArrayList<>(uses);
        if (fs.read(dir.resolve("boot_vga")).map(String::trim).orElse("0").equals("1")) {
            allUses.add(0, "boot VGA");
        }
        return new HostDevice(a, hexInt(fs, dir.resolve("vendor")), hexInt(fs, dir.resolve("device")),
                hexInt(fs, dir.resolve("subsystem_vendor")), hexInt(fs, dir.resolve("subsystem_device")),
                hexInt(fs, dir.resolve("class")), path, parent, fs.linkName(dir.resolve("driver")).orElse(null),
                group, config, reset, sriov, physfn, vfs,
                fs.read(dir.resolve("driver_override")).map(String::trim).filter(s -> !s.equals("(null)") && !s.isEmpty())
                        .orElse(null),
                List.copyOf(allUses));
    }

    /**
     * What the running host uses each PCI function for: the disk holding the root filesystem, other
     * disks, network interfaces. Found by resolving /sys/class/{block,net}/X to its device path and
     * taking the last PCI address in it (the function that owns it).
     */
    static Map<PciAddress, List<String>> hostUses(HostFiles fs) {
        Map<PciAddress, List<String>> uses = new TreeMap<>();
        String rootDev = fs.read(MOUNTS).stream().flatMap(s -> Arrays.stream(s.split("\n")))
                .map(l -> l.split("\\s+")).filter(f -> f.length > 2 && f[1].equals("/")).map(f -> f[0])
                .reduce((x, y) -> y).orElse("");
        List<String> rootDisks = rootDisks(fs, rootDev);
        // The disk holding the root partition: its device path is a prefix of the partition's.
        List<Path> rootPaths = rootDisks.stream().flatMap(n -> fs.resolveLink(CLASS_BLOCK.resolve(n)).stream()).toList();
        for (String blk : fs.list(CLASS_BLOCK)) {
            Path link = CLASS_BLOCK.resolve(blk);
            boolean partition = fs.exists(link.resolve("partition"));
            Optional<Path> path = fs.resolveLink(link);
            Optional<PciAddress> owner = lastPci(path);
            if (owner.isEmpty()) {
                continue;
            }
            boolean holdsRoot = rootDisks.contains(blk)
                    || (!partition && path.isPresent() && rootPaths.stream().anyMatch(r -> r.startsWith(path.get())));
            if (holdsRoot && partition) {
                continue; // reported once, on its disk
            }
            if (holdsRoot) {
                uses.computeIfAbsent(owner.get(), k -> new ArrayList<>()).add("root filesystem (" + rootDev + ")");
            } else if (!partition) {
                uses.computeIfAbsent(owner.get(), k -> new ArrayList<>()).add("disk " + blk);
            }
        }
        for (String net : fs.list(CLASS_NET)) {
            Optional<PciAddress> owner = lastPci(fs.resolveLink(CLASS_NET.resolve(net)));
            if (owner.isPresent()) {
                String state = fs.read(CLASS_NET.resolve(net).resolve("operstate")).map(String::trim).orElse("unknown");
                uses.computeIfAbsent(owner.get(), k -> new ArrayList<>()).add("network interface " + net + " (" + state + ")");
            }
        }
        return uses;
    }

    /** Block device names behind the root filesystem's source: the device itself and, for device-mapper, its slaves. */
    static List<String> rootDisks(HostFiles fs, String source) {
        if (!source.startsWith("/dev/")) {
            return List.of();
        }
        String name = source.substring("/dev/".length());
        if (name.startsWith("mapper/")) {
            String dm = name.substring("mapper/".length());
            for (String blk : fs.list(CLASS_BLOCK)) {
                if (fs.read(CLASS_BLOCK.resolve(blk).resolve("dm/name")).map(String::trim).orElse("").equals(dm)) {
                    name = blk;
                    break;
                }
            }
        }
        List<String> out = new ArrayList<>();
        out.add(name);
        out.addAll(fs.list(CLASS_BLOCK.resolve(name).resolve("slaves")));
        return out;
    }

    static Optional<PciAddress> lastPci(Optional<Path> path) {
        PciAddress last = null;
        if (path.isPresent()) {
            for (Path c : path.get()) {
                Optional<PciAddress> p = PciAddress.parse(c.toString());
                if (p.isPresent()) {
                    last = p.get();
                }
            }
        }
        return Optional.ofNullable(last);
    }

    /** True when any interrupt chip is "IR-..." (remapped), false when MSI/IO-APIC chips appear without it. */
    static Boolean irqRemapping(Optional<String> interrupts) {
        if (interrupts.isEmpty()) {
            return null;
        }
        String s = interrupts.get();
        if (s.contains(" IR-")) {
            return true;
        }
        return s.contains("PCI-MSI") || s.contains("IO-APIC") ? Boolean.FALSE : null;
    }

    private static Optional<Integer> intAttr(HostFiles fs, Path p) {
        return fs.read(p).map(String::trim).filter(s -> s.matches("\\d+")).map(Integer::parseInt);
    }

    private static int hexInt(HostFiles fs, Path p) {
        return hex(fs.read(p)).map(Long::intValue).orElse(-1);
    }

    private static Optional<Long> hex(Optional<String> s) {
        return s.map(String::trim).map(v -> v.startsWith("0x") ? v.substring(2) : v)
                .filter(v -> v.matches("[0-9a-fA-F]{1,16}")).map(v -> Long.parseUnsignedLong(v, 16));
    }
}
