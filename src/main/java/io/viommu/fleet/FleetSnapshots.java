package io.viommu.fleet;

import io.viommu.host.PciAddress;
import io.viommu.host.SavedTree;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The snapshots a fleet command is given, checked before anything reads them: a snapshot that was
 * cut short or edited by hand would otherwise give a plausible but wrong fleet view, so each problem
 * is refused with the file it concerns. Checked: the directory is a snapshot ({@code sys/},
 * {@code proc/cmdline}); every PCI device link resolves (a device that vanished leaves a dangling
 * one), and so does every IOMMU group member; {@code vendor}, {@code device} and {@code class} hold
 * what the kernel writes ({@code 0x%04x}, {@code 0x%06x}); a {@code config} file is at least the 64
 * bytes every function has and names the same vendor and device (a config file of another device or
 * another host renamed into place does not); node names are unique.
 */
public final class FleetSnapshots {
    /** One host of the fleet: its node name (the directory's name) and its saved tree. */
    public record Snapshot(String name, Path dir, SavedTree tree) {
    }

    /** The snapshots, or the refusals (each names a file and what is wrong with it). */
    public record Loaded(List<Snapshot> snapshots, List<String> refusals) {
        public boolean ok() {
            return refusals.isEmpty();
        }
    }

    private static final Path PCI = Path.of("sys/bus/pci/devices");
    private static final Path GROUPS = Path.of("sys/kernel/iommu_groups");

    private FleetSnapshots() {
    }

    public static Loaded load(List<Path> dirs) {
        List<Snapshot> out = new ArrayList<>();
        List<String> refusals = new ArrayList<>();
        Map<String, Path> byName = new HashMap<>();
        for (Path given : dirs) {
            Path dir = given.toAbsolutePath().normalize();
            String name = dir.getFileName() == null ? dir.toString() : dir.getFileName().toString();
            List<String> bad = check(given, dir);
            Path other = byName.putIfAbsent(name, dir);
            if (other != null) {
                bad.add(given + ": node name " + name + " is also the name of " + (other.equals(dir) ? "an earlier argument"
                        + " (the same snapshot given twice)" : other) + "; the node name is the snapshot directory's name,"
                        + " so each must be unique (rename the directory after its node)");
            }
            if (bad.isEmpty()) {
                out.add(new Snapshot(name, dir, new SavedTree(dir)));
            }
            refusals.addAll(bad);
        }
        return new Loaded(List.copyOf(out), List.copyOf(refusals));
    }

    private static List<String> check(Path given, Path dir) {
        List<String> bad = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            bad.add(given + ": " + (Files.exists(dir) ? "not a directory" : "no such directory")
                    + " (a snapshot is the directory `viommu host snapshot DIR` writes)");
            return bad;
        }
        if (!Files.isDirectory(dir.resolve("sys"))) {
            bad.add(given + ": no sys/ directory in it: not a snapshot (make one on the host with `viommu host snapshot DIR`)");
            return bad;
        }
        if (!Files.isRegularFile(dir.resolve("proc/cmdline"))) {
            bad.add(given.resolve("proc/cmdline") + ": missing: the snapshot is incomplete (the kernel command line"
                    + " says whether the IOMMU is on)");
        }
        SavedTree tree = new SavedTree(dir);
        for (String name : tree.list(Path.of("/").resolve(PCI))) {
            Path link = Path.of("/").resolve(PCI).resolve(name);
            Path file = given.resolve(PCI).resolve(name);
            if (PciAddress.parse(name).isEmpty()) {
                bad.add(file + ": not a PCI address (" + name + ")");
                continue;
            }
            if (tree.realPath(link).isEmpty()) {
                bad.add(file + ": the link points to " + tree.readlink(link).map(Path::toString).orElse("nothing")
                        + ", which is not in the snapshot: the device vanished from it (a removed directory, or a"
                        + " snapshot copied in part)");
                continue;
            }
            Optional<String> vendor = id(tree, link.resolve("vendor"), 4, file.resolve("vendor"), bad);
            Optional<String> device = id(tree, link.resolve("device"), 4, file.resolve("device"), bad);
            id(tree, link.resolve("class"), 6, file.resolve("class"), bad);
            Optional<byte[]> config = tree.readBytes(link.resolve("config"));
            if (config.isPresent() && vendor.isPresent() && device.isPresent()) {
                byte[] c = config.get();
                if (c.length < 64) {
                    bad.add(file.resolve("config") + ": " + c.length + " bytes; every PCI function's config space has"
                            + " at least the 64-byte header: the file was cut short");
                } else {
                    String cfg = String.format("%04x:%04x", (c[0] & 0xff) | (c[1] & 0xff) << 8, (c[2] & 0xff) | (c[3] & 0xff) << 8);
                    String ids = vendor.get() + ":" + device.get();
                    // a VF's Vendor and Device ID registers read 0xFFFF (PCIe SR-IOV 9.3.4.1.1, 9.3.4.1.2); sysfs has the real ones
                    boolean vf = tree.exists(link.resolve("physfn")) && cfg.equals("ffff:ffff");
                    if (!cfg.equals(ids) && !vf) {
                        bad.add(file.resolve("config") + ": holds the config space of a " + cfg + " but vendor and device"
                                + " say " + ids + ": a config file of another device (or another host's) put in its place");
                    }
                }
            }
        }
        for (String g : tree.list(Path.of("/").resolve(GROUPS))) {
            Path devices = Path.of("/").resolve(GROUPS).resolve(g).resolve("devices");
            for (String member : tree.list(devices)) {
                if (tree.realPath(devices.resolve(member)).isEmpty()) {
                    bad.add(given.resolve(GROUPS).resolve(g).resolve("devices").resolve(member) + ": IOMMU group " + g
                            + " lists a device that is not in the snapshot (it vanished from it)");
                } else if (!tree.exists(Path.of("/").resolve(PCI).resolve(member))) {
                    bad.add(given.resolve(GROUPS).resolve(g).resolve("devices").resolve(member) + ": IOMMU group " + g
                            + " lists " + member + ", which " + given.resolve(PCI) + " does not: the device vanished from it");
                }
            }
        }
        return bad;
    }

    /** A sysfs id file: "0x" and {@code digits} hex digits; its value without "0x", or empty after a refusal. */
    private static Optional<String> id(SavedTree tree, Path hostPath, int digits, Path shown, List<String> bad) {
        Optional<String> text = tree.read(hostPath);
        if (text.isEmpty()) {
            bad.add(shown + ": missing (every PCI device directory has it)");
            return Optional.empty();
        }
        String t = text.get().trim();
        if (!t.matches("0x[0-9a-fA-F]{" + digits + "}")) {
            bad.add(shown + ": " + (t.isEmpty() ? "empty" : "\"" + (t.length() > 20 ? t.substring(0, 20) + "..." : t) + "\"")
                    + ", where the kernel writes 0x and " + digits + " hex digits: the file was cut short or edited");
            return Optional.empty();
        }
        return Optional.of(t.substring(2).toLowerCase());
    }
}
