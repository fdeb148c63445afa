package io.viommu.arch;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** DESIGN.md "Layers (lower never imports higher)", checked over the main sources. */
class LayeringTest {
    private static final Map<String, Integer> LAYER = Map.of(
            "memory", 1, "pci", 2, "vtd", 3, "machine", 4, "linux", 5, "vmm", 6, "host", 7, "cli", 8, "bench", 8);
    private static final Pattern IMPORT = Pattern.compile("^import (?:static )?io\\.viommu\\.(\\w+)\\.", Pattern.MULTILINE);
    private static final Pattern QUALIFIED = Pattern.compile("\\bio\\.viommu\\.(\\w+)\\.[A-Z]");

    @Test
    void noLayerImportsAHigherOne() throws IOException {
        Path root = Path.of("src/main/java/io/viommu");
        List<String> violations = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String pkg = root.relativize(f).getName(0).toString();
                Integer own = LAYER.get(pkg);
                assertThat(own).as("package %s of %s has a layer", pkg, f).isNotNull();
                String src = Files.readString(f);
                for (Pattern p : List.of(IMPORT, QUALIFIED)) {
                    Matcher m = p.matcher(src);
                    while (m.find()) {
                        Integer used = LAYER.get(m.group(1));
                        if (used != null && used > own) {
                            violations.add(f + " (" + pkg + ") uses io.viommu." + m.group(1));
                        }
                    }
                }
            }
        }
        assertThat(violations).isEmpty();
    }
}
