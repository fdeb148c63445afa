# the intermediate VM (L1) root loads vfio-pci but leaves its 00:04.0 unbound (no driver_override)
modprobe vfio-pci
echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
