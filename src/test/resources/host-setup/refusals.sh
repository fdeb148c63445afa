# host-setup refusals and state on the fixture host (fixtures/vmm/host.args)
modprobe foo
cat /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
echo 0000:00:07.0 > /sys/bus/pci/drivers/e1000/bind
modprobe e1000
echo 0000:00:07.0 > /sys/bus/pci/drivers/e1000/bind
echo 1 > /sys/bus/pci/devices/0000:00:04.0/sriov_numvfs
echo 1 > /sys/bus/pci/devices/0000:00:04.0/nosuchfile
modprobe vfio-pci
cat /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
ls /sys/module/vfio_iommu_type1/parameters /sys/module/vfio/parameters /sys/module/vfio_pci/parameters
echo 0000:00:04.0 > /sys/bus/pci/drivers/vfio-pci/bind
echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override
echo 0000:00:04.0 > /sys/bus/pci/drivers/vfio-pci/bind
echo 0000:00:04.0 > /sys/bus/pci/drivers/vfio-pci/bind
echo 0000:00:09.0 > /sys/bus/pci/drivers/vfio-pci/bind
cat /sys/bus/pci/devices/0000:00:04.0/driver_override
echo -n 0000:00:06.0 > /sys/bus/pci/drivers_probe
echo 1 > /sys/bus/pci/devices/0000:00:06.0/reset
echo 1 > /sys/bus/pci/devices/0000:00:07.0/reset
echo "8086 100e" > /sys/bus/pci/drivers/vfio-pci/new_id
echo zz > /sys/bus/pci/drivers/vfio-pci/new_id
echo 0000:00:07.0 > /sys/bus/pci/devices/0000:00:07.0/driver/unbind
echo "8086 100e" > /sys/bus/pci/drivers/vfio-pci/remove_id
echo 2 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
echo Y > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
cat /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
rmmod vfio
rmmod nosuch
rmmod e1000
modprobe e1000
ip link
ip link set dev eth0 up
ip link set dev eth9 up
ip addr add 10.0.0.1/24 dev eth0
ip addr add 10.0.0.1/24 dev eth0
ip addr
ip route
mount /dev/nvme0n1 /mnt
frobnicate --now
echo 'a b' "c" > /sys/bus/pci/devices/0000:00:05.1/driver_override
cat /sys/bus/pci/devices/0000:00:05.1/driver_override
ls -l /dev/vfio
