package io.viommu.machine.config;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A JSON {@code -device '{"driver":"...", ...}'} (what libvirt 9.0 emits). QEMU 7.2 parses it
 * with qobject_from_json and creates the device through the strict QObject input visitor
 * (softmmu/vl.c device_option_parse, qdev_device_add_from_qdict), so unlike key=value a JSON
 * property has a type: a boolean property takes only true/false, an integer property only a
 * number, a string or enum property only a string. The device catalog takes string values, so
 * a value of the right type is turned into the key=value spelling ({@code true} -> {@code on}).
 * Checked against qemu-system-x86_64 7.2: {@code "caching-mode":1} and {@code "caching-mode":"on"}
 * are refused as not boolean, {@code "aw-bits":"48"} as not uint64, {@code "intremap":true} as
 * not a string, {@code "addr":4} is devfn 4 (slot 0, function 4).
 */
final class JsonDevice {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** Boolean properties of the devices the catalog has (DEFINE_PROP_BOOL / DEFINE_PROP_BIT). */
    private static final Set<String> BOOLEANS = Set.of("caching-mode", "device-iotlb", "x-scalable-mode",
            "x-pasid-mode", "dma-drain", "snoop-control", "x-buggy-eim", "pt", "multifunction",
            "x-no-mmap", "iommu_platform", "ats", "disable-legacy-check");
    /** Integer properties (DEFINE_PROP_UINT8/32/64). */
    private static final Set<String> INTEGERS = Set.of("aw-bits", "rombar", "bootindex", "num_queues",
            "max_ioqueues", "msix_qsize", "x-intx-mmap-timeout-ms");

    /** String and enum properties (OnOffAuto, DEFINE_PROP_STRING, PCI host address, links). */
    private static final Set<String> STRINGS = Set.of("intremap", "eim", "host", "sysfsdev", "bus",
            "romfile", "failover_pair_id", "serial", "drive", "netdev", "mac");

    private JsonDevice() {
    }

    static QemuCommandLine.DeviceOption parse(String opt, String arg) throws MachineConfigException {
        String where = QemuCommandLine.PROGRAM + ": " + opt + " " + arg + ": ";
        JsonNode root;
        try {
            root = MAPPER.readTree(arg);
        } catch (JsonParseException e) {
            // QEMU's JSON parser reports only that the input ended early or a token was bad
            String text = e.getOriginalMessage().contains("end-of-input") ? "JSON parse error, premature EOI"
                    : "JSON parse error, invalid keyword '" + badToken(e) + "'";
            throw new MachineConfigException(where + text);
        } catch (IOException e) {
            throw new MachineConfigException(where + "JSON parse error, premature EOI");
        }
        JsonNode driver = root.get("driver");
        if (driver == null || !driver.isTextual()) {
            throw new MachineConfigException(where + "Parameter 'driver' is missing");
        }
        Map<String, String> props = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String key = e.getKey();
            JsonNode v = e.getValue();
            if (key.equals("driver")) {
                continue;
            }
            if (key.equals("id")) {
                if (v.isTextual()) {
                    props.put(key, v.asText()); // a non-string id is ignored (qdict_get_try_str)
                }
                continue;
            }
            props.put(key, value(where, key, v));
        }
        return new QemuCommandLine.DeviceOption(driver.asText(), props, arg);
    }

    private static String value(String where, String key, JsonNode v) throws MachineConfigException {
        if (key.equals("addr")) {
            // PCI addr accepts an int (devfn) or a string "slot[.fn]" (hw/core/qdev-properties-system.c)
            if (v.isIntegralNumber()) {
                long devfn = v.asLong();
                return String.format("%x.%x", devfn >> 3, devfn & 7);
            }
            if (v.isTextual()) {
                return v.asText();
            }
            throw new MachineConfigException(where + "Invalid parameter type for 'addr', expected int or str");
        }
        if (BOOLEANS.contains(key)) {
            if (!v.isBoolean()) {
                throw new MachineConfigException(where + "Invalid parameter type for '" + key + "', expected: boolean");
            }
            return v.asBoolean() ? "on" : "off";
        }
        if (INTEGERS.contains(key)) {
            if (!v.isIntegralNumber()) {
                throw new MachineConfigException(where + "Parameter '" + key + "' expects uint64");
            }
            return v.asText();
        }
        if (v.isTextual()) {
            return v.asText();
        }
        if (v.isValueNode() && !STRINGS.contains(key) && !v.isNull()) {
            // unknown properties are refused by the catalog; known ones here are strings or enums
            return v.asText();
        }
        throw new MachineConfigException(where + "Invalid parameter type for '" + key + "', expected: string");
    }

    private static String badToken(JsonParseException e) {
        String m = e.getOriginalMessage();
        int a = m.indexOf('\'');
        int b = a < 0 ? -1 : m.indexOf('\'', a + 1);
        return b > a ? m.substring(a + 1, b) : "";
    }
}
