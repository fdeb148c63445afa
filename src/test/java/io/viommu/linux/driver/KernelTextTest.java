package io.viommu.linux.driver;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The kernel string parsers as lib/kstrtox.c, vsscanf and sysfs_streq accept and reject. */
class KernelTextTest {
    @Test
    void kstrtoullBaseZeroPicksTheRadixFromThePrefix() {
        assertThat(KernelText.kstrtoull("0x1f\n", 0).value()).isEqualTo(31);
        assertThat(KernelText.kstrtoull("017", 0).value()).isEqualTo(15);
        assertThat(KernelText.kstrtoull("+9", 0).value()).isEqualTo(9);
        assertThat(KernelText.kstrtoull("09", 0).rc()).isEqualTo(Errno.EINVAL.negative()); // octal
        assertThat(KernelText.kstrtoull("0x", 0).rc()).isEqualTo(Errno.EINVAL.negative());
        assertThat(KernelText.kstrtoull("18446744073709551615", 0).value()).isEqualTo(-1L);
        assertThat(KernelText.kstrtoull("18446744073709551616", 0).rc()).isEqualTo(Errno.ERANGE.negative());
        assertThat(KernelText.kstrtoull("1\0garbage", 0).value()).isEqualTo(1); // C string ends at NUL
        assertThat(KernelText.kstrtou16("65536", 0).rc()).isEqualTo(Errno.ERANGE.negative());
    }

    @Test
    void kstrtoboolLooksAtTheFirstCharacters() {
        assertThat(KernelText.kstrtobool("Yes").value()).isEqualTo(1);
        assertThat(KernelText.kstrtobool("oN").value()).isEqualTo(1);
        assertThat(KernelText.kstrtobool("of").value()).isZero();
        assertThat(KernelText.kstrtobool("0whatever").value()).isZero();
        assertThat(KernelText.kstrtobool("o").ok()).isFalse();
        assertThat(KernelText.kstrtobool("").ok()).isFalse();
    }

    @Test
    void scanHexCountsConversionsUntilTheFirstFailure() {
        assertThat(KernelText.scanHex("8086 10d3", 7)).containsExactly(0x8086, 0x10d3);
        assertThat(KernelText.scanHex("  0x8086\t\n0X10D3 zz", 7)).containsExactly(0x8086, 0x10d3);
        assertThat(KernelText.scanHex("nonsense", 7)).isEmpty();
        assertThat(KernelText.scanHex("8086,10d3", 7)).containsExactly(0x8086);
        assertThat(KernelText.scanHex("8086:10d3:1:2", 6, ':')).containsExactly(0x8086, 0x10d3, 1, 2);
        assertThat(KernelText.scanHex("8086 :10d3", 6, ':')).containsExactly(0x8086);
    }

    @Test
    void sysfsStreqIgnoresOneTrailingNewline() {
        assertThat(KernelText.sysfsStreq("0000:00:02.0", "0000:00:02.0\n")).isTrue();
        assertThat(KernelText.sysfsStreq("a\n", "a")).isTrue();
        assertThat(KernelText.sysfsStreq("a", "a\n\n")).isFalse();
        assertThat(KernelText.sysfsStreq("a", " a")).isFalse();
    }

    @Test
    void pciDeviceIdMatchingHonoursAnyAndClassMask() {
        PciDeviceId.Identity nvme = new PciDeviceId.Identity(0x1b36, 0x0010, 0x1af4, 0x1100, 0x010802);
        assertThat(PciDeviceId.classMatch(0x010802, 0xffffff).matches(nvme)).isTrue();
        assertThat(PciDeviceId.classMatch(0x010800, 0xffff00).matches(nvme)).isTrue();
        assertThat(PciDeviceId.classMatch(0x010800, 0xffffff).matches(nvme)).isFalse();
        assertThat(PciDeviceId.device(0x1b36, PciDeviceId.ANY).matches(nvme)).isTrue();
        assertThat(new PciDeviceId(0x1b36, 0x10, 0x1af4, 0x1101, 0, 0, 0, false).matches(nvme)).isFalse();
    }
}
