package io.viommu.vmm.libvirt;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Whatever a user hands in, the answer is a Domain whose argv can be built, or libvirt's (or
 * viommu's) message: never another exception (a stack trace on the command line). The inputs are
 * the captured cases with a piece cut out, or an attribute value or number replaced.
 */
class LibvirtDomainProperties {
    private static final List<String> CASES = load();

    private static List<String> load() {
        try (Stream<Path> s = Files.list(Path.of("src/test/resources/libvirt/cases"))) {
            return s.sorted().map(p -> {
                try {
                    return Files.readString(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).filter(x -> !x.isBlank()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Provide
    Arbitrary<String> mutated() {
        Arbitrary<String> base = Arbitraries.of(CASES);
        Arbitrary<String> values = Arbitraries.oneOf(Arbitraries.of("0x1f", "0x20", "0", "-1", "on", "off", "yes",
                "", "0xffffffffff", "99999999999999999999", "q35", "pc", "virtio", "<", "&amp;", "\u00e9"),
                Arbitraries.strings().ofMaxLength(6));
        return base.flatMap(xml -> Arbitraries.integers().between(0, xml.length() - 1).flatMap(at ->
                Arbitraries.oneOf(
                        Arbitraries.integers().between(1, 40).map(n -> xml.substring(0, at) + xml.substring(Math.min(xml.length(), at + n))),
                        values.map(v -> replaceQuoted(xml, at, v)))));
    }

    /** Replaces the quoted value or element text at or after {@code at} with {@code v}. */
    private static String replaceQuoted(String xml, int at, String v) {
        int q = xml.indexOf('\'', at);
        if (q < 0) {
            return xml;
        }
        int end = xml.indexOf('\'', q + 1);
        return end < 0 ? xml : xml.substring(0, q + 1) + v.replace("'", "") + xml.substring(end);
    }

    @Property(tries = 400)
    void anyInputIsADomainOrAMessage(@ForAll("mutated") String xml) {
        try {
            Domain d = LibvirtDomain.parse(xml);
            assertThat(d.toNativeLine()).startsWith("LC_ALL=C ");
        } catch (LibvirtException e) {
            assertThat(e.getMessage()).isNotBlank();
        }
    }
}
