package io.viommu.host;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A PCI function's address as sysfs names it: {@code DDDD:BB:DD.F} (segment, bus, device, function). */
public record PciAddress(int segment, int bus, int device, int function) implements Comparable<PciAddress> {
    private static final Pattern BDF = Pattern.compile("([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\\.([0-7])");

    public PciAddress {
        if (segment < 0 || segment > 0xffff || bus < 0 || bus > 0xff || device < 0 || device > 0x1f
                || function < 0 || function > 7) {
            throw new IllegalArgumentException("not a PCI address: " + segment + ":" + bus + ":" + device + "." + function);
        }
    }

    /** Parses exactly {@code DDDD:BB:DD.F}; empty for anything else (sysfs directories also hold non-PCI names). */
    public static Optional<PciAddress> parse(String s) {
        Matcher m = BDF.matcher(s);
        if (!m.matches()) {
            return Optional.empty();
        }
        int dev = Integer.parseInt(m.group(3), 16);
        if (dev > 0x1f) {
            return Optional.empty();
        }
        return Optional.of(new PciAddress(Integer.parseInt(m.group(1), 16), Integer.parseInt(m.group(2), 16),
                dev, Integer.parseInt(m.group(4))));
    }

    /** The 16-bit requester id (bus << 8 | devfn) this function's DMA carries on the wire. */
    public int requesterId() {
        return bus << 8 | device << 3 | function;
    }

    /** Same slot (device number) on the same bus: functions of one multifunction device. */
    public boolean sameSlot(PciAddress o) {
        return segment == o.segment && bus == o.bus && device == o.device;
    }

    @Override
    public int compareTo(PciAddress o) {
        return Long.compare((long) segment << 16 | requesterId(), (long) o.segment << 16 | o.requesterId());
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%x", segment, bus, device, function);
    }
}
