package io.viommu.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Runs the {@code viommu} command in-process and captures its exit code, stdout and stderr. Its
 * stdin is empty (end of file at once): in the test JVM the real stdin is the test runner's
 * command channel, so a command that reads stdin (qtest) would wait on it forever.
 */
record CliRun(int code, String out, String err) {
    static CliRun of(List<String> args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        InputStream in = System.in;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            System.setIn(new ByteArrayInputStream(new byte[0]));
            int code = Main.commandLine().execute(args.toArray(String[]::new));
            return new CliRun(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
            System.setIn(in);
        }
    }

    static CliRun of(String... args) {
        return of(List.of(args));
    }
}
