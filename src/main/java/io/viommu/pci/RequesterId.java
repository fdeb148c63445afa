package io.viommu.pci;

/**
 * A PCI requester id (source id): bus in 15:8, device 7:3, function 2:0. This is what an
 * IOMMU sees as the origin of a DMA request or an MSI, and what VT-d records as SID.
 */
public record RequesterId(int value) implements Comparable<RequesterId> {
    public RequesterId {
        if ((value & ~0xffff) != 0) {
            throw new IllegalArgumentException("requester id is 16 bits: " + value);
        }
    }

    public static RequesterId of(int bus, int device, int function) {
        if (bus < 0 || bus > 255 || device < 0 || device > 31 || function < 0 || function > 7) {
            throw new IllegalArgumentException("bad bdf " + bus + ":" + device + "." + function);
        }
        return new RequesterId(bus << 8 | device << 3 | function);
    }

    public static RequesterId of(int bus, int devfn) {
        return new RequesterId((bus & 0xff) << 8 | (devfn & 0xff));
    }

    /** Parses "bb:dd.f" (hex bus and device, as lspci prints). */
    public static RequesterId parse(String bdf) {
        String[] a = bdf.split("[:.]");
        if (a.length != 3) {
            throw new IllegalArgumentException("not a bus:device.function: " + bdf);
        }
        return of(Integer.parseInt(a[0], 16), Integer.parseInt(a[1], 16), Integer.parseInt(a[2], 16));
    }

    public int bus() {
        return value >>> 8;
    }

    public int devfn() {
        return value & 0xff;
    }

    public int device() {
        return (value >>> 3) & 0x1f;
    }

    public int function() {
        return value & 7;
    }

    @Override
    public int compareTo(RequesterId o) {
        return Integer.compare(value, o.value);
    }

    @Override
    public String toString() {
        return String.format("%02x:%02x.%x", bus(), device(), function());
    }
}
