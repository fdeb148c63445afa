package io.viommu.fleet;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * The engines' configuration shapes as typed records, serialised by Jackson field by field (no
 * hand-built YAML or JSON). Where each shape comes from:
 * <ul>
 * <li>KubeVirt (v1.8.4): {@code KubeVirt.spec.configuration.permittedHostDevices.pciHostDevices[]}
 *     ({@code pciVendorSelector}, {@code resourceName}, {@code externalResourceProvider}) and
 *     {@code developerConfiguration.featureGates} ("HostDevices", an Alpha gate in
 *     pkg/virt-config/featuregate/active.go); {@code VirtualMachine.spec.template.spec.domain.devices.hostDevices[]}
 *     ({@code name}, {@code deviceName}): the CRDs' openAPIV3Schema in
 *     pkg/virt-operator/resource/generate/components/validations_generated.go, kept as test resources;</li>
 * <li>SR-IOV network device plugin (v3.11.0): {@code resourceList[]} of {@code resourceName},
 *     {@code resourcePrefix}, {@code deviceType}, {@code selectors[]} ({@code vendors}, {@code devices},
 *     {@code drivers}, {@code pciAddresses}, {@code pfNames}, {@code rootDevices}): its README's
 *     "Config parameters" and "Device selectors" tables, pkg/types/types.go;</li>
 * <li>Nova: {@code [pci] device_spec} and {@code alias} values, JSON objects
 *     ({@code vendor_id}, {@code product_id}, {@code address}; {@code name}, {@code device_type}
 *     type-PCI/type-PF/type-VF): nova/conf/pci.py.</li>
 * </ul>
 */
final class EngineModels {
    private EngineModels() {
    }

    // ------------------------------------------------------------------ KubeVirt

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record PciHostDevice(String pciVendorSelector, String resourceName, Boolean externalResourceProvider) {
    }

    record PermittedHostDevices(List<PciHostDevice> pciHostDevices) {
    }

    record DeveloperConfiguration(List<String> featureGates) {
    }

    record KubeVirtConfiguration(DeveloperConfiguration developerConfiguration, PermittedHostDevices permittedHostDevices) {
    }

    record KubeVirtSpec(KubeVirtConfiguration configuration) {
    }

    record HostDevice(String name, String deviceName) {
    }

    record Devices(List<HostDevice> hostDevices) {
    }

    record ResourceRequirements(Map<String, String> requests) {
    }

    record Domain(Devices devices, ResourceRequirements resources) {
    }

    record VmiSpec(Map<String, String> nodeSelector, Domain domain) {
    }

    record VmiTemplate(Map<String, Object> metadata, VmiSpec spec) {
    }

    record VirtualMachineSpec(String runStrategy, VmiTemplate template) {
    }

    // ------------------------------------------------------------------ SR-IOV network device plugin

    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    record DpSelector(List<String> vendors, List<String> devices, List<String> drivers, List<String> pciAddresses,
                      List<String> pfNames, List<String> rootDevices) {
    }

    record DpResource(String resourceName, String resourcePrefix, String deviceType, List<DpSelector> selectors) {
    }

    record DpConfig(List<DpResource> resourceList) {
    }

    // ------------------------------------------------------------------ Nova

    record NovaDeviceSpec(String vendor_id, String product_id, String address) {
    }

    record NovaAlias(String name, String vendor_id, String product_id, String device_type) {
    }
}
