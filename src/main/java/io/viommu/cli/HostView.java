package io.viommu.cli;

import io.viommu.host.HostSysfs;
import io.viommu.host.ModelHost;
import io.viommu.host.RealHost;
import io.viommu.host.SavedTree;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * Which host the {@code host plan/apply/undo/tree} commands read and change: the live host
 * (default), a saved tree ({@code --sysfs DIR}, read-only), or a model host booted from QEMU-style
 * arguments ({@code --model "HOST ARGS"}, with {@code --host-setup FILE} run in its root shell).
 */
final class HostView {
    @Option(names = "--sysfs", paramLabel = "DIR",
            description = "A saved tree (DIR/sys/..., DIR/proc/..., as `host snapshot` writes): read-only.")
    Path sysfs;

    @Option(names = "--model", paramLabel = "\"HOST ARGS\"",
            description = "A model host: the kernel model booted on the machine these QEMU arguments describe"
                    + " (-append intel_iommu=on unless -append is given).")
    String model;

    @Option(names = "--host-setup", paramLabel = "FILE",
            description = "With --model: run FILE's lines in the model host's root shell first (modprobe, ip link"
                    + " set, ip addr add, mount, echo > /sys/...).")
    Path hostSetup;

    /** The host, or null after printing why not (the command then exits 2). */
    HostSysfs open(String cmd) {
        if (sysfs != null && model != null) {
            System.err.println(cmd + ": --sysfs and --model name two different hosts: give one");
            return null;
        }
        if (hostSetup != null && model == null) {
            System.err.println(cmd + ": --host-setup needs --model (it runs in the model host's root shell)");
            return null;
        }
        if (sysfs != null) {
            String bad = HostCommand.checkTree(sysfs);
            if (bad != null) {
                System.err.println(cmd + ": " + bad);
                return null;
            }
            return new SavedTree(sysfs);
        }
        if (model != null) {
            List<String> lines = null;
            if (hostSetup != null) {
                try {
                    lines = Files.readAllLines(hostSetup, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    System.err.println(cmd + ": --host-setup " + hostSetup + ": cannot read: " + e.getMessage());
                    return null;
                }
            }
            ModelHost.Boot b = ModelHost.boot(model, lines);
            System.err.print(b.setupOutput());
            if (b.host() == null) {
                System.err.println(cmd + ": --model: " + b.error());
                return null;
            }
            return b.host();
        }
        return new RealHost();
    }
}
