package io.viommu.host;

import io.viommu.linux.acpi.AcpiHeader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * {@code host snapshot DIR}: copies the part of a host's /sys, /proc and /dev that {@link HostReader}
 * reads into a directory with the same layout, so {@code host scan --sysfs DIR} reads it back.
 * Only {@code DIR} is written; the source is read through {@link HostFiles}, so a saved tree can be
 * re-saved (which is how the round trip is tested).
 *
 * <p>Layout rules: files land at their canonical path ({@code sys/devices/pci0000:00/...}) and the
 * symlinks that lead there ({@code sys/bus/pci/devices/X}, {@code driver}, {@code iommu_group},
 * {@code physfn}, {@code virtfnN}, group {@code devices/X}) are recreated with their original
 * relative targets. ACPI tables other than DMAR/IVRS are cut to their 36-byte header (enough for the
 * OEM id); a table present but unreadable (not root) is saved as an empty file. Write-only files
 * ({@code reset}) and device nodes ({@code /dev/kvm}) are saved as empty files recording existence.
 * /proc/mounts keeps only the root filesystem's line.
 */
public final class HostSnapshotWriter {
    static final List<String> DEVICE_FILES = List.of("vendor", "device", "subsystem_vendor", "subsystem_device", "class",
            "revision", "config", "resource", "reset_method", "sriov_totalvfs", "sriov_numvfs", "sriov_offset", "sriov_stride",
            "sriov_vf_device", "sriov_drivers_autoprobe", "driver_override", "boot_vga", "ari_enabled", "numa_node");
    static final List<String> DEVICE_LINKS = List.of("driver", "iommu_group", "physfn");

    private final HostFiles src;
    private final Path dest;
    private final List<String> notes = new ArrayList<>();

    private HostSnapshotWriter(HostFiles src, Path dest) {
        this.src = src;
        this.dest = dest;
    }

