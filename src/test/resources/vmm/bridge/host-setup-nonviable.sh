# only the edu (01:01.0) on vfio-pci; the e1000 (01:02.0) behind the same pcie-pci-bridge stays on e1000
modprobe vfio-pci
modprobe e1000
echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
echo vfio-pci > /sys/bus/pci/devices/0000:01:01.0/driver_override
echo 0000:01:01.0 > /sys/bus/pci/drivers_probe
