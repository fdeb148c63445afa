package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BootCommandTest {
    static final List<String> MACHINE = List.of("-machine", "q35", "-m", "1G", "-append", "console=ttyS0 intel_iommu=on",
            "-device", "intel-iommu,intremap=off,caching-mode=on",
            "-device", "pcie-root-port,id=rp1,chassis=1,slot=1", "-device", "e1000e,bus=rp1",
            "-device", "pcie-pci-bridge,id=pb", "-device", "e1000,bus=pb,addr=1", "-device", "e1000,bus=pb,addr=2");

    @Test
    void bootPrintsTheReport() {
        List<String> args = new ArrayList<>(List.of("boot"));
        args.addAll(MACHINE);
        CliRun r = CliRun.of(args);
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("=== QEMU qemu-system-x86_64 -machine q35").contains("=== GROUPS")
                .contains("DEV 0000:01:00.0 0x8086 0x10d3 0x020000 group=6 driver=-");
    }

    @Test
    void sysfsExportIsATreeHostScanReadsWithTheBootsGroups(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("guest");
        List<String> args = new ArrayList<>(List.of("boot", "--sysfs-export", dir.toString()));
        args.addAll(MACHINE);
        CliRun boot = CliRun.of(args);
        assertThat(boot.code()).isZero();
        assertThat(boot.err()).contains("viommu host scan --sysfs " + dir);
        assertThat(Files.readString(dir.resolve("proc/cmdline"))).isEqualTo("console=ttyS0 intel_iommu=on\n");
        assertThat(Files.size(dir.resolve("sys/firmware/acpi/tables/DMAR"))).isPositive();

        CliRun scan = CliRun.of("host", "scan", "--json", "--sysfs", dir.toString());
        assertThat(scan.code()).isZero();
        JsonNode json = new ObjectMapper().readTree(scan.out());
        Map<Integer, TreeSet<String>> scanned = new TreeMap<>();
        for (JsonNode g : json.get("groups")) {
            TreeSet<String> m = new TreeSet<>();
            g.get("devices").forEach(d -> m.add(d.asText()));
            scanned.put(g.get("id").asInt(), m);
        }
        Map<Integer, TreeSet<String>> booted = new TreeMap<>();
        for (String l : boot.out().split("\n")) {
            if (l.startsWith("GROUP ")) {
                String[] w = l.trim().split(" ");
                booted.put(Integer.parseInt(w[1]), new TreeSet<>(List.of(w).subList(3, w.length)));
            }
        }
        assertThat(scanned).isEqualTo(booted).isNotEmpty();
        assertThat(json.get("iommu").get("enabled").asBoolean()).isTrue();
        // the two e1000 behind the PCIe-to-PCI bridge go together
        JsonNode nic = null;
        for (JsonNode d : json.get("devices")) {
            if (d.get("address").asText().equals("0000:02:01.0")) {
                nic = d;
            }
        }
        assertThat(nic).isNotNull();
        assertThat(nic.get("assignment").get("verdict").asText()).isEqualTo("assignable-with-group");
    }

    @Test
    void sysfsExportIntoANonEmptyDirectoryIsAUsageError(@TempDir Path tmp) throws Exception {
        Files.writeString(tmp.resolve("x"), "x");
        List<String> args = new ArrayList<>(List.of("boot", "--sysfs-export", tmp.toString()));
        args.addAll(MACHINE);
        CliRun r = CliRun.of(args);
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("exists and is not an empty directory");
        assertThat(CliRun.of("boot", "--sysfs-export").code()).isEqualTo(2);
    }

    @Test
    void badQemuArgumentsGiveQemusMessageAndExitOne() {
        for (List<String> bad : List.of(List.of("-device", "nosuch"), List.of("-device", "e1000e,bus=nope"),
                List.of("-append"), List.of("-device", "intel-iommu,aw-bits=7"), List.of("-machine", "pc"),
                List.of("-device", "nvme,sriov_max_vfs=300"), List.of("-bogus"))) {
            List<String> args = new ArrayList<>(List.of("boot"));
            args.addAll(bad);
            CliRun r = CliRun.of(args);
            assertThat(r.code()).as(bad.toString()).isEqualTo(1);
            assertThat(r.err()).as(bad.toString()).startsWith("qemu-system-x86_64: ").doesNotContain("\tat ")
                    .doesNotContain("Exception");
            assertThat(r.out()).isEmpty();
        }
    }

    @Test
    void garbageArgumentsAndKernelCommandLinesNeverEndInAStackTrace() {
        List<String> pieces = List.of("-device", "-append", "-machine", "-m", "-smp", "-cpu", "-netdev", "-nic",
                "intel-iommu", "intel-iommu,caching-mode=on,aw-bits=48", "pcie-root-port,id=rp,chassis=1",
                "e1000e,bus=rp", "igb-82576,bus=rp", "nvme,serial=x,sriov_max_vfs=2", "pcie-pci-bridge,id=pb",
                "e1000,bus=pb", "x3130-upstream,id=up,bus=rp", "xio3130-downstream,bus=up,chassis=9",
                "intel_iommu=on", "intel_iommu=off,sm_on", "iommu=pt", "iommu.strict=1", "pcie_acs_override=downstream",
                "pcie_acs_override=id:", "intremap=off", "iommu.passthrough=", "q35", "1G", "0", "-1", "", ",", "=",
                "\u00ff\u0000", "addr=0x1f.7", "multifunction=on", "disable-acs=on", "-nodefaults", "-vga", "none");
        Random rnd = new Random(4);
        for (int i = 0; i < 150; i++) {
            List<String> args = new ArrayList<>(List.of("boot"));
            for (int n = rnd.nextInt(8); n > 0; n--) {
                args.add(pieces.get(rnd.nextInt(pieces.size())));
            }
            CliRun r = CliRun.of(args);
            assertThat(r.code()).as(args.toString()).isIn(0, 1, 2);
            assertThat(r.err()).as(args.toString()).doesNotContain("\tat ").doesNotContain("cannot model");
        }
    }
}
