package io.viommu.host;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Which host a plan or journal was made on: {@code /etc/machine-id} when the host has one, and a
 * digest of its PCI inventory (every physical function's address, vendor, device and class, VFs
 * left out because a plan creates and removes them). Apply and undo refuse a plan or journal whose
 * identity differs from the host's, naming the part that differs. Two model hosts booted from the
 * same arguments have the same identity, as they are the same machine.
 *
 * @param machineId  /etc/machine-id, or "" when the host has none (a model host, a saved tree without /etc)
 * @param pci        "sha256:" and the first 16 hex digits of the inventory's digest
 * @param functions  how many PCI functions the inventory holds
 */
public record HostIdentity(String machineId, String pci, int functions) {
    public static HostIdentity of(HostFiles fs) {
        List<String> lines = new ArrayList<>();
        for (String name : fs.list(HostReader.PCI_DEVICES)) {
            Path dir = HostReader.PCI_DEVICES.resolve(name);
            if (PciAddress.parse(name).isEmpty() || fs.exists(dir.resolve("physfn"))) {
                continue;
            }
            lines.add(name + " " + fs.read(dir.resolve("vendor")).orElse("?") + " " + fs.read(dir.resolve("device")).orElse("?")
                    + " " + fs.read(dir.resolve("class")).orElse("?"));
        }
        String digest;
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(String.join("\n", lines).getBytes(StandardCharsets.UTF_8));
            digest = "sha256:" + HexFormat.of().formatHex(h).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
        return new HostIdentity(fs.read(Path.of("/etc/machine-id")).map(String::trim).orElse(""), digest, lines.size());
    }

    /** What differs between a plan's host (this) and the host at hand, or null when they are the same host. */
    public String difference(HostIdentity here) {
        if (!machineId.equals(here.machineId)) {
            return "machine-id " + show(machineId) + " in the file, " + show(here.machineId) + " here";
        }
        if (!pci.equals(here.pci)) {
            return "PCI inventory " + pci + " (" + functions + " functions) in the file, " + here.pci + " ("
                    + here.functions + " functions) here";
        }
        return null;
    }

    private static String show(String id) {
        return id.isEmpty() ? "(none)" : id;
    }
}
