package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.host.ConfigCheck.Finding;
import io.viommu.host.ConfigCheck.Result;
import io.viommu.host.ConfigCheck.Severity;
import io.viommu.vmm.libvirt.LibvirtDomain;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link ConfigCheck}: one test per finding, each with its severity, the device it names, QEMU
 * 7.2's text where QEMU refuses, and the exact corrected option; configurations QEMU accepts and
 * that do what a vIOMMU is for give no finding.
 */
public class ConfigCheckTest {
    /**
     * edu 04.0 on vfio-pci; edu 05.0 unbound with e1000 05.1 on vfio-pci (one group, viable); edu
     * 06.0 unbound alone; e1000 07.0 on e1000; edu 08.0 on vfio-pci with e1000 08.1 on e1000 (one
     * group, not viable).
     */
    public static final String HOST = "-machine q35 -m 2G -nodefaults -device intel-iommu,intremap=off,caching-mode=on"
            + " -device edu,addr=04.0 -device edu,addr=05.0,multifunction=on -device e1000,addr=05.1"
            + " -device edu,addr=06.0 -device e1000,addr=07.0 -device edu,addr=08.0,multifunction=on"
            + " -device e1000,addr=08.1";
    public static final List<String> SETUP = List.of("modprobe vfio-pci", "modprobe e1000",
            "echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
            "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override",
            "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe",
            "echo 0000:00:05.1 > /sys/bus/pci/devices/0000:00:05.1/driver/unbind",
            "echo vfio-pci > /sys/bus/pci/devices/0000:00:05.1/driver_override",
            "echo 0000:00:05.1 > /sys/bus/pci/drivers_probe",
            "echo vfio-pci > /sys/bus/pci/devices/0000:00:08.0/driver_override",
            "echo 0000:00:08.0 > /sys/bus/pci/drivers_probe");

    static HostSnapshot host;

    @BeforeAll
    static void boot() {
        ModelHost.Boot b = ModelHost.boot(HOST, SETUP);
        assertThat(b.host()).as(b.error() + b.setupOutput()).isNotNull();
        host = HostReader.read(b.host());
        assertThat(host.device(PciAddress.parse("0000:00:04.0").orElseThrow()).orElseThrow().driver()).isEqualTo("vfio-pci");
    }

    static Result check(String... args) {
        return ConfigCheck.check(host, List.of(args));
    }

    static Finding only(Result r) {
        assertThat(r.findings()).as(r.findings().toString()).hasSize(1);
        return r.findings().get(0);
    }

    @Test
    void aCleanConfigurationHasNoFinding() {
        Result r = check("-machine", "q35,accel=kvm,kernel-irqchip=split", "-m", "256M",
                "-device", "intel-iommu,intremap=on,caching-mode=on,device-iotlb=on",
                "-device", "pcie-root-port,id=rp0,chassis=1", "-netdev", "user,id=n0",
                "-device", "virtio-net-pci,netdev=n0,bus=rp0,iommu_platform=on,ats=on",
                "-device", "edu,addr=07.0", "-device", "vfio-pci,host=0000:00:04.0,id=hostdev0");
        assertThat(r.findings()).isEmpty();
        assertThat(r.ok()).isTrue();
        assertThat(r.schema()).isEqualTo("viommu.check/1");
        // no vIOMMU at all: vfio-pci maps all guest RAM, nothing to say
        assertThat(check("-M", "q35", "-device", "vfio-pci,host=00:04.0").findings()).isEmpty();
    }

