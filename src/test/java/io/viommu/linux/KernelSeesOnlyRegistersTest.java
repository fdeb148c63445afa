package io.viommu.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.constantpool.Utf8Entry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Issue 10 section 3: the kernel model knows the VT-d unit only through its registers at the
 * DRHD base address (alloc_iommu/map_iommu read CAP, ECAP, VER; the driver reads GSTS, FSTS, ...
 * over the machine's MMIO bus), never through the unit's Java object. Checked over the compiled
 * classes: no class of {@code io.viommu.linux} or its kernel sub-packages names
 * {@code io.viommu.vtd.IntelIommu} in its constant pool (a field, a parameter, a call such as
 * {@code machine.iommu()} whose descriptor returns it).
 *
 * <p>{@code io.viommu.linux.scenario} is not kernel code: its scenarios instrument the hardware
 * side (counting what the unit received, QEMU's notifier-driven shadow) and may hold the unit.
 */
class KernelSeesOnlyRegistersTest {
    private static final String UNIT = "io/viommu/vtd/IntelIommu";
    private static final List<String> NOT_KERNEL = List.of("io/viommu/linux/scenario/", "io/viommu/linux/host/");

    @Test
    void noKernelClassReferencesTheVtdUnitObject() throws IOException {
        Path root = Path.of("target/classes");
        Path linux = root.resolve("io/viommu/linux");
        assertThat(linux).isDirectory();
        List<String> offenders = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> files = Files.walk(linux)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                String name = root.relativize(f).toString().replace('\\', '/');
                if (NOT_KERNEL.stream().anyMatch(name::startsWith)) {
                    continue;
                }
                scanned++;
                ClassModel cm = ClassFile.of().parse(Files.readAllBytes(f));
                for (PoolEntry e : cm.constantPool()) {
                    if (e instanceof Utf8Entry u && names(u.stringValue())) {
                        offenders.add(name + ": " + u.stringValue());
                    }
                }
            }
        }
        assertThat(scanned).isGreaterThan(50);
        assertThat(offenders).isEmpty();
    }

    private static boolean names(String s) {
        return s.equals(UNIT) || s.startsWith(UNIT + "$") || s.contains("L" + UNIT + ";") || s.contains("L" + UNIT + "$");
    }

    @Test
    void theCheckWouldSeeACallToMachineIommu() throws IOException {
        // The scenario harness does call machine.iommu(); the same scan must find it there.
        Path f = Path.of("target/classes/io/viommu/linux/scenario/NicRingScenario$Guest.class");
        assertThat(f).exists();
        ClassModel cm = ClassFile.of().parse(Files.readAllBytes(f));
        boolean found = false;
        for (PoolEntry e : cm.constantPool()) {
            found |= e instanceof Utf8Entry u && names(u.stringValue());
        }
        assertThat(found).isTrue();
    }
}
