package io.viommu.vmm.libvirt;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the real libvirt 9.0.0 (Debian 12) made of each XML of src/test/resources/libvirt/cases:
 * the output of {@code /work/shared/lab/libvirt-native --start cases/*.xml} kept unchanged in
 * libvirt-native.out, later ones in libvirt-native-2.out to -6.out (the commands in libvirt-native.cmd). Per file: the domxml-to-native line or
 * {@code error: ...}, its {@code rc=N}, and for a file without {@code <hostdev>} the argv of a
 * real (paused) start.
 *
 * <p>Normalisation, only of what belongs to the host or the run (see {@link #normalise}):
 * <ul>
 * <li>{@code PATH=} is libvirtd's own environment (here the lab shell's), replaced by the
 *     systemd default viommu prints;</li>
 * <li>a real start's domain id ({@code domain-2-NAME}) becomes domxml-to-native's
 *     {@code domain--1-NAME};</li>
 * <li>a real start passes the monitor socket as an inherited descriptor
 *     ({@code -chardev socket,id=charmonitor,fd=30,...}); domxml-to-native names the path,
 *     which viommu prints.</li>
 * <li>the descriptor of a tap ({@code "type":"tap","fd":"28"}) is one libvirtd opened: its number
 *     depends on libvirtd's other open descriptors (the same XML gave 25 and 28), so
 *     {@link #tapFds} makes it {@code N} on both sides.</li>
 * </ul>
 * The uuids are fixed in the XML files, so they need none.
 */
record LibvirtNative(String file, String nativeLine, List<String> error, int rc, String startedLine) {
    static final Path DIR = Path.of("src/test/resources/libvirt");

    /** In capture order: a file captured again later (net-bridge.xml, started with a br0) takes the later capture. */
    static final List<String> FILES = List.of("libvirt-native.out", "libvirt-native-2.out", "libvirt-native-3.out",
            "libvirt-native-4.out", "libvirt-native-5.out", "libvirt-native-6.out", "libvirt-native-7.out");

    static Map<String, LibvirtNative> load() {
        List<String> lines = new ArrayList<>();
        try {
            for (String f : FILES) {
                lines.addAll(Files.readAllLines(DIR.resolve(f), StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, LibvirtNative> out = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).startsWith("== ")) {
                continue;
            }
            String file = lines.get(i).substring(3);
            String nativeLine = null;
            List<String> error = new ArrayList<>();
            int rc = -1;
            String started = null;
            int j = i + 1;
            for (; j < lines.size() && !lines.get(j).startsWith("== "); j++) {
                String l = lines.get(j);
                if (l.startsWith("rc=")) {
                    rc = Integer.parseInt(l.substring(3));
                } else if (l.startsWith("LC_ALL=C ")) {
                    if (rc < 0) {
                        nativeLine = l;
                    } else {
                        started = l;
                    }
                } else if (rc < 0 && (l.startsWith("error: ") || !error.isEmpty())) {
                    error.add(l);
                }
            }
            while (!error.isEmpty() && error.get(error.size() - 1).isEmpty()) {
                error.remove(error.size() - 1);
            }
            out.put(file, new LibvirtNative(file, nativeLine, List.copyOf(error), rc, started));
            i = j - 1;
        }
        return out;
    }

    /** The host-specific parts made the same in both lines (class comment). */
    static String normalise(String line) {
        return line.replaceFirst("PATH=[^ ]* ", "PATH=" + NativeArgv.PATH + " ")
                .replaceAll("/domain-\\d+-", "/domain--1-")
                .replaceAll("-chardev socket,id=charmonitor,fd=\\d+,",
                        "-chardev socket,id=charmonitor,path=" + monitorDir(line) + "/monitor.sock,");
    }

    /** Every tap netdev's descriptor number made {@code N} (apply to both lines). */
    static String tapFds(String line) {
        return line.replaceAll("(\\{\"type\":\"tap\",\"fd\":\")\\d+\"", "$1N\"");
    }

    private static String monitorDir(String line) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("HOME=(/var/lib/libvirt/qemu/domain-[-\\d]+-[^ ]+) ")
                .matcher(line);
        return m.find() ? m.group(1).replaceFirst("/domain-\\d+-", "/domain--1-") : "";
    }

    Path xml() {
        return DIR.resolve("cases").resolve(file);
    }
}
