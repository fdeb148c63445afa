package io.viommu.cli;

import io.viommu.linux.Kernel;
import io.viommu.linux.shell.RootShell;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code --host-setup FILE} and {@code --host-dmesg FILE} of the commands that boot a host
 * kernel: the file's lines through a {@link RootShell} (their output to stderr, stdout being the
 * command's report), then the kernel log written out, whether the setup succeeded or not.
 */
final class HostSetup {
    private HostSetup() {
    }

    /** 0 when every line succeeded (or there was no file), else 1 (the failing line's text printed). */
    static int run(Kernel k, Path setup, Path dmesg) {
        int rc = 0;
        if (setup != null) {
            rc = runSetup(k, setup);
        }
        if (dmesg != null) {
            try {
                List<String> lines = new ArrayList<>(k.log().dmesgLines());
                Files.write(dmesg, lines, StandardCharsets.UTF_8);
            } catch (IOException e) {
                System.err.println("viommu: --host-dmesg " + dmesg + ": cannot write: " + e.getMessage());
                return 1;
            }
        }
        return rc;
    }

    private static int runSetup(Kernel k, Path setup) {
        List<String> lines;
        try {
            lines = Files.readAllLines(setup, StandardCharsets.UTF_8);
        } catch (IOException e) {
            System.err.println("viommu: --host-setup " + setup + ": cannot read: " + e.getMessage());
            return 1;
        }
        RootShell.Run run = new RootShell(k).runScript(lines);
        for (RootShell.Result r : run.results()) {
            System.err.print(r.output());
        }
        System.err.flush();
        return run.ok() ? 0 : 1;
    }
}
