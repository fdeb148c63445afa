package io.viommu.vtd;

import java.util.Map;

/**
 * The options of one VT-d unit, named as QEMU 7.2's {@code -device intel-iommu} properties, plus
 * viommu's extensions (off by default so that the defaults read the same as QEMU 7.2).
 *
 * <p>QEMU properties (hw/i386/intel_iommu.c vtd_properties plus the x86-iommu parent's):
 * intremap (OnOffAuto; auto = on because this model is TCG/qtest-like, no in-kernel irqchip),
 * eim (OnOffAuto; auto = off unless x-buggy-eim), x-buggy-eim, caching-mode, device-iotlb, pt,
 * aw-bits (39 or 48), x-scalable-mode, x-pasid-mode, snoop-control, dma-drain, dma-translation,
 * version (accepted, no effect, as in QEMU).
 *
 * <p>Extensions (not in QEMU):
 * <ul>
 * <li>{@code aw-bits=57}: 5-level second-level tables (SAGAW bit 3). QEMU refuses 57 with
 *     "Supported values for aw-bits are: 39, 48"; viommu lifts that limit.</li>
 * <li>{@code fault-records=N} (1..222, default 1 like QEMU): NFR+1 fault recording registers at
 *     FRO = 0x220, so the register block grows to 0x220 + 16*N (it must fit the 4 KiB page).</li>
 * <li>{@code iotlb-entries=N} (default 1024 like QEMU's VTD_IOTLB_MAX_SIZE): IOTLB capacity;
 *     viommu evicts least-recently-used entries where QEMU flushes the whole IOTLB.</li>
 * <li>{@code x-flts=on} (needs x-scalable-mode): first-level translation (PASID entries with
 *     PGTT 001b, 4- and 5-level), advertised as ECAP.FLTS (47), CAP.FL1GP (56) and CAP.FL5LP
 *     (60). QEMU 7.2 has no first-level support (it walks such entries' second-level table).</li>
 * <li>{@code x-nest=on} (needs x-flts): nested translation (PGTT 011b), advertised as
 *     ECAP.NEST (26).</li>
 * <li>{@code x-sm-spec-faults=on}: scalable-mode faults recorded with the specification's
 *     codes (0x38-0x87) and PP/PV only for requests with a PASID prefix, instead of the legacy
 *     codes and 0x58 that QEMU 7.2 records (see {@link ScalableFault}).</li>
 * </ul>
 */
