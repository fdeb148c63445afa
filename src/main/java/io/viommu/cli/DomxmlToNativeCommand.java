package io.viommu.cli;

import io.viommu.vmm.libvirt.Domain;
import io.viommu.vmm.libvirt.LibvirtDomain;
import io.viommu.vmm.libvirt.LibvirtException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code viommu domxml-to-native FILE.xml}: what {@code virsh domxml-to-native qemu-argv FILE.xml}
 * prints with libvirt 9.0.0 and QEMU 7.2 (Debian 12), for the elements docs/libvirt.md lists.
 */
@Command(name = "domxml-to-native", mixinStandardHelpOptions = true,
        description = {
            "Print the QEMU command line libvirt 9.0 builds for a libvirt domain XML, as"
                    + " `virsh domxml-to-native qemu-argv FILE.xml` prints it: libvirt's environment, the"
                    + " binary, then the arguments (JSON -device as libvirt writes them for QEMU 7.2).",
            "What it prints runs unchanged as the VM arguments of `viommu run` and `viommu qtest --host`"
                    + " (drop the environment and the binary).",
            "Elements translated: memory, currentMemory, vcpu, os/type (q35), os/boot, features/acpi,"
                    + " apic, ioapic, cpu mode='host-passthrough', iommu model='intel' with its driver,"
                    + " hostdev type='pci', interface type='user', virtio disk, pci controllers"
                    + " (pcie-root, pcie-root-port), usb controller, memballoon; docs/libvirt.md has the list.",
            "Any other element or attribute is named on stderr (viommu: warning: ...); a configuration"
                    + " libvirt refuses prints libvirt's error (error: ...).",
            "Exit status: 0 ok, 1 when libvirt would refuse the XML (or it cannot be read), 2 usage error."})
public final class DomxmlToNativeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE.xml", description = "The domain XML.")
    Path file;

    @Override
    public Integer call() {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(System.err, false, StandardCharsets.UTF_8);
        int rc = run(file, out, err);
        out.flush();
        err.flush();
        return rc;
    }

    static int run(Path file, PrintStream out, PrintStream err) {
        Domain d;
        try {
            d = LibvirtDomain.parse(file);
        } catch (LibvirtException e) {
            // virsh's vshReportError: "error: " and the message, then an empty line
            err.println("error: " + e.getMessage());
            err.println();
            return 1;
        } catch (RuntimeException e) {
            // a model bug must not end as a stack trace: say what failed and on which file
            err.println("viommu domxml-to-native: cannot translate " + file + " (" + e + ")");
            return 1;
        }
        for (String w : d.warnings()) {
            err.println(w);
        }
        out.println(d.toNativeLine());
        return 0;
    }
}
