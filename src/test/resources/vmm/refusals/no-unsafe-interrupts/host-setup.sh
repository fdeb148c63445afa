# what the capture's host did before the VMM ran (host-setup.txt is its log)
modprobe vfio-pci
modprobe e1000
echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override
echo 0000:00:04.0 > /sys/bus/pci/drivers_probe
echo vfio-pci > /sys/bus/pci/devices/0000:00:05.0/driver_override
echo 0000:00:05.0 > /sys/bus/pci/drivers_probe