public record VtdConfig(boolean intremap, boolean eim, boolean cachingMode, boolean deviceIotlb,
                        boolean pt, int awBits, boolean scalableMode, boolean pasidMode,
                        boolean snoopControl, boolean dmaDrain, boolean dmaTranslation,
                        int faultRecords, int iotlbEntries, boolean firstLevel, boolean nested,
                        boolean smSpecFaults) {

    /** Fault recording registers start here (CAP.FRO * 16), as in QEMU. */
    public static final int FRCD_OFFSET = 0x220;
    /** Most fault recording registers that fit between FRO and the end of the 4 KiB page. */
    public static final int MAX_FAULT_RECORDS = (0x1000 - FRCD_OFFSET) / 16;
    public static final int MAX_IOTLB_ENTRIES = 1 << 20;

    public VtdConfig {
        if (awBits != 39 && awBits != 48 && awBits != 57) {
            throw new IllegalArgumentException("aw-bits must be 39, 48 or 57: " + awBits);
        }
        if (faultRecords < 1 || faultRecords > MAX_FAULT_RECORDS) {
            throw new IllegalArgumentException("fault-records must be in 1.." + MAX_FAULT_RECORDS);
        }
        if (iotlbEntries < 1 || iotlbEntries > MAX_IOTLB_ENTRIES) {
            throw new IllegalArgumentException("iotlb-entries must be in 1.." + MAX_IOTLB_ENTRIES);
        }
    }

    /** The form without the scalable-mode extensions (all off). */
    public VtdConfig(boolean intremap, boolean eim, boolean cachingMode, boolean deviceIotlb,
                     boolean pt, int awBits, boolean scalableMode, boolean pasidMode,
                     boolean snoopControl, boolean dmaDrain, boolean dmaTranslation,
                     int faultRecords, int iotlbEntries) {
        this(intremap, eim, cachingMode, deviceIotlb, pt, awBits, scalableMode, pasidMode, snoopControl,
                dmaDrain, dmaTranslation, faultRecords, iotlbEntries, false, false, false);
    }

    /** The 12-component form of the earlier placeholder (dma-translation on). */
    public VtdConfig(boolean intremap, boolean eim, boolean cachingMode, boolean deviceIotlb,
                     boolean pt, int awBits, boolean scalableMode, boolean pasidMode,
                     boolean snoopControl, boolean dmaDrain, int faultRecords, int iotlbEntries) {
        this(intremap, eim, cachingMode, deviceIotlb, pt, awBits, scalableMode, pasidMode,
                snoopControl, dmaDrain, true, faultRecords, iotlbEntries);
    }

    /** {@code -device intel-iommu} with no options on a q35 TCG/qtest machine. */
    public static VtdConfig defaults() {
        return new VtdConfig(true, false, false, false, true, 39, false, false, false, true, true, 1, 1024);
    }

    // ---- CAP / ECAP composition (QEMU 7.2 vtd_init; bit layout in CapReg and EcapReg) ----

    /** CAP.ND = 6: 16-bit domain ids (2^(4+2*6) domains). */
    static final long ND_16_BIT = 6;
    /** Maximum address mask value for page-selective invalidation (QEMU VTD_MAMV). */
    static final int MAMV = 18;

    /** The Capability register as QEMU 7.2 composes it (vtd_init), plus NFR for fault-records. */
    public long cap() {
        long cap = CapReg.fro(FRCD_OFFSET) | CapReg.nfr(faultRecords) | ND_16_BIT | CapReg.mamvField(MAMV)
                | CapReg.PSI | CapReg.SLLPS_2M | CapReg.SLLPS_1G | CapReg.mgawField(awBits);
        if (dmaDrain) {
            cap |= CapReg.DRD | CapReg.DWD;
        }
        if (dmaTranslation) {
            cap |= CapReg.SAGAW_39;
            if (awBits >= 48) {
                cap |= CapReg.SAGAW_48;
            }
            if (awBits >= 57) {
                cap |= CapReg.SAGAW_57;
            }
        }
        if (cachingMode) {
            cap |= CapReg.CM;
        }
        if (firstLevel) {
            cap |= CapReg.FL1GP | CapReg.FL5LP; // extension: 1 GiB pages and 5-level first-level tables
        }
        return cap;
    }

    /** The Extended Capability register as QEMU 7.2 composes it (vtd_init). */
    public long ecap() {
        long ecap = EcapReg.QI | EcapReg.iro(VtdRegisters.IVA);
        if (intremap) {
            ecap |= EcapReg.IR | EcapReg.MHMV_MASK;
            if (eim) {
                ecap |= EcapReg.EIM;
            }
        }
        if (deviceIotlb) {
            ecap |= EcapReg.DT;
        }
        if (pt) {
            ecap |= EcapReg.PT;
        }
        if (scalableMode) {
            ecap |= EcapReg.SMTS | EcapReg.SRS | EcapReg.SLTS;
        }
        if (snoopControl) {
            ecap |= EcapReg.SC;
        }
        if (pasidMode) {
            ecap |= EcapReg.PASID;
        }
        if (firstLevel) {
            ecap |= EcapReg.FLTS; // extension (not in QEMU 7.2)
        }
        if (nested) {
            ecap |= EcapReg.NEST; // extension (not in QEMU 7.2)
        }
        return ecap;
    }

    /** Size of the register block: up to the end of the last fault recording register. */
    public int registerBlockSize() {
        return FRCD_OFFSET + 16 * faultRecords;
    }

    // ---- QEMU property syntax ----

    /**
     * Builds a config from QEMU property syntax ({@code caching-mode=on}); throws
     * IllegalArgumentException carrying QEMU 7.2's message text for bad values or combinations
     * (verified against qemu-system-x86_64 7.2). Properties are applied in the map's iteration
     * order, so the first bad one is reported, as QEMU does. The machine is taken to be TCG/qtest:
     * intremap=auto means on, eim=auto means off, and eim=on (without x-buggy-eim) fails as QEMU
     * fails it without KVM.
     */
    public static VtdConfig fromQemuProperties(Map<String, String> props) {
        String intremap = "auto";
        String eim = "auto";
        boolean buggyEim = false;
        boolean cachingMode = false;
        boolean deviceIotlb = false;
        boolean pt = true;
        int awBits = 39;
        boolean scalable = false;
        boolean pasid = false;
        boolean snoop = false;
        boolean dmaDrain = true;
        boolean dmaTranslation = true;
        int faultRecords = 1;
        int iotlbEntries = 1024;
        boolean flts = false;
        boolean nest = false;
        boolean smSpecFaults = false;
        for (Map.Entry<String, String> e : props.entrySet()) {
            String k = e.getKey();
            String v = e.getValue() == null ? "" : e.getValue();
            switch (k) {
                case "intremap" -> intremap = parseOnOffAuto(k, v);
                case "eim" -> eim = parseOnOffAuto(k, v);
                case "x-buggy-eim" -> buggyEim = parseBool(k, v);
                case "caching-mode" -> cachingMode = parseBool(k, v);
                case "device-iotlb" -> deviceIotlb = parseBool(k, v);
                case "pt" -> pt = parseBool(k, v);
                case "aw-bits" -> awBits = (int) parseUnsigned(k, v, 0xff, "uint8_t");
                case "x-scalable-mode" -> scalable = parseBool(k, v);
                case "x-pasid-mode" -> pasid = parseBool(k, v);
                case "snoop-control" -> snoop = parseBool(k, v);
                case "dma-drain" -> dmaDrain = parseBool(k, v);
                case "dma-translation" -> dmaTranslation = parseBool(k, v);
                case "version" -> parseUnsigned(k, v, 0xffffffffL, "uint32_t");
                case "fault-records" -> faultRecords = (int) parseUnsigned(k, v, 0xffffffffL, "uint32_t");
                case "iotlb-entries" -> iotlbEntries = (int) parseUnsigned(k, v, 0xffffffffL, "uint32_t");
                case "x-flts" -> flts = parseBool(k, v);
                case "x-nest" -> nest = parseBool(k, v);
                case "x-sm-spec-faults" -> smSpecFaults = parseBool(k, v);
                default -> throw new IllegalArgumentException("Property 'intel-iommu." + k + "' not found");
            }
        }
        // vtd_realize, then vtd_decide_config, in QEMU's order.
        if (pasid && deviceIotlb) {
            throw new IllegalArgumentException("PASID based device IOTLB is not supported");
        }
        boolean ir = !intremap.equals("off");
        if (eim.equals("on") && !ir) {
            throw new IllegalArgumentException("eim=on cannot be selected without intremap=on");
        }
        boolean eimOn = eim.equals("auto") ? (buggyEim && ir) : eim.equals("on");
        if (eimOn && !buggyEim) {
            throw new IllegalArgumentException("eim=on requires accel=kvm,kernel-irqchip=split");
        }
        if (awBits != 39 && awBits != 48 && awBits != 57) {
            // 57 is viommu's extension (5-level tables); the message is QEMU's.
            throw new IllegalArgumentException("Supported values for aw-bits are: 39, 48");
        }
        if (scalable && !dmaDrain) {
            throw new IllegalArgumentException("Need to set dma_drain for scalable mode");
        }
        if (pasid && !scalable) {
            throw new IllegalArgumentException("Need to set scalable mode for PASID");
        }
        if (faultRecords < 1 || faultRecords > MAX_FAULT_RECORDS) {
            throw new IllegalArgumentException("fault-records must be between 1 and " + MAX_FAULT_RECORDS
                    + " (the fault recording registers must fit the 4 KiB register page)");
        }
        if (iotlbEntries < 1 || iotlbEntries > MAX_IOTLB_ENTRIES) {
            throw new IllegalArgumentException("iotlb-entries must be between 1 and " + MAX_IOTLB_ENTRIES);
        }
        if (flts && !scalable) {
            throw new IllegalArgumentException("x-flts (first-level translation) needs x-scalable-mode=on");
        }
        if (nest && !flts) {
            throw new IllegalArgumentException("x-nest (nested translation) needs x-flts=on");
        }
        return new VtdConfig(ir, eimOn, cachingMode, deviceIotlb, pt, awBits, scalable, pasid, snoop,
                dmaDrain, dmaTranslation, faultRecords, iotlbEntries, flts, nest, smSpecFaults);
    }

    /** QEMU's qapi bool parser: on/yes/true/y and off/no/false/n, case-sensitive. */
    private static boolean parseBool(String name, String v) {
        return switch (v) {
            case "on", "yes", "true", "y" -> true;
            case "off", "no", "false", "n" -> false;
            default -> throw new IllegalArgumentException("Parameter '" + name + "' expects 'on' or 'off'");
        };
    }

    private static String parseOnOffAuto(String name, String v) {
        return switch (v) {
            case "on", "off", "auto" -> v;
            default -> throw new IllegalArgumentException(
                    "Parameter '" + name + "' does not accept value '" + v + "'");
        };
    }

    /**
     * QEMU's integer property parser (qemu_strtou64 with base 0): "0x" hex, a leading 0 octal,
     * otherwise decimal; a negative or too large value "expects uint8_t" (or the width given).
     */
    private static long parseUnsigned(String name, String v, long max, String typeName) {
        String s = v;
        boolean negative = s.startsWith("-");
        if (negative) {
            s = s.substring(1);
        }
        long value;
        try {
            if (s.startsWith("0x") || s.startsWith("0X")) {
                value = Long.parseUnsignedLong(s.substring(2), 16);
            } else if (s.length() > 1 && s.startsWith("0")) {
                value = Long.parseUnsignedLong(s.substring(1), 8);
            } else {
                value = Long.parseUnsignedLong(s, 10);
            }
        } catch (NumberFormatException ex) {
            throw new IllegalArgumentException("Parameter '" + name + "' expects integer");
        }
        if (s.isEmpty() || s.startsWith("+")) {
            throw new IllegalArgumentException("Parameter '" + name + "' expects integer");
        }
        if ((negative && value != 0) || Long.compareUnsigned(value, max) > 0) {
            throw new IllegalArgumentException("Parameter '" + name + "' expects " + typeName);
        }
        return value;
    }
}
