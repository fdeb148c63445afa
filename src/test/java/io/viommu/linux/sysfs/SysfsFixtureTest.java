package io.viommu.linux.sysfs;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The scripted parts of the real-Linux captures t5-sriov and t6-vfio, run against the model with
 * the same writes, printed the way the capture's script printed them, compared line for line.
 *
 * <p>The machine is booted by the kernel model ({@code Kernel.boot}), so the groups before and
 * after enabling VFs, and the kernel log lines the console shows, are the model's own: Linux's
 * pci_device_group and lowest-free numbering.
 */
class SysfsFixtureTest {
    static final String DEV = "/sys/bus/pci/devices/";
    static final String DRV = "/sys/bus/pci/drivers/";

    /** "DEV bdf vendor device class group=N" for every device, as the capture's loop printed it. */
    static List<String> devLines(Shell sh) {
        List<String> out = new ArrayList<>();
        for (String d : sh.sys.list(DEV).orElseThrow()) {
            out.add(String.join(" ", "DEV", d, sh.cat(DEV + d + "/vendor"), sh.cat(DEV + d + "/device"),
                    sh.cat(DEV + d + "/class"), "group=" + sh.linkName(DEV + d + "/iommu_group")));
        }
        return out;
    }

    /** Group numbers in the shell's glob order: lexical, so 10 sorts before 2. */
    static List<String> groupsInGlobOrder(Shell sh) {
        return sh.sys.list("/sys/kernel/iommu_groups").orElseThrow().stream().sorted().toList();
    }

    @Test
    void t5SriovScriptPrintsWhatRealLinuxPrinted() throws Exception {
        LinuxFixture fx = LinuxFixture.load("t5-sriov.txt");
        SysfsTree sys = fx.boot();
        Shell sh = new Shell(sys);
        String pf = DEV + "0000:01:00.0/";

        // Before nvme is loaded there is no PF driver: ENOENT (a value above TotalVFs still
        // fails the range check first).
        assertThat(sys.write(pf + "sriov_numvfs", "2\n").error()).isEqualTo(Errno.ENOENT);
        assertThat(sys.write(pf + "sriov_numvfs", "3\n").error()).isEqualTo(Errno.ENOENT);
        assertThat(sys.write(pf + "sriov_numvfs", "99\n").error()).isEqualTo(Errno.ERANGE);

        assertThat(sys.drivers().loadModule("nvme")).isZero();
        sh = new Shell(sys);
        sh.print("PF 0000:01:00.0 totalvfs=" + sh.cat(pf + "sriov_totalvfs") + " offset=" + sh.cat(pf + "sriov_offset")
                + " stride=" + sh.cat(pf + "sriov_stride") + " vfdev=" + sh.cat(pf + "sriov_vf_device")
                + " driver=" + sh.linkName(pf + "driver"));
        for (String n : List.of("2", "3", "99")) {
            int rc = sh.echo(n, pf + "sriov_numvfs");
            sh.print("WRITE numvfs=" + n + " rc=" + rc);
        }
        for (String e : sys.list(pf).orElseThrow()) {
            if (e.startsWith("virtfn")) {
                sh.print("VF " + e + " -> " + sys.readlink(pf + e).orElseThrow());
            }
        }
        assertThat(sh.out).containsExactlyElementsOf(fx.section("=== SRIOV").stream().map(LinuxFixture::untimed).toList());

        assertThat(devLines(sh)).containsExactlyElementsOf(fx.section("=== DEVICES-AFTER"));
        List<String> groups = new ArrayList<>();
        for (String g : groupsInGlobOrder(sh)) {
            StringBuilder line = new StringBuilder("GROUP " + g + " ");
            for (String d : sys.list("/sys/kernel/iommu_groups/" + g + "/devices").orElseThrow()) {
                line.append(d).append(' ');
            }
            groups.add(line.toString());
        }
        assertThat(groups).containsExactlyElementsOf(fx.section("=== GROUPS-AFTER"));
    }

    @Test
    void t5BootLinesAndVfLinesAreOneKernelLog() throws Exception {
        io.viommu.linux.Kernel k = LinuxFixture.load("t5-sriov.txt").kernel();
        k.drivers().loadModule("nvme");
        assertThat(k.sysfs().write(DEV + "0000:01:00.0/sriov_numvfs", "2\n").ok()).isTrue();
        k.sysfs().read(DEV + "0000:01:00.0/sriov_numvfs"); // the VFs' deferred nvme probes run
        assertThat(k.dmesg()).containsSubsequence(
                "DMAR: IOMMU enabled",
                "pci 0000:01:00.0: Adding to iommu group 5",
                "DMAR: Intel(R) Virtualization Technology for Directed I/O",
                "pci 0000:01:00.1: [1b36:0010] type 00 class 0x010802",
                "pci 0000:01:00.1: Adding to iommu group 6",
                "pci 0000:01:00.2: Adding to iommu group 7",
                "nvme nvme1: Device not ready; aborting initialisation, CSTS=0x2");
        assertThat(k.drivers().log()).isEqualTo(k.log().messages());
        assertThat(k.groups().groupOf(io.viommu.pci.RequesterId.parse("01:00.2")).orElseThrow().id()).isEqualTo(7);
    }

