package io.viommu.machine.config;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The properties of one {@code -device} option, consumed by the device's realize code with
 * QEMU 7.2's parsing rules and error texts ({@code Parameter 'x' expects ...},
 * {@code Property 'type.x' not found}); every error carries the option prefix QEMU prints.
 */
final class DeviceProps {
    private final String prefix;
    private final String type;
    private final Map<String, String> props;

    DeviceProps(String prefix, String type, Map<String, String> props) {
        this.prefix = prefix;
        this.type = type;
        this.props = new LinkedHashMap<>(props);
    }

    String prefix() {
        return prefix;
    }

    String type() {
        return type;
    }

    MachineConfigException error(String message) {
        return new MachineConfigException(prefix + message);
    }

    /**
     * Refuses the first property (in command-line order) the device does not have, as QEMU
     * does when it sets them one by one.
     */
    void checkKnown(Set<String> known) throws MachineConfigException {
        for (String k : props.keySet()) {
            if (!known.contains(k)) {
                throw error("Property '" + type + "." + k + "' not found");
            }
        }
    }

    /** Every property as given (without id). */
    Map<String, String> all() {
        return props;
    }

    boolean has(String key) {
        return props.containsKey(key);
    }

    String string(String key, String dflt) {
        return props.getOrDefault(key, dflt);
    }

    /** QEMU bool: on/off/true/false/yes/no. */
    boolean bool(String key, boolean dflt) throws MachineConfigException {
        String v = props.get(key);
        if (v == null) {
            return dflt;
        }
        return switch (v) {
            case "on", "true", "yes" -> true;
            case "off", "false", "no" -> false;
            default -> throw error("Parameter '" + key + "' expects 'on' or 'off'");
        };
    }

    /** QEMU OnOffAuto: null means auto. */
    Boolean onOffAuto(String key) throws MachineConfigException {
        String v = props.get(key);
        if (v == null || v.equals("auto")) {
            return null;
        }
        return switch (v) {
            case "on" -> Boolean.TRUE;
            case "off" -> Boolean.FALSE;
            default -> throw error("Parameter '" + key + "' does not accept value '" + v + "'");
        };
    }

    /** An unsigned integer property of {@code bits} bits ({@code expects uint8_t}, ...). */
    long unsigned(String key, int bits, long dflt) throws MachineConfigException {
        String v = props.get(key);
        if (v == null) {
            return dflt;
        }
        Long n = QemuCommandLine.parseUnsigned(v);
        if (n == null) {
            throw error("Parameter '" + key + "' expects integer");
        }
        if (n < 0 || (bits < 64 && n >= 1L << bits)) {
            throw error("Parameter '" + key + "' expects uint" + bits + "_t");
        }
        return n;
    }
}