    /** Writes the snapshot; returns notes about what could not be saved (e.g. unreadable tables). */
    public static List<String> write(HostFiles src, Path dest) throws IOException {
        if (Files.exists(dest) && (!Files.isDirectory(dest) || Files.list(dest).findAny().isPresent())) {
            throw new FileAlreadyExistsException(dest.toString(), null, "exists and is not an empty directory");
        }
        Files.createDirectories(dest);
        HostSnapshotWriter w = new HostSnapshotWriter(src, dest);
        try {
            w.all();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return List.copyOf(w.notes);
    }

    private void all() {
        for (String name : src.list(HostReader.PCI_DEVICES)) {
            Path dir = HostReader.PCI_DEVICES.resolve(name);
            link(dir);
            for (String f : DEVICE_FILES) {
                file(dir.resolve(f));
            }
            if (src.exists(dir.resolve("reset"))) {
                marker(dir.resolve("reset"));
            }
            for (String l : DEVICE_LINKS) {
                link(dir.resolve(l));
            }
            src.list(dir).stream().filter(n -> n.matches("virtfn\\d+")).forEach(n -> link(dir.resolve(n)));
            if (src.readBytes(dir.resolve("config")).map(b -> b.length <= PciConfig.CONFIG_UNPRIVILEGED).orElse(false)) {
                note("config space of " + name + " saved as 64 bytes only (run as root for capabilities)");
            }
        }
        mkdir(HostReader.IOMMU_GROUPS);
        for (String n : src.list(HostReader.IOMMU_GROUPS)) {
            Path g = HostReader.IOMMU_GROUPS.resolve(n);
            file(g.resolve("type"));
            file(g.resolve("reserved_regions"));
            mkdir(g.resolve("devices"));
            src.list(g.resolve("devices")).forEach(d -> link(g.resolve("devices").resolve(d)));
        }
        mkdir(HostReader.CLASS_IOMMU);
        for (String n : src.list(HostReader.CLASS_IOMMU)) {
            Path u = HostReader.CLASS_IOMMU.resolve(n);
            link(u);
            for (String f : List.of("intel-iommu/cap", "intel-iommu/ecap", "intel-iommu/version", "intel-iommu/address",
                    "intel-iommu/domains_supported", "intel-iommu/domains_used", "amd-iommu/cap", "amd-iommu/features")) {
                file(u.resolve(f));
            }
            src.list(u.resolve("devices")).forEach(d -> link(u.resolve("devices").resolve(d)));
        }
        mkdir(HostReader.ACPI_TABLES);
        for (String t : src.list(HostReader.ACPI_TABLES)) {
            Path p = HostReader.ACPI_TABLES.resolve(t);
            if (t.equals("data") || t.equals("dynamic")) {
                continue;
            }
            Optional<byte[]> b = src.readBytes(p);
            boolean whole = t.equals("DMAR") || t.equals("IVRS");
            if (b.isEmpty() && whole) {
                note("ACPI table " + t + " is present but unreadable (root only): saved as an empty file");
            }
            put(p, b.map(x -> whole ? x : Arrays.copyOf(x, Math.min(x.length, AcpiHeader.SIZE))).orElse(new byte[0]));
        }
        for (Path p : List.of(HostReader.CMDLINE, HostReader.CPUINFO, HostReader.OSRELEASE, HostReader.CONFIG_GZ,
                HostReader.INTERRUPTS)) {
            src.readBytes(p).ifPresent(b -> put(p, b));
        }
        // What host plan reads besides the scan: a plan made from the snapshot (viommu fleet emit --plans)
        // carries the host's machine-id, which apply checks, and sees routed interfaces as in use.
        for (Path p : List.of(Path.of("/etc/machine-id"), Path.of("/proc/net/route"))) {
            src.readBytes(p).ifPresent(b -> put(p, b));
        }
        if (!src.exists(HostReader.CONFIG_GZ)) {
            src.read(HostReader.OSRELEASE).map(String::trim).map(r -> Path.of("/boot/config-" + r))
                    .ifPresent(p -> src.readBytes(p).ifPresent(b -> put(p, b)));
        }
        src.read(HostReader.MOUNTS).ifPresent(m -> put(HostReader.MOUNTS, Arrays.stream(m.split("\n"))
                .filter(l -> l.split("\\s+").length > 1 && l.split("\\s+")[1].equals("/"))
                .reduce("", (a, l) -> a + l + "\n").getBytes(StandardCharsets.UTF_8)));
        // Only block devices and interfaces that belong to a PCI function matter (not loop, lo, ...).
        for (String b : src.list(HostReader.CLASS_BLOCK)) {
            Path l = HostReader.CLASS_BLOCK.resolve(b);
            if (!onPci(l) && src.list(l.resolve("slaves")).isEmpty()) {
                continue;
            }
            link(l);
            if (src.exists(l.resolve("partition"))) {
                file(l.resolve("partition"));
            }
            file(l.resolve("dm/name"));
            src.list(l.resolve("slaves")).forEach(s -> link(l.resolve("slaves").resolve(s)));
        }
        for (String n : src.list(HostReader.CLASS_NET)) {
            Path l = HostReader.CLASS_NET.resolve(n);
            if (!onPci(l)) {
                continue;
            }
            link(l);
            file(l.resolve("operstate"));
        }
        for (String m : HostReader.MODULES_OF_INTEREST) {
            Path dir = HostReader.MODULES.resolve(m);
            if (src.exists(dir)) {
                mkdir(dir);
                src.list(dir.resolve("parameters")).forEach(p -> file(dir.resolve("parameters").resolve(p)));
            }
        }
        for (String n : HostReader.DEV_NODES) {
            if (src.exists(Path.of(n))) {
                put(Path.of(n), new byte[0]);
            }
        }
        src.list(Path.of("/dev/vfio")).forEach(n -> put(Path.of("/dev/vfio", n), new byte[0]));
        put(Path.of("/VIOMMU-SNAPSHOT"), ("viommu host snapshot of " + src.describe() + "\n")
                .getBytes(StandardCharsets.UTF_8));
    }

    private boolean onPci(Path link) {
        return src.resolveLink(link).map(t -> {
            for (Path c : t) {
                if (PciAddress.parse(c.toString()).isPresent()) {
                    return true;
                }
            }
            return false;
        }).orElse(false);
    }

    /** Copies a readable file to where it really lives (through its canonical path). */
    private void file(Path hostPath) {
        src.readBytes(hostPath).ifPresent(b -> put(src.realPath(hostPath).orElse(hostPath), b));
    }

    private void marker(Path hostPath) {
        put(src.realPath(hostPath).orElse(hostPath), new byte[0]);
    }

    /** Recreates a symlink, with its stored target, inside the canonical location of its directory. */
    private void link(Path hostPath) {
        Optional<Path> target = src.readlink(hostPath);
        if (target.isEmpty()) {
            return;
        }
        Path parent = src.realPath(hostPath.getParent()).orElse(hostPath.getParent());
        Path at = inDest(parent.resolve(hostPath.getFileName().toString()));
        try {
            Files.createDirectories(at.getParent());
            if (!Files.exists(at, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(at, target.get());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A directory whose existence matters even when empty; .keep lets git and zip keep it. */
    private void mkdir(Path hostPath) {
        try {
            Path at = inDest(src.realPath(hostPath).orElse(hostPath));
            Files.createDirectories(at);
            Files.write(at.resolve(".keep"), new byte[0]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void put(Path hostPath, byte[] bytes) {
        Path at = inDest(hostPath);
        try {
            Files.createDirectories(at.getParent());
            Files.write(at, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Path inDest(Path hostPath) {
        return dest.resolve(Path.of("/").relativize(hostPath.toAbsolutePath()).toString());
    }

    private void note(String s) {
        notes.add(s);
    }
}
