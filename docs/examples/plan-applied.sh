# the host as `host apply 00:05.0 --yes` left it: the setup, then the plan's own commands
modprobe e1000
modprobe igb
ip link set dev eth1 up
ip addr add 10.0.0.2/24 dev eth1
modprobe vfio-pci
echo 0000:00:05.1 > /sys/bus/pci/devices/0000:00:05.1/driver/unbind
echo vfio-pci > /sys/bus/pci/devices/0000:00:05.1/driver_override
echo 0000:00:05.1 > /sys/bus/pci/drivers_probe
echo vfio-pci > /sys/bus/pci/devices/0000:00:05.0/driver_override
echo 0000:00:05.0 > /sys/bus/pci/drivers_probe
