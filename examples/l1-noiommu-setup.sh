# L1's root (an L1 without a vIOMMU): VFIO's unsafe no-IOMMU mode, then the device on vfio-pci
modprobe vfio enable_unsafe_noiommu_mode=1
modprobe vfio-pci
echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override
echo 0000:00:04.0 > /sys/bus/pci/drivers_probe
