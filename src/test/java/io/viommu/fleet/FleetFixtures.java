package io.viommu.fleet;

import io.viommu.host.HostSnapshotWriter;
import io.viommu.host.ModelHost;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A test fleet of model hosts, each booted from a QEMU command line (and a root-shell setup) and saved
 * with {@code viommu host snapshot}'s writer, as an operator would on each real host:
 * <ul>
 * <li>node-off: no vIOMMU, no DMAR: the IOMMU is off;</li>
 * <li>node-vfs: an 82576 PF (igb) with 2 VFs created (sriov_numvfs);</li>
 * <li>node-pf: the same 82576 PF with igb loaded but no VFs (needs sriov_numvfs);</li>
 * <li>node-nvme: an NVMe controller alone behind a root port, and a 3-function group (edu + two e1000
 *     without ACS);</li>
 * <li>node-inuse: two e1000, eth0 up and routed (in use), eth1 free; one 82574L (e1000e) unbound;</li>
 * <li>node-noir: a vIOMMU without interrupt remapping (intremap=off), an 82576 PF.</li>
 * </ul>
 * Built once per test JVM (booting six model hosts takes a few seconds).
 */
public final class FleetFixtures {
    static final String IR = "-machine q35,kernel-irqchip=split -m 1G -device intel-iommu,intremap=on,caching-mode=on";
    static final String RP = " -device pcie-root-port,id=rp1,chassis=1,slot=1";

    record HostSpec(String name, String args, List<String> setup) {
    }

    static final List<HostSpec> HOSTS = List.of(
            new HostSpec("node-off", "-machine q35 -m 512M -device e1000 -append console=ttyS0", List.of()),
            new HostSpec("node-vfs", IR + RP + " -device igb-82576,bus=rp1",
                    List.of("modprobe igb", "echo 2 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs")),
            new HostSpec("node-pf", IR + RP + " -device igb-82576,bus=rp1", List.of("modprobe igb")),
            new HostSpec("node-nvme", IR + RP + " -device nvme,bus=rp1,serial=n1 -device edu,addr=05.0,multifunction=on"
                    + " -device e1000,addr=05.1 -device e1000,addr=05.2", List.of()),
            new HostSpec("node-inuse", IR + " -device e1000,addr=06.0 -device e1000,addr=07.0",
                    List.of("modprobe e1000", "ip link set dev eth0 up", "ip addr add 10.0.0.2/24 dev eth0")),
            new HostSpec("node-noir", "-machine q35 -m 1G -device intel-iommu,intremap=off" + RP
                    + " -device igb-82576,bus=rp1 -append intel_iommu=on", List.of("modprobe igb")));

    private static Path fleet;

    private FleetFixtures() {
    }

    /** The directory holding one snapshot per host (named after it). */
    public static synchronized Path fleet() {
        if (fleet == null) {
            try {
                Path dir = Files.createTempDirectory("viommu-fleet");
                for (HostSpec h : HOSTS) {
                    snapshot(h, dir.resolve(h.name()));
                }
                fleet = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return fleet;
    }

    static ModelHost boot(HostSpec h) {
        ModelHost.Boot b = ModelHost.boot(h.args(), h.setup());
        if (b.host() == null) {
            throw new IllegalStateException(h.name() + ": " + b.error() + " " + b.setupOutput());
        }
        return b.host();
    }

    static void snapshot(HostSpec h, Path dest) throws IOException {
        HostSnapshotWriter.write(boot(h), dest);
    }

    public static List<Path> all() {
        List<Path> out = new ArrayList<>();
        for (HostSpec h : HOSTS) {
            out.add(fleet().resolve(h.name()));
        }
        return out;
    }

    static HostSpec spec(String name) {
        return HOSTS.stream().filter(h -> h.name().equals(name)).findFirst().orElseThrow();
    }
}
