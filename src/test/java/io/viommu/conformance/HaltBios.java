package io.viommu.conformance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The firmware image both peers are started with: 64 KiB of HLT with {@code hlt; jmp $-1} at the
 * reset vector (0xFFF0). Without it SeaBIOS would run in QEMU and place BARs under the script.
 */
final class HaltBios {
    private static Path path;

    private HaltBios() {}

    static synchronized Path path() {
        if (path == null) {
            try {
                Path dir = Files.createTempDirectory("viommu-diff");
                dir.toFile().deleteOnExit();
                byte[] image = new byte[65536];
                Arrays.fill(image, (byte) 0xF4);
                image[0xFFF0] = (byte) 0xF4; // hlt
                image[0xFFF1] = (byte) 0xEB; // jmp rel8
                image[0xFFF2] = (byte) 0xFD; //   -3: back to the hlt
                path = dir.resolve("HALT.bin");
                Files.write(path, image);
                path.toFile().deleteOnExit();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return path;
    }
}
