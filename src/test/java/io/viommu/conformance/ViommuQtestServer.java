package io.viommu.conformance;

import io.viommu.cli.QtestServer;
import java.io.BufferedReader;
import java.io.PrintStream;
import java.util.List;
import java.util.Optional;

/** The one binding of the differential harness to viommu's qtest server. */
final class ViommuQtestServer {
    /** The server's entry point, as the harness needs it. */
    @FunctionalInterface
    interface Entry {
        int serve(List<String> qemuArgs, BufferedReader in, PrintStream out, PrintStream err) throws Throwable;
    }

    private ViommuQtestServer() {}

    /** The server's entry point (always present; Optional kept for the harness's skip logic). */
    static Optional<Entry> locate() {
        return Optional.of(QtestServer::serve);
    }
}
