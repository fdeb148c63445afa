package io.viommu.linux.iommu;

import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One IOMMU group (struct iommu_group): its id (the sysfs directory number), its devices in the
 * order they were added, and the type of its default domain.
 */
public final class IommuGroup {
    private final int id;
    private final List<RequesterId> devices = new ArrayList<>();
    private DomainType defaultDomain;

    IommuGroup(int id) {
        this.id = id;
    }

    public int id() {
        return id;
    }

    /** Devices in add order (what the group's device list holds). */
    public List<RequesterId> devices() {
        return Collections.unmodifiableList(devices);
    }

    /** Member BDFs as the shell's glob lists {@code iommu_groups/N/devices/*}: sorted. */
    public List<String> memberBdfs() {
        return devices.stream().map(r -> "0000:" + r).sorted().toList();
    }

    /** The default domain's type, or null before one was allocated (or without an IOMMU driver). */
    public DomainType defaultDomain() {
        return defaultDomain;
    }

    public void setDefaultDomain(DomainType type) {
        this.defaultDomain = type;
    }

    void add(RequesterId rid) {
        devices.add(rid);
    }

    boolean remove(RequesterId rid) {
        return devices.remove(rid);
    }

    @Override
    public String toString() {
        return "IommuGroup " + id + " " + devices + (defaultDomain == null ? "" : " " + defaultDomain.sysfsName());
    }
}
