package io.viommu.host;

import io.viommu.linux.Kernel;
import io.viommu.linux.block.BlockDevices;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.net.NetworkInterfaces;
import io.viommu.linux.shell.RootShell;
import io.viommu.linux.sysfs.SysfsRead;
import io.viommu.linux.sysfs.SysfsTree;
import io.viommu.linux.sysfs.SysfsWrite;
import io.viommu.linux.vfio.DevNode;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A model host: the kernel model booted on the machine that QEMU-style arguments describe
 * ({@code --model "HOST ARGS"}), seen through the {@link HostSysfs} seam. Reads of {@code /sys}
 * and writes into it go to the kernel's {@link SysfsTree}, so they get its real behaviour and
 * errnos (EBUSY, ENODEV, EINVAL...); {@code /proc/cmdline}, {@code /proc/cpuinfo} and the kernel
 * config are the kernel's own ({@link Kernel#procFiles}); {@code /proc/mounts} and
 * {@code /proc/net/route} are made from its block devices and network interfaces, in the kernel's
 * formats ({@code /proc/interrupts} holds one line whose chip says whether interrupts are remapped), so that {@code host plan} sees a disk mounted or a NIC routed by {@code --host-setup}.
 * {@code modprobe}, {@code rmmod} and {@code ip} act on the kernel as its root shell does.
 */
public final class ModelHost implements HostSysfs {
    private final Kernel kernel;
    private final String args;
    private long writes;

    public ModelHost(Kernel kernel, String args) {
        this.kernel = kernel;
        this.args = args;
    }

    /** The result of booting a model host: the host, or the text QEMU (or the setup's shell) printed. */
    public record Boot(ModelHost host, String error, String setupOutput) {
    }

    /**
     * The model host's kernel booted on the machine {@code hostArgs} describes, with
     * {@code -append intel_iommu=on} when the arguments give no -append (the one default of every
     * model host: qtest --host, run --host, host plan --model).
     */
    public static Kernel bootKernel(String hostArgs) throws MachineConfigException {
        return Kernel.boot(MachineBuilder.build(argv(hostArgs), MachineLog.SILENT).machine());
    }

    /** The host's arguments, split, with the default {@code -append intel_iommu=on}. */
    private static List<String> argv(String hostArgs) {
        List<String> argv = new ArrayList<>(List.of(hostArgs.trim().split("\\s+")));
        if (!argv.contains("-append")) {
            argv.add("-append");
            argv.add("intel_iommu=on");
        }
        return argv;
    }

    /**
     * Boots {@code hostArgs} ({@code -append intel_iommu=on} added when there is no -append, as
     * {@code qtest --host} does) and runs {@code setupLines} in its root shell, stopping at the first
     * failing line.
     */
    public static Boot boot(String hostArgs, List<String> setupLines) {
        Kernel k;
        try {
            k = bootKernel(hostArgs);
        } catch (MachineConfigException e) {
            return new Boot(null, e.getMessage(), "");
        } catch (RuntimeException e) {
            return new Boot(null, "cannot model this host (" + e + "); arguments: " + hostArgs, "");
        }
        StringBuilder out = new StringBuilder();
        if (setupLines != null) {
            RootShell.Run run = new RootShell(k).runScript(setupLines);
            run.results().forEach(r -> out.append(r.output()));
            if (!run.ok()) {
                return new Boot(null, "--host-setup: line failed: " + run.failedLine(), out.toString());
            }
        }
        return new Boot(new ModelHost(k, String.join(" ", argv(hostArgs))), null, out.toString());
    }

    public Kernel kernel() {
        return kernel;
    }

    // ---------------------------------------------------------------- reads

    private Map<String, String> otherFiles() {
        Map<String, String> out = new LinkedHashMap<>(kernel.procFiles());
        StringBuilder mounts = new StringBuilder();
        for (BlockDevices.Disk d : kernel.blockDevices().disks()) {
            if (d.mountPoint() != null) {
                mounts.append("/dev/").append(d.name()).append(' ').append(d.mountPoint()).append(" ext4 rw,relatime 0 0\n");
            }
        }
        out.put("/proc/mounts", mounts.toString());
        out.put("/proc/net/route", route());
        // /proc/meminfo: only MemTotal (kB) is read (host plan --emit sizes the VM by it)
        out.put("/proc/meminfo", String.format("MemTotal:       %8d kB%n", kernel.machine().ramSize() >> 10));
        // /proc/interrupts: only its chip names matter to the reader (IR- when interrupts are remapped)
        boolean ir = kernel.iommuDriver() != null && kernel.iommuDriver().hasInterruptRemapping();
        out.put("/proc/interrupts", "           CPU0\n  0:          0   " + (ir ? "IR-IO-APIC" : "IO-APIC")
                + "    2-edge      timer\n");
        for (DevNode n : kernel.vfio().map(v -> v.devNodes()).orElse(List.of())) {
            out.put("/dev/vfio/" + n.name(), "");
        }
        return out;
    }

