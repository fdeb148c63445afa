package io.viommu.linux.sysfs;

import io.viommu.linux.driver.KernelMessage;
import java.util.ArrayList;
import java.util.List;

/**
 * What the captures' busybox shell script printed, run against the model: {@code echo V > FILE}
 * prints "sh: write error: STRERROR" when the write fails and exits 1; kernel messages that
 * reach a loglevel=4 console (level below 4) are interleaved where they were logged.
 */
final class Shell {
    final SysfsTree sys;
    final List<String> out = new ArrayList<>();
    private int seen;

    Shell(SysfsTree sys) {
        this.sys = sys;
        this.seen = sys.drivers().log().size();
    }

    /** {@code echo value > path}; returns the exit status. */
    int echo(String value, String path) {
        return echo(value, path, true);
    }

    /** As {@link #echo(String, String)}, optionally with the shell's stderr thrown away. */
    int echo(String value, String path, boolean stderr) {
        SysfsWrite w = sys.write(path, value + "\n");
        console();
        if (!w.ok()) {
            if (stderr) {
                out.add("sh: write error: " + w.error().strerror);
            }
            return 1;
        }
        return 0;
    }

    void print(String line) {
        console();
        out.add(line);
    }

    /** {@code cat FILE} without its trailing newline. */
    String cat(String path) {
        String s = sys.read(path).text();
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }

    /** The last component of a symlink's target ({@code basename $(readlink ...)}); "" if none. */
    String linkName(String path) {
        return sys.readlink(path).map(t -> t.substring(t.lastIndexOf('/') + 1)).orElse("");
    }

    private void console() {
        List<KernelMessage> log = sys.drivers().log();
        for (; seen < log.size(); seen++) {
            if (log.get(seen).level() < KernelMessage.WARNING) {
                out.add(log.get(seen).text());
            }
        }
    }
}
