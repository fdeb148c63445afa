package io.viommu.host;

import io.viommu.linux.driver.Errno;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The running kernel's filesystems. Reading a sysfs attribute can fail with EIO or EACCES for
 * reasons of the device (config space of a powered-down device, root-only ACPI tables); those
 * reads answer empty rather than abort the scan. Effects ({@link HostSysfs}) are real writes and
 * real {@code modprobe}/{@code ip} runs; they need root, and only {@code host apply --yes} and
 * {@code host undo --yes} make them.
 */
public final class RealHost implements HostSysfs {
    private long writes;

    @Override
    public Outcome write(Path path, String value) {
        writes++;
        try {
            // one open and one write(2), as the shell's echo does: sysfs acts on each write
            Files.write(path, value.getBytes(StandardCharsets.ISO_8859_1), StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
            return Outcome.OK;
        } catch (NoSuchFileException e) {
            return Outcome.failed(Errno.ENOENT);
        } catch (AccessDeniedException e) {
            return Outcome.failed(Errno.EACCES);
        } catch (FileSystemException e) {
            return Outcome.failed(errno(e.getReason()));
        } catch (IOException e) {
            return Outcome.failed(errno(e.getMessage()));
        }
    }

    /** The errno whose strerror text the JDK put in the exception (it reports the C library's text). */
    static Errno errno(String reason) {
        if (reason != null) {
            for (Errno e : Errno.values()) {
                if (reason.contains(e.strerror)) {
                    return e;
                }
            }
        }
        return Errno.EIO;
    }

    @Override
    public Outcome modprobe(String module) {
        return command(List.of("modprobe", module));
    }

    @Override
    public Outcome rmmod(String module) {
        return command(List.of("rmmod", module));
    }

    @Override
    public Outcome setLink(String ifname, boolean up) {
        return command(List.of("ip", "link", "set", "dev", ifname, up ? "up" : "down"));
    }

    @Override
    public Outcome addAddress(String ifname, String cidr) {
        return command(List.of("ip", "addr", "add", cidr, "dev", ifname));
    }

    @Override
    public List<String> addresses(String ifname) {
        List<String> out = new ArrayList<>();
        String text = run(List.of("ip", "-o", "-4", "addr", "show", "dev", ifname)).orElse("");
        for (String line : text.split("\n")) {
            String[] w = line.trim().split("\\s+");
            for (int i = 0; i + 1 < w.length; i++) {
                if (w[i].equals("inet")) {
                    out.add(w[i + 1]);
                }
            }
        }
        return out;
    }

    private Outcome command(List<String> argv) {
        writes++;
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return Outcome.failed(Errno.EIO, String.join(" ", argv) + ": no answer in 60 s");
            }
            return p.exitValue() == 0 ? Outcome.OK : Outcome.failed(errno(out), out.isEmpty()
                    ? String.join(" ", argv) + ": exit status " + p.exitValue() : out);
        } catch (IOException e) {
            return Outcome.failed(Errno.ENOENT, String.join(" ", argv) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Outcome.failed(Errno.EIO, String.join(" ", argv) + ": interrupted");
        }
    }

    private static Optional<String> run(List<String> argv) {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 ? Optional.of(out) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    @Override
    public long writes() {
        return writes;
    }

    /** Root or not, from /proc/self/status's effective uid (the JDK has no portable getuid). */
    @Override
    public Optional<String> writeRefusal() {
        return rootRefusal(read(Path.of("/proc/self/status")).orElse(""));
    }

    /** The refusal for a process whose /proc/self/status is {@code status}: empty when its effective uid is 0. */
    static Optional<String> rootRefusal(String status) {
        for (String line : status.split("\n")) {
            if (line.startsWith("Uid:")) {
                String[] w = line.substring(4).trim().split("\\s+");
                if (w.length > 1 && !w[1].equals("0")) {
                    return Optional.of("the live host's sysfs can be changed by root only (effective uid " + w[1] + ")");
                }
                return Optional.empty();
            }
        }
        return Optional.of("cannot tell whether this process runs as root (/proc/self/status unreadable)");
    }
    @Override
    public Optional<byte[]> readBytes(Path path) {
        try {
            return Optional.of(Files.readAllBytes(path));
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<String> list(Path path) {
        if (!Files.isDirectory(path)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(path)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException | SecurityException e) {
            return List.of();
        }
    }

    @Override
    public Optional<Path> readlink(Path path) {
        try {
            return Files.isSymbolicLink(path) ? Optional.of(Files.readSymbolicLink(path)) : Optional.empty();
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
    }

    @Override
    public boolean exists(Path path) {
        return Files.exists(path);
    }

    @Override
    public Optional<Path> realPath(Path path) {
        try {
            return Optional.of(path.toRealPath());
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
    }

    @Override
    public String describe() {
        return "live host";
    }
}