    @Test
    void vfioPciWithoutCachingModeIsQemusRefusal() {
        Finding f = only(check("-M", "q35", "-device", "intel-iommu,intremap=on", "-device", "vfio-pci,host=00:04.0"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.device()).isEqualTo("-device intel-iommu,intremap=on");
        assertThat(f.qemu()).isEqualTo("qemu-system-x86_64: We need to set caching-mode=on for intel-iommu to enable"
                + " device assignment with IOMMU protection.");
        assertThat(f.fix()).isEqualTo("-device intel-iommu,intremap=on,caching-mode=on");
        // caching-mode=off given: replaced in place; JSON form corrected in JSON
        assertThat(only(check("-M", "q35", "-device", "intel-iommu,caching-mode=off,aw-bits=48", "-device",
                "vfio-pci,host=00:04.0")).fix()).isEqualTo("-device intel-iommu,caching-mode=on,aw-bits=48");
        assertThat(only(check("-M", "q35", "-device", "{\"driver\":\"intel-iommu\",\"id\":\"iommu0\"}", "-device",
                "{\"driver\":\"vfio-pci\",\"host\":\"0000:00:04.0\",\"id\":\"hostdev0\"}")).fix())
                .isEqualTo("-device {\"driver\":\"intel-iommu\",\"id\":\"iommu0\",\"caching-mode\":true}");
    }

    @Test
    void intremapWithTheInKernelIrqchipUnderKvmIsQemusRefusal() {
        Finding f = only(check("-machine", "q35,accel=kvm", "-device", "intel-iommu,intremap=on,caching-mode=on"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.qemu()).isEqualTo("qemu-system-x86_64: -device intel-iommu,intremap=on,caching-mode=on: Interrupt"
                + " Remapping cannot work with kernel-irqchip=on, please use 'split|off'.");
        assertThat(f.fix()).isEqualTo("-machine q35,accel=kvm,kernel-irqchip=split");
        assertThat(only(check("-machine", "q35,kernel_irqchip=on", "-accel", "kvm", "-device", "intel-iommu,intremap=on"))
                .fix()).isEqualTo("-accel kvm,kernel-irqchip=split");
        assertThat(only(check("-machine", "q35,accel=kvm,kernel_irqchip=on", "-device", "intel-iommu,intremap=on"))
                .fix()).isEqualTo("-machine q35,accel=kvm,kernel-irqchip=split");
        // TCG, split, and intremap left to auto under KVM: accepted
        assertThat(check("-machine", "q35", "-device", "intel-iommu,intremap=on").findings()).isEmpty();
        assertThat(check("-machine", "q35,accel=kvm,kernel-irqchip=split", "-device", "intel-iommu,intremap=on").findings())
                .isEmpty();
        assertThat(check("-machine", "q35,accel=kvm", "-device", "intel-iommu").findings()).isEmpty();
    }

    @Test
    void vfioPciBeforeTheVtdUnitCannotWorkButAnEmulatedDeviceIsTranslated() {
        Finding f = only(check("-M", "q35", "-device", "vfio-pci,host=00:04.0,id=nic", "-device", "edu",
                "-device", "intel-iommu,caching-mode=on"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.device()).isEqualTo("vfio-pci nic");
        assertThat(f.what()).contains("keeps system memory", "lands at the wrong guest page or faults in the host IOMMU",
                "an emulated device listed before intel-iommu is still translated");
        assertThat(f.qemu()).isNull();
        assertThat(f.fix()).isEqualTo("list -device intel-iommu,caching-mode=on before -device vfio-pci,host=00:04.0,id=nic");
        assertThat(check("-M", "q35", "-device", "edu", "-device", "intel-iommu,caching-mode=on").findings()).isEmpty();
        // written first, but QEMU creates every key=value -device before every JSON one
        Finding j = only(check("-M", "q35", "-device", "{\"driver\":\"intel-iommu\",\"caching-mode\":true}",
                "-device", "vfio-pci,host=00:04.0"));
        assertThat(j.severity()).isEqualTo(Severity.ERROR);
        assertThat(j.fix()).startsWith("QEMU creates every key=value -device before every JSON one")
                .contains("(-device intel-iommu,caching-mode=on) before -device vfio-pci,host=00:04.0");
    }

    @Test
    void aHostDeviceWhoseGroupHasNoDeviceOnVfioPci() {
        Finding f = only(check("-M", "q35", "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=00:06.0"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.device()).isEqualTo("-device vfio-pci,host=00:06.0");
        assertThat(f.qemu()).matches("qemu-system-x86_64: -device vfio-pci,host=00:06.0: vfio 0000:00:06.0: failed to open"
                + " /dev/vfio/\\d+: No such file or directory");
        assertThat(f.fix()).startsWith("viommu host apply 0000:00:06.0 --yes (binds IOMMU group ")
                .endsWith("to vfio-pci: 0000:00:06.0), or viommu run --managed");
        Finding e1000 = only(check("-M", "q35", "-device", "vfio-pci,host=0000:00:07.0"));
        assertThat(e1000.what()).startsWith("host device 0000:00:07.0 is bound to e1000 and no device of IOMMU group");
    }

    @Test
    void aGroupWithAMemberStillOnAHostDriverIsNotViable() {
        Finding f = only(check("-M", "q35", "-device", "vfio-pci,host=00:08.0"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.what()).contains("is not viable: 0000:00:08.1 (e1000) is still on a host driver");
        assertThat(f.qemu()).matches("(?s)qemu-system-x86_64: -device vfio-pci,host=00:08.0: vfio 0000:00:08.0: group \\d+"
                + " is not viable\nPlease ensure all devices within the iommu_group are bound to their vfio bus driver.");
        assertThat(f.fix()).contains("0000:00:08.0 0000:00:08.1");
    }

    @Test
    void aDeviceOffVfioPciInAViableGroup() {
        Finding f = only(check("-M", "q35", "-device", "vfio-pci,host=00:05.0"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.what()).isEqualTo("host device 0000:00:05.0 is not bound to vfio-pci (no driver), though its group is viable");
        assertThat(f.qemu()).matches("(?s).*vfio 0000:00:05.0: error getting device from group \\d+: No such device\n"
                + "Verify all devices in group \\d+ are bound to vfio-pci or pci-stub and not already in use");
        // its group sibling on vfio-pci is fine
        assertThat(check("-M", "q35", "-device", "vfio-pci,host=00:05.1").findings()).isEmpty();
    }

    @Test
    void aMalformedHostAddressIsQemusRefusal() {
        Finding f = only(check("-M", "q35", "-device", "vfio-pci,host=04.0"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.qemu()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=04.0: Property 'vfio-pci.host'"
                + " doesn't take value '04.0'");
        assertThat(only(check("-M", "q35", "-device", "vfio-pci")).qemu()).isEqualTo("qemu-system-x86_64: -device"
                + " vfio-pci: No provided host device\nUse -device vfio-pci,host=DDDD:BB:DD.F or -device"
                + " vfio-pci,sysfsdev=PATH_TO_DEVICE");
    }

    @Test
    void anUnknownHostDevice() {
        Finding f = only(check("-M", "q35", "-device", "vfio-pci,host=02:00.0"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.qemu()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=02:00.0: vfio"
                + " /sys/bus/pci/devices/0000:02:00.0: no such host device: No such file or directory");
        assertThat(f.fix()).isEqualTo("name a device of this host (viommu host tree lists them)");
    }

    @Test
    void oneHostDeviceGivenTwice() {
        Finding f = only(check("-M", "q35", "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=00:04.0",
                "-device", "vfio-pci,host=0000:00:04.0,id=again"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.device()).isEqualTo("vfio-pci again");
        // behind the vIOMMU each device has its own address space: QEMU stops at the group's second one
        assertThat(f.qemu()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=0000:00:04.0,id=again: vfio 0000:00:04.0:"
                + " group 1 used in multiple address spaces");
        assertThat(f.fix()).isEqualTo("remove the second -device vfio-pci,host=0000:00:04.0,id=again");
        Finding plain = only(check("-M", "q35", "-device", "vfio-pci,host=00:04.0", "-device", "vfio-pci,host=00:04.0"));
        assertThat(plain.qemu()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=00:04.0: vfio 0000:00:04.0:"
                + " device is already attached");
    }

    @Test
    void twoDevicesOfOneGroupBehindTheVtdUnit() {
        Finding f = only(check("-M", "q35", "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=00:05.1",
                "-device", "vfio-pci,host=00:05.0,id=edu"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.qemu()).matches("qemu-system-x86_64: -device vfio-pci,host=00:05.0,id=edu: vfio 0000:00:05.0: group"
                + " \\d+ used in multiple address spaces");
        assertThat(f.fix()).startsWith("give this VM one device of IOMMU group ");
        // without a vIOMMU both share system memory: QEMU takes them
        assertThat(check("-M", "q35", "-device", "vfio-pci,host=00:05.1", "-device", "vfio-pci,host=00:04.0").findings())
                .isEmpty();
    }

    @Test
    void virtioWithoutIommuPlatformBypassesTheVtdUnit() {
        Finding f = only(check("-M", "q35", "-device", "intel-iommu", "-netdev", "user,id=n0",
                "-device", "virtio-net-pci,netdev=n0,id=vnet"));
        assertThat(f.severity()).isEqualTo(Severity.WARNING);
        assertThat(f.device()).isEqualTo("virtio-net-pci vnet");
        assertThat(f.what()).startsWith("its DMA bypasses the vIOMMU");
        assertThat(f.fix()).isEqualTo("-device virtio-net-pci,netdev=n0,id=vnet,iommu_platform=on,disable-legacy=on");
        // behind a PCIe port virtio is modern-only already: only iommu_platform is missing
        assertThat(only(check("-M", "q35", "-device", "intel-iommu", "-device", "pcie-root-port,id=rp,chassis=1",
                "-device", "virtio-rng-pci,bus=rp")).fix()).isEqualTo("-device virtio-rng-pci,bus=rp,iommu_platform=on");
        // -drive if=virtio makes a virtio-blk-pci that cannot take the option
        assertThat(only(check("-M", "q35", "-device", "intel-iommu", "-drive", "file=d.img,if=virtio,id=d0")).fix())
                .isEqualTo("-drive ...,if=none,id=d0 and -device virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on");
        // without a vIOMMU there is nothing to bypass
        assertThat(check("-M", "q35", "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0").findings()).isEmpty();
    }

    @Test
    void iommuPlatformOnATransitionalDeviceIsQemusRefusal() {
        Finding f = only(check("-M", "q35", "-device", "intel-iommu", "-netdev", "user,id=n0",
                "-device", "virtio-net-pci,netdev=n0,iommu_platform=on"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.qemu()).isEqualTo("qemu-system-x86_64: -device virtio-net-pci,netdev=n0,iommu_platform=on:"
                + " VIRTIO_F_IOMMU_PLATFORM was supported by neither legacy nor transitional device");
        assertThat(f.fix()).isEqualTo("-device virtio-net-pci,netdev=n0,iommu_platform=on,disable-legacy=on");
    }

    @Test
    void atsWithoutDeviceIotlbOrOffAPciePort() {
        Finding f = only(check("-M", "q35", "-device", "intel-iommu,intremap=on", "-device",
                "pcie-root-port,id=rp,chassis=1", "-netdev", "user,id=n0",
                "-device", "virtio-net-pci,netdev=n0,bus=rp,iommu_platform=on,ats=on"));
        assertThat(f.severity()).isEqualTo(Severity.WARNING);
        assertThat(f.what()).startsWith("ats=on without device-iotlb=on on the vIOMMU");
        assertThat(f.fix()).isEqualTo("-device intel-iommu,intremap=on,device-iotlb=on");
        Finding root = only(check("-M", "q35", "-device", "intel-iommu,device-iotlb=on", "-netdev", "user,id=n0",
                "-device", "virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,ats=on,id=v0"));
        assertThat(root.what()).startsWith("ats=on is ignored: QEMU 7.2 adds the ATS capability only to a device on a PCIe port");
        assertThat(root.fix()).isEqualTo("-device pcie-root-port,id=rp-v0,chassis=N before it, and -device"
                + " virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,ats=on,id=v0,bus=rp-v0");
    }

    @Test
    void anyOtherRefusalIsQemusOwnText() {
        Finding f = only(check("-machine", "q35,accl=kvm", "-device", "intel-iommu"));
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.qemu()).isEqualTo("qemu-system-x86_64: Property 'pc-q35-7.2-machine.accl' not found");
        Finding two = only(check("-M", "q35", "-device", "intel-iommu", "-device", "intel-iommu,id=b"));
        assertThat(two.qemu()).isEqualTo("qemu-system-x86_64: -device intel-iommu,id=b: QEMU does not support multiple"
                + " vIOMMUs for x86 yet.");
        assertThat(two.device()).isEqualTo("-device intel-iommu,id=b");
    }

    @Test
    void aLibvirtDomainIsCheckedAsTheArgvLibvirtBuildsWithManagedHostdevsDetachedOneByOne() throws Exception {
        String xml = """
                <domain type='kvm'>
                  <name>d</name>
                  <memory unit='MiB'>256</memory>
                  <os><type arch='x86_64' machine='q35'>hvm</type></os>
                  <features><acpi/><ioapic driver='qemu'/></features>
                  <devices>
                    <iommu model='intel'><driver intremap='on'/></iommu>
                    <hostdev mode='subsystem' type='pci' managed='yes'>
                      <driver name='vfio'/>
                      <source><address domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></source>
                    </hostdev>
                    <hostdev mode='subsystem' type='pci' managed='yes'>
                      <driver name='vfio'/>
                      <source><address domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></source>
                    </hostdev>
                    <memballoon model='none'/>
                  </devices>
                </domain>
                """;
        Result r = ConfigCheck.check(host, LibvirtDomain.parse(xml));
        // 07.0 is alone in its group: libvirt's detach makes it viable; 05.0's sibling 05.1 is on vfio-pci
        assertThat(r.findings()).extracting(Finding::device).containsExactly("intel-iommu iommu0");
        Finding cm = r.findings().get(0);
        assertThat(cm.fix()).isEqualTo("<iommu model='intel'><driver caching_mode='on' intremap='on'/></iommu>");
        assertThat(r.configuration()).isEqualTo("libvirt domain d");

        Result shared = ConfigCheck.check(host, LibvirtDomain.parse(xml.replace("slot='0x07'", "slot='0x08'")
                .replace("<driver intremap='on'/>", "<driver intremap='on' caching_mode='on'/>")));
        Finding f = only(shared);
        assertThat(f.device()).isEqualTo("vfio-pci hostdev0");
        assertThat(f.what()).contains("0000:00:08.1 (e1000) is still on a host driver (libvirt's managed='yes' detaches"
                + " only the <hostdev> device itself)");
        assertThat(f.fix()).doesNotContain("--managed");

        Result balloon = ConfigCheck.check(host, LibvirtDomain.parse(xml.replace("<memballoon model='none'/>", "")
                .replace("<driver intremap='on'/>", "<driver intremap='on' caching_mode='on'/>")));
        assertThat(only(balloon).fix()).isEqualTo("<driver iommu='on'/> in its <memballoon> element");
    }
}
