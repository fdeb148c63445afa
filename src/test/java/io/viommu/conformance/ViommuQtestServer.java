package io.viommu.conformance;

import java.io.BufferedReader;
import java.io.PrintStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import java.util.Optional;

/**
 * The ONE binding of the differential harness to viommu's qtest server.
 *
 * <p>The server ({@code io.viommu.cli.QtestServer.serve(List<String> qemuArgs, BufferedReader in,
 * PrintStream out, PrintStream err)} returning an exit code) is written on another branch; binding
 * to it by name lets this package compile before it exists. When the server is merged, replace the
 * reflective lookup below by a direct method reference (or fix {@link #CLASS_NAME} if it moved).
 */
final class ViommuQtestServer {
    static final String CLASS_NAME = "io.viommu.cli.QtestServer";

    /** The server's entry point, as the harness needs it. */
    @FunctionalInterface
    interface Entry {
        int serve(List<String> qemuArgs, BufferedReader in, PrintStream out, PrintStream err) throws Throwable;
    }

    private ViommuQtestServer() {}

    /** The server's entry point, or empty when it is not on the class path. */
    static Optional<Entry> locate() {
        try {
            Class<?> c = Class.forName(CLASS_NAME);
            MethodHandle mh = MethodHandles.publicLookup().findStatic(c, "serve",
                    MethodType.methodType(int.class, List.class, BufferedReader.class, PrintStream.class,
                            PrintStream.class));
            return Optional.of((args, in, out, err) -> (int) mh.invoke(args, in, out, err));
        } catch (ClassNotFoundException | NoSuchMethodException | IllegalAccessException e) {
            return Optional.empty();
        }
    }
}
