package io.viommu.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.host.KernelCmdline;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The one kernel command-line lexer (kernel/params.c next_arg, parse_args) and its users. */
class KernelCommandLineTest {
    @Test
    void quotesGroupAndALoneDoubleDashEndsTheKernelsPart() {
        List<KernelCommandLine.Param> p = KernelCommandLine.params(
                "ro  dyndbg=\"file x.c +p\" intel_iommu=on,sm_on -- iommu=off");
        assertThat(p).extracting(Object::toString)
                .containsExactly("ro", "dyndbg=file x.c +p", "intel_iommu=on,sm_on");
        assertThat(KernelCommandLine.parse("-- iommu=off").noIommu()).isFalse();
    }

    @Test
    void theHostReaderSplitsWithTheSameLexer() {
        String text = "quiet vfio-iommu-type1.allow-unsafe-interrupts=1 \"intel_iommu=on\" -- single";
        assertThat(KernelCmdline.parse(text).args()).containsExactlyElementsOf(
                KernelCommandLine.params(text).stream().map(Object::toString).toList());
        assertThat(KernelCmdline.parse(text).value("vfio_iommu_type1.allow_unsafe_interrupts")
                .flatMap(KernelCmdline::bool)).contains(true);
    }

    @Test
    void parameterNamesCompareWithDashesAsUnderscores() {
        assertThat(KernelCommandLine.parse("iommu-strict=1").requestedStrict()).isNull(); // '.' is not '-'
        assertThat(KernelCommandLine.parse("intel-iommu=off").dmarDisabled(KernelConfig.DEBIAN_6_1)).isTrue();
    }

    @Test
    void forcedacComesFromEitherSpellingThroughKstrtobool() {
        assertThat(KernelCommandLine.parse("").forcedac()).isFalse();
        KernelCommandLine c = KernelCommandLine.parse("iommu.forcedac=true");
        assertThat(c.forcedac()).isTrue();
        assertThat(c.earlyMessages()).containsExactly("Forcing DAC for PCI devices");
        assertThat(KernelCommandLine.parse("intel_iommu=forcedac").forcedac()).isTrue();
        KernelCommandLine bad = KernelCommandLine.parse("iommu.forcedac=maybe");
        assertThat(bad.forcedac()).isFalse();
        assertThat(bad.earlyMessages()).containsExactly("Malformed early option 'iommu.forcedac'");
    }
}