    @Test
    void t5VfsAreNvmeFunctionsOnThePfsBusWithPhysfnLinksAndNoDriverAfterTheirFailedInit() throws Exception {
        SysfsTree sys = LinuxFixture.load("t5-sriov.txt").boot();
        sys.drivers().loadModule("nvme");
        assertThat(sys.write(DEV + "0000:01:00.0/sriov_numvfs", "2\n").ok()).isTrue();
        assertThat(sys.readlink(DEV + "0000:01:00.1/physfn")).contains("../0000:01:00.0");
        assertThat(sys.readlink(DEV + "0000:01:00.1")).contains("../../../devices/pci0000:00/0000:00:03.0/0000:01:00.1");
        assertThat(sys.exists(DEV + "0000:01:00.1/driver")).isFalse();
        assertThat(sys.read(DEV + "0000:01:00.0/sriov_numvfs").text()).isEqualTo("2\n");
        assertThat(sys.readlink(DEV + "0000:01:00.2/iommu_group")).contains("../../../../kernel/iommu_groups/7");
        assertThat(sys.read(DEV + "0000:01:00.2/vendor").text()).isEqualTo("0x1b36\n");
        assertThat(sys.exists(DEV + "0000:01:00.1/sriov_numvfs")).isFalse();
    }

    @Test
    void t6VfioScriptPrintsWhatRealLinuxPrinted() throws Exception {
        LinuxFixture fx = LinuxFixture.load("t6-vfio.txt");
        SysfsTree sys = fx.boot();
        for (String m : List.of("vfio", "vfio_iommu_type1", "vfio-pci", "e1000e")) {
            assertThat(sys.drivers().loadModule(m)).as(m).isZero();
        }
        Shell sh = new Shell(sys);
        String target = null;
        for (String d : sys.list(DEV).orElseThrow()) {
            String drv = sh.linkName(DEV + d + "/driver");
            sh.print("DRV " + d + " " + drv);
            if (target == null && drv.equals("e1000e")) {
                target = d;
            }
        }
        sh.print("TARGET " + target);
        sh.print("override rc=" + sh.echo("vfio-pci", DEV + target + "/driver_override"));
        sh.print("bind-while-bound rc=" + sh.echo(target, DRV + "vfio-pci/bind"));
        sh.print("unbind rc=" + sh.echo(target, DRV + "e1000e/unbind"));
        sh.print("unbind-again rc=" + sh.echo(target, DRV + "e1000e/unbind"));
        sh.print("bind rc=" + sh.echo(target, DRV + "vfio-pci/bind"));
        sh.print("DRV-NOW " + sh.linkName(DEV + target + "/driver"));
        // (the capture's `ls -l /dev/vfio` belongs to the VFIO model, issue 5)
        sh.print("new_id-bad rc=" + sh.echo("nonsense", DRV + "vfio-pci/new_id"));
        // the capture's script sent this write's stderr elsewhere: only the status shows
        sh.print("bind-nodev rc=" + sh.echo("0000:ff:1f.7", DRV + "vfio-pci/bind", false));
        for (String g : groupsInGlobOrder(sh)) {
            sh.print("RESV " + g + ": " + sys.read("/sys/kernel/iommu_groups/" + g + "/reserved_regions").text().replace('\n', ';'));
        }
        List<String> expected = fx.section("=== VFIO").stream()
                .filter(l -> !l.startsWith("total ") && !l.startsWith("drwx") && !l.startsWith("crw")).toList();
        assertThat(sh.out).containsExactlyElementsOf(expected);
        // the group /dev/vfio showed (2) is the target's, and it is viable now
        assertThat(sh.linkName(DEV + target + "/iommu_group")).isEqualTo("2");
        assertThat(sys.drivers().groupViable(2)).isTrue();
    }

    @Test
    void t6WritesFailWithTheErrnosTheCaptureShows() throws Exception {
        SysfsTree sys = LinuxFixture.load("t6-vfio.txt").boot();
        sys.drivers().loadModule("vfio-pci");
        sys.drivers().loadModule("e1000e");
        String t = "0000:00:02.0";
        assertThat(sys.write(DEV + t + "/driver_override", "vfio-pci\n").count()).isEqualTo(9);
        assertThat(sys.readlink(DEV + t + "/driver")).contains("../../../bus/pci/drivers/e1000e"); // override does not rebind
        assertThat(sys.write(DRV + "vfio-pci/bind", t + "\n").error()).isEqualTo(Errno.EBUSY);
        assertThat(sys.write(DRV + "e1000e/unbind", t + "\n").ok()).isTrue();
        assertThat(sys.exists(DEV + t + "/driver")).isFalse();
        assertThat(sys.exists(DRV + "e1000e/" + t)).isFalse();
        assertThat(sys.write(DRV + "e1000e/unbind", t + "\n").error()).isEqualTo(Errno.ENODEV);
        assertThat(sys.write(DRV + "vfio-pci/bind", t + "\n").ok()).isTrue();
        assertThat(sys.readlink(DRV + "vfio-pci/" + t)).contains("../../../../devices/pci0000:00/" + t);
        assertThat(sys.write(DRV + "vfio-pci/new_id", "nonsense\n").error()).isEqualTo(Errno.EINVAL);
        assertThat(sys.write(DRV + "vfio-pci/bind", "0000:ff:1f.7\n").error()).isEqualTo(Errno.ENODEV);
    }
}
