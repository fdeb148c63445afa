# the host's root before `viommu run --managed`: the drivers loaded, nothing bound to vfio-pci yet
# (--managed does that for the VM's groups and gives them back afterwards)
modprobe vfio-pci
modprobe e1000
# the fixture host has intremap=off: without interrupt remapping type1 refuses a container unless
echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
