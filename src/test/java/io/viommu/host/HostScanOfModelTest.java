package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.fixtures.LinuxCapture;
import io.viommu.linux.iommu.IommuGroup;
import io.viommu.linux.Kernel;
import io.viommu.linux.driver.PciDevice;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.RequesterId;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code host scan} run on guests of the kernel model: each machine is built from a QEMU command
 * line, booted ({@link Kernel#boot}), optionally driven through sysfs (modules, SR-IOV), exported
 * ({@link Kernel#exportTo}) and read back by the host scanner as a saved tree. What the scanner
 * reports must be what the kernel model knows: the same groups with the same members, the same
 * drivers and VFs, assignability consistent with VFIO group viability, and the IOMMU state the
 * kernel booted into.
 */
class HostScanOfModelTest {
    static final String APPEND = "-append \"console=ttyS0 intel_iommu=on\"";
    static final String VIOMMU = "-machine q35 -m 1G " + APPEND + " -device intel-iommu,intremap=off,caching-mode=on ";

    /** A machine, what to do on the booted guest before the scan, and a name for the report. */
    record Guest(String name, List<String> args, Consumer<Kernel> action) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Guest guest(String name, String args) {
        return guest(name, args, k -> { });
    }

    static Guest guest(String name, String args, Consumer<Kernel> action) {
        return new Guest(name, LinuxCapture.shellSplit(args), action);
    }

    static Stream<Guest> guests() {
        List<Guest> out = new ArrayList<>();
        // every real-Linux capture's machine
        for (LinuxCapture c : LinuxCapture.all()) {
            out.add(new Guest(c.name(), c.qemuArgs(), k -> { }));
        }
        // topologies nobody captured
        out.add(guest("pcie-pci-bridge with devices behind it", VIOMMU
                + "-device pcie-pci-bridge,id=pb,bus=pcie.0 -device e1000,bus=pb,addr=1 -device e1000,bus=pb,addr=2"
                + " -device edu,bus=pb,addr=3"));
        out.add(guest("switch below a root port", VIOMMU
                + "-device pcie-root-port,id=rp1,chassis=1,slot=1 -device x3130-upstream,id=up,bus=rp1"
                + " -device xio3130-downstream,id=dn1,bus=up,chassis=2,slot=0"
                + " -device xio3130-downstream,id=dn2,bus=up,chassis=3,slot=0"
                + " -device e1000e,bus=dn1 -device e1000e,bus=dn2"));
        out.add(guest("igb-82576 with 3 VFs enabled through sysfs, e1000e bound", VIOMMU
                + "-device pcie-root-port,id=rp1,chassis=1,slot=1 -device igb-82576,bus=rp1", k -> {
                    assertThat(k.drivers().loadModule("igb")).isZero();
                    assertThat(k.drivers().loadModule("e1000e")).isZero();
                    assertThat(k.sysfs().write("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", "3\n").ok()).isTrue();
                }));
        out.add(guest("ioh3420 root port without ACS, two functions below", VIOMMU
                + "-device ioh3420,id=rp1,chassis=1,slot=1,disable-acs=on"
                + " -device e1000e,bus=rp1,addr=0.0,multifunction=on -device e1000e,bus=rp1,addr=0.1"
                + " -device pcie-root-port,id=rp2,chassis=2,slot=2 -device e1000e,bus=rp2"));
        out.add(guest("vfio-pci owns one NIC", VIOMMU
                + "-device pcie-root-port,id=rp1,chassis=1,slot=1 -device e1000e,bus=rp1", k -> {
                    k.drivers().loadModule("e1000e");
                    k.drivers().loadModule("vfio-pci");
                    String d = "/sys/bus/pci/devices/0000:01:00.0/";
                    k.sysfs().write(d + "driver_override", "vfio-pci\n");
                    k.sysfs().write(d + "driver/unbind", "0000:01:00.0\n");
                    assertThat(k.sysfs().write("/sys/bus/pci/drivers_probe", "0000:01:00.0\n").ok()).isTrue();
                }));
        out.add(guest("intel_iommu=off", "-machine q35 -append intel_iommu=off -device intel-iommu -device e1000e"));
        out.add(guest("VT-d on by Debian's default, no -append", "-machine q35 -device intel-iommu -device e1000e"));
        out.add(guest("no vIOMMU", "-machine q35 -device e1000e"));
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("guests")
    void hostScanOfTheExportedGuestAgreesWithTheKernelModel(Guest g, @TempDir Path dir) throws Exception {
        Kernel k = Kernel.boot(MachineBuilder.fromCommandLine(g.args(), MachineLog.SILENT));
        g.action().accept(k);
        k.exportTo(dir);
        HostSnapshot s = HostReader.read(new SavedTree(dir));
        HostReport r = HostPlanner.plan(s);

        // the IOMMU state the kernel booted into
        assertThat(r.iommu().enabled()).isEqualTo(k.iommuActive());
        assertThat(r.iommu().firmware()).isEqualTo(k.dmarTable() == null ? "none" : "DMAR");
        assertThat(s.cmdline().raw()).isEqualTo(k.commandLine().text());
        assertThat(r.host().kernel()).isEqualTo(k.config().release());
        if (k.iommuActive()) {
            assertThat(r.iommu().units()).singleElement().satisfies(u -> {
                assertThat(u.kind()).isEqualTo("intel-iommu");
                assertThat(u.address()).isEqualTo("fed90000");
            });
            assertThat(r.iommu().defaultDomain()).isEqualTo(k.defaultDomainType().sysfsName());
        } else {
            assertThat(r.iommu().cause()).isNotBlank();
        }

        // groups: same ids, same members
        Map<Integer, Set<String>> kernelGroups = new TreeMap<>();
        for (IommuGroup grp : k.groups().groups()) {
            kernelGroups.put(grp.id(), new TreeSet<>(grp.memberBdfs()));
        }
        Map<Integer, Set<String>> scanned = new TreeMap<>();
        for (HostReport.Group grp : r.groups()) {
            scanned.put(grp.id(), new TreeSet<>(grp.devices()));
        }
        assertThat(scanned).isEqualTo(kernelGroups);

        // devices: every function the kernel has, with its group, driver, SR-IOV state
        List<PciDevice> devices = k.drivers().devices();
        assertThat(r.devices()).extracting(HostReport.Device::address)
                .containsExactlyInAnyOrderElementsOf(devices.stream().map(PciDevice::name).toList());
        for (PciDevice d : devices) {
            HostReport.Device sd = Trees.device(r, d.name());
            assertThat(sd.group()).as(d.name()).isEqualTo(k.drivers().groupOf(d).isPresent()
                    ? (Integer) k.drivers().groupOf(d).getAsInt() : null);
            assertThat(sd.driver()).as(d.name()).isEqualTo(d.driver() == null ? null : d.driver().name());
            assertThat(sd.physfn()).as(d.name()).isEqualTo(d.physfn() == null ? null : d.physfn().name());
            if (d.sriov() != null) {
                assertThat(sd.sriov().numVfs()).isEqualTo(d.sriov().numVfs());
                assertThat(sd.sriov().totalVfs()).isEqualTo(d.sriov().driverMaxVfs());
                assertThat(sd.sriov().vfs()).containsExactlyElementsOf(
                        d.sriov().virtualFunctions().stream().map(PciDevice::name).toList());
            }
            assertThat(sd.parent()).as(d.name()).isEqualTo(d.parent() == null ? null : d.parent().name());
        }

        // assignability is VFIO's group viability, and a group goes whole
        for (HostReport.Group grp : r.groups()) {
            assertThat(grp.viable()).as("group " + grp.id()).isEqualTo(k.drivers().groupViable(grp.id()));
        }
        for (HostReport.Device sd : r.devices()) {
            String verdict = sd.assignment().verdict();
            if (sd.group() == null) {
                assertThat(verdict).as(sd.address()).isIn("blocked", "not-a-candidate");
                continue;
            }
            if (!verdict.equals("assignable") && !verdict.equals("assignable-with-group")) {
                continue;
            }
            List<String> others = new ArrayList<>();
            for (RequesterId rid : k.groups().group(sd.group()).orElseThrow().devices()) {
                String bdf = "0000:" + rid;
                PciDevice o = k.drivers().device(bdf).orElseThrow();
                if (!bdf.equals(sd.address()) && o.function().headerLayout() == 0) {
                    others.add(bdf);
                }
            }
            assertThat(sd.assignment().mustGoWith()).as(sd.address()).containsExactlyInAnyOrderElementsOf(others);
            assertThat(verdict).isEqualTo(others.isEmpty() ? "assignable" : "assignable-with-group");
            boolean viable = k.drivers().groupViable(sd.group());
            assertThat(sd.assignment().reasons().stream().anyMatch(x -> x.severity() == HostReport.Severity.ACTION
                    && x.message().contains("unbind it and bind vfio-pci"))).as(sd.address()).isEqualTo(!viable);
        }
    }

    static HostReport scan(Kernel k, Path dir) throws IOException {
        k.exportTo(dir);
        return HostPlanner.plan(HostReader.read(new SavedTree(dir)));
    }

    static Kernel boot(String args) throws Exception {
        return Kernel.boot(MachineBuilder.fromCommandLine(LinuxCapture.shellSplit(args), MachineLog.SILENT));
    }

    @org.junit.jupiter.api.Test
    void vfsEnabledThroughSysfsAreListedWithTheirPfAndOwnGroups(@TempDir Path dir) throws Exception {
        Kernel k = boot(VIOMMU + "-device pcie-root-port,id=rp1,chassis=1,slot=1 -device igb-82576,bus=rp1");
        k.drivers().loadModule("igb");
        assertThat(k.sysfs().write("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", "2\n").ok()).isTrue();
        HostReport r = scan(k, dir);
        HostReport.Device pf = Trees.device(r, "0000:01:00.0");
        assertThat(pf.driver()).isEqualTo("igb");
        assertThat(pf.sriov().totalVfs()).isEqualTo(7); // igb lowers the 82576's 8 to 7
        assertThat(pf.sriov().vfs()).containsExactly("0000:01:10.0", "0000:01:10.2");
        for (String vf : pf.sriov().vfs()) {
            HostReport.Device d = Trees.device(r, vf);
            assertThat(d.physfn()).isEqualTo("0000:01:00.0");
            assertThat(d.id()).isEqualTo("8086:10ca");
            assertThat(d.assignment().verdict()).isEqualTo("assignable");
        }
        assertThat(Trees.device(r, "0000:01:10.0").group()).isEqualTo(6);
        assertThat(Trees.device(r, "0000:01:10.2").group()).isEqualTo(7);
        assertThat(pf.assignment().reasons()).anyMatch(x -> x.message().contains("SR-IOV PF with 2 VFs enabled"));
    }

    @org.junit.jupiter.api.Test
    void devicesBehindAPcieToPciBridgeMustGoTogether(@TempDir Path dir) throws Exception {
        Kernel k = boot(VIOMMU + "-device pcie-pci-bridge,id=pb,bus=pcie.0 -device e1000,bus=pb,addr=1"
                + " -device e1000,bus=pb,addr=2");
        HostReport r = scan(k, dir);
        HostReport.Device nic = Trees.device(r, "0000:01:01.0");
        assertThat(nic.assignment().verdict()).isEqualTo("assignable-with-group");
        assertThat(nic.assignment().mustGoWith()).containsExactly("0000:01:02.0");
        assertThat(nic.assignment().reasons()).anyMatch(x -> x.message().contains("behind pcie to pci bridge"));
    }

    @org.junit.jupiter.api.Test
    void aRootPortWithoutAcsIsNamedAsTheReasonItsSubtreeSharesAGroup(@TempDir Path dir) throws Exception {
        Kernel k = boot(VIOMMU + "-device ioh3420,id=rp1,chassis=1,slot=1,disable-acs=on -device e1000e,bus=rp1");
        HostReport r = scan(k, dir);
        HostReport.Device nic = Trees.device(r, "0000:01:00.0");
        assertThat(r.groups()).anyMatch(g -> g.devices().equals(List.of("0000:00:03.0", "0000:01:00.0")));
        // the port is a bridge: the NIC goes alone, but the group is the port's
        assertThat(nic.assignment().verdict()).isEqualTo("assignable");
        assertThat(nic.acsPath()).anyMatch(h -> h.effect().startsWith("no ACS"));
    }

    @org.junit.jupiter.api.Test
    void intelIommuOffIsTheReasonTheScanGives(@TempDir Path dir) throws Exception {
        Kernel k = boot("-machine q35 -append intel_iommu=off -device intel-iommu -device e1000e");
        HostReport r = scan(k, dir);
        assertThat(r.iommu().enabled()).isFalse();
        assertThat(r.iommu().firmware()).isEqualTo("DMAR");
        assertThat(r.iommu().cause()).isEqualTo("intel_iommu=off is on the kernel command line");
        assertThat(Trees.device(r, "0000:00:02.0").assignment().verdict()).isEqualTo("blocked");
    }

    @org.junit.jupiter.api.Test
    void withoutIntelIommuOptionDebiansDefaultOnIsNoReasonAndVmxComesFromCpu(@TempDir Path dir) throws Exception {
        Kernel k = boot("-machine q35 -device intel-iommu -device e1000e -cpu Skylake-Server,+vmx -smp 2");
        HostReport r = scan(k, dir);
        assertThat(r.iommu().enabled()).isTrue();
        assertThat(r.host().vmx()).isTrue();
        assertThat(r.host().cpus()).isEqualTo(2);
        assertThat(r.checks()).anyMatch(c -> c.id().equals("hw-virt") && c.status() == HostReport.Status.PASS);
        HostReport plain = scan(boot("-machine q35 -device e1000e"), dir.resolve("plain"));
        assertThat(plain.host().vmx()).isFalse();
        assertThat(plain.iommu().cause()).contains("the firmware has no DMAR/IVRS table");
    }
}