    /** /proc/net/route (fib_route_seq_show): hex little-endian addresses, flags 0001 (RTF_UP). */
    private String route() {
        StringBuilder sb = new StringBuilder("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
        for (NetworkInterfaces.Route r : kernel.network().routes()) {
            String[] dst = r.destination().split("/");
            int prefix = dst.length > 1 ? Integer.parseInt(dst[1]) : 32;
            int mask = prefix == 0 ? 0 : -1 << (32 - prefix);
            sb.append(String.format("%s\t%08X\t%08X\t%04X\t%d\t%d\t%d\t%08X\t%d\t%d\t%d%n", r.device(),
                    Integer.reverseBytes(ipv4(dst[0])), 0, 1, 0, 0, 0, Integer.reverseBytes(mask), 0, 0, 0));
        }
        return sb.toString();
    }

    private static int ipv4(String dotted) {
        int v = 0;
        for (String q : dotted.split("\\.")) {
            v = v << 8 | Integer.parseInt(q);
        }
        return v;
    }

    private static boolean inSys(Path p) {
        return p.normalize().startsWith("/sys");
    }

    @Override
    public Optional<byte[]> readBytes(Path path) {
        if (inSys(path)) {
            SysfsRead r = kernel.sysfs().read(path.normalize().toString());
            return r.ok() ? Optional.of(r.data()) : Optional.empty();
        }
        String s = otherFiles().get(path.normalize().toString());
        return Optional.ofNullable(s).map(t -> t.getBytes(StandardCharsets.ISO_8859_1));
    }

    @Override
    public List<String> list(Path path) {
        if (inSys(path)) {
            return kernel.sysfs().list(path.normalize().toString()).map(l -> l.stream().sorted().toList()).orElse(List.of());
        }
        String prefix = path.normalize() + "/";
        return otherFiles().keySet().stream().filter(k -> k.startsWith(prefix))
                .map(k -> k.substring(prefix.length())).map(k -> k.contains("/") ? k.substring(0, k.indexOf('/')) : k)
                .distinct().sorted().toList();
    }

    @Override
    public Optional<Path> readlink(Path path) {
        return inSys(path) ? kernel.sysfs().readlink(path.normalize().toString()).map(Path::of) : Optional.empty();
    }

    @Override
    public boolean exists(Path path) {
        if (inSys(path)) {
            return kernel.sysfs().exists(path.normalize().toString());
        }
        String p = path.normalize().toString();
        return otherFiles().containsKey(p) || !list(path).isEmpty();
    }

    @Override
    public Optional<Path> realPath(Path path) {
        if (inSys(path)) {
            return kernel.sysfs().realpath(path.normalize().toString()).map(Path::of);
        }
        return exists(path) ? Optional.of(path.normalize()) : Optional.empty();
    }

    @Override
    public String describe() {
        return "model host (" + args + ")";
    }

    /**
     * Every path of the model's sysfs with what it holds: a file's bytes as read now (write-only
     * files and failing reads as their errno), a link's target, a directory's mark. Two equal maps
     * are two byte-identical trees; tests compare them before and after an apply.
     */
    public Map<String, String> sysfsContents() {
        SysfsTree sys = kernel.sysfs();
        Map<String, String> out = new TreeMap<>();
        for (String p : sys.walk()) {
            switch (sys.kind(p)) {
                case DIRECTORY -> out.put(p, "<dir>");
                case SYMLINK -> out.put(p, "-> " + sys.readlink(p).orElse("?"));
                case FILE -> {
                    SysfsRead r = sys.read(p);
                    out.put(p, r.ok() ? new String(r.data(), StandardCharsets.ISO_8859_1) : "<" + r.error() + ">");
                }
                case MISSING -> out.put(p, "<missing>");
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- effects

    @Override
    public Outcome write(Path path, String value) {
        writes++;
        if (!inSys(path)) {
            return Outcome.failed(Errno.EACCES, path + ": the model host has only /sys to write to");
        }
        SysfsWrite w = kernel.sysfs().write(path.normalize().toString(), value);
        return w.ok() ? Outcome.OK : Outcome.failed(w.error());
    }

    @Override
    public Outcome modprobe(String module) {
        writes++;
        int rc = kernel.drivers().loadModule(module);
        Errno e = Errno.fromReturn(rc);
        if (e == Errno.ENOENT) {
            return Outcome.failed(e, "modprobe: FATAL: Module " + module + " not found in directory /lib/modules/"
                    + kernel.config().release());
        }
        return e == null ? Outcome.OK : Outcome.failed(e, "modprobe: ERROR: could not insert '" + module + "': " + e.strerror);
    }

    @Override
    public Outcome rmmod(String module) {
        writes++;
        Errno e = Errno.fromReturn(kernel.drivers().unloadModule(module));
        return e == null ? Outcome.OK : Outcome.failed(e, "rmmod: ERROR: could not remove '" + module + "': " + e.strerror);
    }

    @Override
    public Outcome setLink(String ifname, boolean up) {
        writes++;
        Errno e = Errno.fromReturn(kernel.network().setUp(ifname, up));
        return e == null ? Outcome.OK : Outcome.failed(e);
    }

    @Override
    public Outcome addAddress(String ifname, String cidr) {
        writes++;
        Errno e = Errno.fromReturn(kernel.network().addAddress(ifname, NetworkInterfaces.parseAddress(cidr)));
        return e == null ? Outcome.OK : Outcome.failed(e);
    }

    @Override
    public List<String> addresses(String ifname) {
        return kernel.network().byName(ifname).map(i -> i.addresses().stream().map(NetworkInterfaces.Address::text).toList())
                .orElse(List.of());
    }

    @Override
    public long writes() {
        return writes;
    }

    @Override
    public Optional<String> writeRefusal() {
        return Optional.empty();
    }
}
