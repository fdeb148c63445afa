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

    /**
     * Issue 10's three-function slot, exactly as a new user typed it: every function of slot 6
     * and the e1000e behind its third function show up, each with its group.
     */
    @Test
    void threeFunctionSlotShowsEveryFunctionAndItsGroup() {
        CliRun r = CliRun.of("boot", "-machine", "q35", "-device", "intel-iommu",
                "-device", "pcie-root-port,id=a,chassis=1,slot=1,addr=0x6.0,multifunction=on",
                "-device", "pcie-root-port,id=b,chassis=2,slot=2,addr=0x6.1",
                "-device", "pcie-root-port,id=c,chassis=3,slot=3,addr=0x6.2", "-device", "e1000e,bus=c");
        assertThat(r.code()).isZero();
        assertThat(r.out().lines().filter(l -> l.startsWith("DEV ") || l.startsWith("GROUP ")).toList()).containsExactly(
                "DEV 0000:00:00.0 0x8086 0x29c0 0x060000 group=0 driver=-",
                "DEV 0000:00:01.0 0x1234 0x1111 0x030000 group=1 driver=-",
                "DEV 0000:00:02.0 0x8086 0x10d3 0x020000 group=2 driver=-",
                "DEV 0000:00:06.0 0x1b36 0x000c 0x060400 group=3 driver=pcieport",
                "DEV 0000:00:06.1 0x1b36 0x000c 0x060400 group=4 driver=pcieport",
                "DEV 0000:00:06.2 0x1b36 0x000c 0x060400 group=5 driver=pcieport",
                "DEV 0000:00:1f.0 0x8086 0x2918 0x060100 group=6 driver=-",
                "DEV 0000:00:1f.2 0x8086 0x2922 0x010601 group=6 driver=-",
                "DEV 0000:00:1f.3 0x8086 0x2930 0x0c0500 group=6 driver=-",
                "DEV 0000:03:00.0 0x8086 0x10d3 0x020000 group=7 driver=-",
                "GROUP 0 type=DMA-FQ 0000:00:00.0 ",
                "GROUP 1 type=DMA-FQ 0000:00:01.0 ",
                "GROUP 2 type=DMA-FQ 0000:00:02.0 ",
                "GROUP 3 type=DMA-FQ 0000:00:06.0 ",
                "GROUP 4 type=DMA-FQ 0000:00:06.1 ",
                "GROUP 5 type=DMA-FQ 0000:00:06.2 ",
                "GROUP 6 type=DMA-FQ 0000:00:1f.0 0000:00:1f.2 0000:00:1f.3 ",
                "GROUP 7 type=DMA-FQ 0000:03:00.0 ");
        assertThat(r.out()).contains("pci 0000:00:06.2: Adding to iommu group 5",
                "pci 0000:03:00.0: Adding to iommu group 7");
    }

    /** QEMU 7.2 takes a function 1 without function 0; Linux never sees it: the report says so. */
    @Test
    void aFunctionLinuxCannotSeeIsNamedNotDropped() {
        CliRun r = CliRun.of("boot", "-machine", "q35", "-nodefaults", "-device", "intel-iommu,intremap=off",
                "-device", "pcie-root-port,id=b,chassis=2,slot=2,addr=0x6.1", "-device", "e1000e,bus=b,id=nic");
        assertThat(r.code()).isZero();
        assertThat(r.out()).doesNotContain("DEV 0000:00:06.1").contains(
                "=== NOTE pcie-root-port id=b (bus pcie.0, addr 06.1) is not enumerated by the guest: slot 06 has"
                        + " no function 0",
                "=== NOTE e1000e id=nic (bus b, addr 00.0) is not enumerated by the guest: it sits behind"
                        + " pcie-root-port id=b");
    }

    /** QEMU 7.2 takes device 1 below a root port (checked); Linux scans device 0 only there. */
    @Test
    void aDeviceBeyondSlotZeroBelowAPortIsNamed() {
        CliRun r = CliRun.of("boot", "-machine", "q35", "-nodefaults", "-device", "pcie-root-port,id=rp,chassis=1",
                "-device", "e1000e,bus=rp,addr=1.0");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("=== NOTE e1000e (bus rp, addr 01.0) is not enumerated by the guest: it is device 01"
                + " below pcie-root-port id=rp (bus pcie.0, addr 01.0), and below a root or downstream port Linux scans"
                + " device 0 only (only_one_child)");
    }

    /** An option viommu ignores but QEMU would act on is named on stderr, not dropped silently. */
    @Test
    void ignoredGlobalIsNamedOnStderr() {
        CliRun r = CliRun.of("boot", "-machine", "q35", "-nodefaults", "-device", "intel-iommu",
                "-global", "intel-iommu.caching-mode=on");
        assertThat(r.code()).isZero();
        assertThat(r.err()).contains("viommu: warning: -global intel-iommu.caching-mode=on is ignored");
    }

    /** The interrupt-remapping NOTE agrees with the DMAR-IR line printed beside it. */
    @Test
    void interruptRemappingNoteDoesNotContradictTheDmesg() {
        CliRun on = CliRun.of("boot", "-machine", "q35", "-nodefaults", "-device", "intel-iommu");
        assertThat(on.out()).contains("DMAR-IR: Enabled IRQ remapping in xapic mode")
                .contains("=== NOTE interrupt remapping is on").doesNotContain("not modelled", "lines are missing");
        CliRun off = CliRun.of("boot", "-machine", "q35", "-nodefaults", "-device", "intel-iommu,intremap=off");
        assertThat(off.out()).doesNotContain("DMAR-IR", "=== NOTE");
        CliRun cmdlineOff = CliRun.of("boot", "-machine", "q35", "-nodefaults", "-append", "intremap=off",
                "-device", "intel-iommu");
        assertThat(cmdlineOff.out()).doesNotContain("DMAR-IR", "=== NOTE");
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
