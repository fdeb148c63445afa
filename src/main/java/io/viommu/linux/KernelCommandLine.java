package io.viommu.linux;

import io.viommu.linux.driver.AcsOverride;
import io.viommu.linux.driver.KernelText;
import io.viommu.linux.iommu.DomainType;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The IOMMU-related part of a Linux 6.1 kernel command line ({@code -append}), parsed in the two
 * passes the kernel makes: early parameters first ({@code parse_early_param}: iommu=,
 * iommu.strict=, iommu.passthrough=, intremap=, pcie_acs_override=), then {@code __setup}
 * handlers ({@code intel_iommu=}). Within a pass parameters apply in command-line order, so the
 * last of two contradicting ones wins, as in Linux.
 *
 * <p>Messages are the kernel's own lines, with its pr_fmt prefix, split by when they print:
 * {@link #earlyMessages()} before the ACPI table lines, {@link #setupMessages()} right after
 * "Kernel command line:".
 *
 * <p>{@code pcie_acs_override=} does not exist in Linux 6.1: it is the out-of-tree ACS override
 * patch (Arch/Proxmox kernels). It is parsed only as a labelled what-if (see {@link AcsOverride}).
 */
public final class KernelCommandLine {
    private final String text;
    private final List<String> earlyMessages = new ArrayList<>();
    private final List<String> setupMessages = new ArrayList<>();

    // intel_iommu= (drivers/iommu/intel/iommu.c intel_iommu_setup)
    private Boolean dmarDisabled;          // null: the config's default
    private boolean gfxMappingDisabled;    // igfx_off: dmar_map_gfx = 0
    private Boolean scalableMode;          // sm_on / sm_off; null: the config's default
    private boolean strictFromIntelOption; // intel_iommu=strict: iommu_set_dma_strict()
    private boolean superpageDisabled;
    // iommu= (arch/x86/kernel/pci-dma.c iommu_setup) and the iommu core's early params
    private boolean noIommu;
    private DomainType defaultType;        // iommu_set_default_{passthrough,translated}(true)
    private Boolean dmaStrict;             // iommu.strict=
    private boolean interruptRemappingOff; // intremap=off: disable_irq_remap
    private boolean forcedac;              // iommu_dma_forcedac (drivers/iommu/dma-iommu.c)
    private AcsOverride acsOverride = AcsOverride.NONE;

    private KernelCommandLine(String text) {
        this.text = text;
    }

    public static KernelCommandLine parse(String text) {
        KernelCommandLine c = new KernelCommandLine(text == null ? "" : text);
        List<Param> params = params(c.text);
        for (Param p : params) {
            c.early(p);
        }
        for (Param p : params) {
            if (p.key().equals("intel_iommu") && p.value() != null) {
                c.intelIommu(p.value());
            }
        }
        return c;
    }

    /**
     * One parameter: {@code name} or {@code name=value} (value null without '='), quotes
     * removed, as next_arg returns it.
     */
    public record Param(String name, String value) {
        /** The name as parameq compares it: dashes and underscores are the same. */
        public String key() {
            return name.replace('-', '_');
        }

        /** The text as given, without quotes: {@code name} or {@code name=value}. */
        @Override
        public String toString() {
            return value == null ? name : name + "=" + value;
        }
    }

    /**
     * The kernel's one command-line lexer (kernel/params.c parse_args with next_arg): whitespace
     * separated, double quotes group, a lone {@code --} ends the kernel's part (the rest is for
     * init). Host tooling reads /proc/cmdline with it too.
     */
    public static List<Param> params(String text) {
        List<Param> out = new ArrayList<>();
        for (String[] p : split(text == null ? "" : text)) {
            if (p[0].equals("--") && p[1] == null) {
                break;
            }
            out.add(new Param(p[0], p[1]));
        }
        return out;
    }

    /** kstrtobool (lib/kstrtox.c): TRUE, FALSE or null when the text is not a boolean. */
    public static Boolean kstrtobool(String s) {
        if (s == null) {
            return null;
        }
        KernelText.Parsed b = KernelText.kstrtobool(s);
        return b.ok() ? b.value() == 1 : null;
    }

    /** Linux's next_arg: whitespace separated, double quotes group, "param" or "param=value". */
    private static List<String[]> split(String s) {
        List<String[]> out = new ArrayList<>();
        int i = 0;
        int n = s.length();
        while (i < n) {
            while (i < n && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
            if (i >= n) {
                break;
            }
            StringBuilder tok = new StringBuilder();
            boolean quoted = false;
            while (i < n && (quoted || !Character.isWhitespace(s.charAt(i)))) {
                char ch = s.charAt(i++);
                if (ch == '"') {
                    quoted = !quoted;
                } else {
                    tok.append(ch);
                }
            }
            String t = tok.toString();
            int eq = t.indexOf('=');
            out.add(eq < 0 ? new String[] {t, null} : new String[] {t.substring(0, eq), t.substring(eq + 1)});
        }
        return out;
    }

    /** do_early_param: names compare as parameq does; an error names the parameter as given. */
    private void early(Param p) {
        String name = p.name();
        String value = p.value();
        switch (p.key()) {
            case "iommu" -> {
                if (value != null) {
                    iommuSetup(value);
                }
            }
            case "iommu.strict" -> {
                Boolean b = kstrtobool(value);
                if (b == null) {
                    malformed(name);
                } else {
                    dmaStrict = b;
                }
            }
            case "iommu.passthrough" -> {
                Boolean b = kstrtobool(value);
                if (b == null) {
                    malformed(name);
                } else {
                    defaultType = b ? DomainType.IDENTITY : DomainType.DMA;
                }
            }
            case "iommu.forcedac" -> { // iommu_dma_forcedac_setup
                Boolean b = kstrtobool(value);
                if (b == null) {
                    malformed(name);
                } else {
                    forcedac = b;
                    if (b) {
                        earlyMessages.add("Forcing DAC for PCI devices");
                    }
                }
            }
            case "intremap" -> {
                if (value != null && value.startsWith("off")) {
                    interruptRemappingOff = true;
                }
            }
            case "pcie_acs_override" -> {
                if (value != null) {
                    acsOverride = AcsOverride.parse(value, earlyMessages);
                }
            }
            default -> { }
        }
    }

    /** init/main.c do_early_param: a handler's error prints this. */
    private void malformed(String name) {
        earlyMessages.add("Malformed early option '" + name + "'");
    }

    /** arch/x86/kernel/pci-dma.c iommu_setup: comma separated, prefix matches, several may hit. */
    private void iommuSetup(String value) {
        for (String opt : value.split(",", -1)) {
            if (opt.startsWith("off")) {
                noIommu = true;
            }
            if (opt.startsWith("pt")) {
                defaultType = DomainType.IDENTITY;
            }
            if (opt.startsWith("nopt")) {
                defaultType = DomainType.DMA;
            }
            if (opt.startsWith("forcesac")) {
                earlyMessages.add("forcesac option ignored.");
            }
            if (opt.startsWith("allowdac")) {
                earlyMessages.add("allowdac option ignored.");
            }
            if (opt.startsWith("nodac")) {
                earlyMessages.add("nodac option ignored.");
            }
        }
    }

    /** drivers/iommu/intel/iommu.c intel_iommu_setup (6.1): first matching prefix wins. */
    private void intelIommu(String value) {
        String str = value;
        while (!str.isEmpty()) {
            if (str.startsWith("on")) {
                dmarDisabled = false;
                setupMessages.add("DMAR: IOMMU enabled");
            } else if (str.startsWith("off")) {
                dmarDisabled = true;
                setupMessages.add("DMAR: IOMMU disabled");
            } else if (str.startsWith("igfx_off")) {
                gfxMappingDisabled = true;
                setupMessages.add("DMAR: Disable GFX device mapping");
            } else if (str.startsWith("forcedac")) {
                setupMessages.add("DMAR: intel_iommu=forcedac deprecated; use iommu.forcedac instead");
                forcedac = true;
            } else if (str.startsWith("strict")) {
                setupMessages.add("DMAR: intel_iommu=strict deprecated; use iommu.strict=1 instead");
                strictFromIntelOption = true;
            } else if (str.startsWith("sp_off")) {
                setupMessages.add("DMAR: Disable supported super page");
                superpageDisabled = true;
            } else if (str.startsWith("sm_on")) {
                setupMessages.add("DMAR: Enable scalable mode if hardware supports");
                scalableMode = true;
            } else if (str.startsWith("sm_off")) {
                setupMessages.add("DMAR: Scalable mode is disallowed");
                scalableMode = false;
            } else if (str.startsWith("tboot_noforce")) {
                setupMessages.add("DMAR: Intel-IOMMU: not forcing on after tboot. This could expose security"
                        + " risk for tboot");
            } else {
                setupMessages.add("DMAR: Unknown option - '" + str + "'");
            }
            int comma = str.indexOf(',');
            if (comma < 0) {
                break;
            }
            str = str.substring(comma);
            while (str.startsWith(",")) {
                str = str.substring(1);
            }
        }
    }

    /** The text as given (what "Command line:" prints). */
    public String text() {
        return text;
    }

    public List<String> earlyMessages() {
        return List.copyOf(earlyMessages);
    }

    public List<String> setupMessages() {
        return List.copyOf(setupMessages);
    }

    /** dmar_disabled after the command line. */
    public boolean dmarDisabled(KernelConfig config) {
        return dmarDisabled != null ? dmarDisabled : !config.intelIommuDefaultOn();
    }

    /** intel_iommu=on (true) or off (false), the last one given; empty when neither is. */
    public Optional<Boolean> intelIommuSwitch() {
        return dmarDisabled == null ? Optional.empty() : Optional.of(!dmarDisabled);
    }

    /** intel_iommu_sm after the command line. */
    public boolean scalableModeAllowed(KernelConfig config) {
        return scalableMode != null ? scalableMode : config.scalableModeDefaultOn();
    }

    /** dmar_map_gfx == 0 (intel_iommu=igfx_off): display devices get identity domains. */
    public boolean gfxMappingDisabled() {
        return gfxMappingDisabled;
    }

    public boolean superpageDisabled() {
        return superpageDisabled;
    }

    /** iommu=off (x86 no_iommu). */
    public boolean noIommu() {
        return noIommu;
    }

    /** The default domain type the command line asked for, or null (IOMMU_CMD_LINE_DMA_API unset). */
    public DomainType requestedDefaultType() {
        return defaultType;
    }

    /** iommu.strict= as given, or null (IOMMU_CMD_LINE_STRICT unset). */
    public Boolean requestedStrict() {
        return dmaStrict;
    }

    /** intel_iommu=strict: iommu_set_dma_strict() from the __setup handler. */
    public boolean strictFromIntelOption() {
        return strictFromIntelOption;
    }

    /** intremap=off: the DMAR table is parsed by the IOMMU driver, not earlier by IRQ remapping. */
    public boolean interruptRemappingOff() {
        return interruptRemappingOff;
    }

    /** iommu_dma_forcedac: iommu-dma allocates PCI devices' IOVAs above 4 GiB first. */
    public boolean forcedac() {
        return forcedac;
    }

    public AcsOverride acsOverride() {
        return acsOverride;
    }

    @Override
    public String toString() {
        return text;
    }
}
