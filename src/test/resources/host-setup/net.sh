# ip, mount and shell-syntax cases on the fixture host (fixtures/vmm/host.args)
modprobe e1000
ip addr add 10.0.0.2/24 dev eth9
ip link set dev eth0 down
ip addr add 192.168.1.5 dev eth0
ip route
ip link set dev eth0 up
ip route
ip addr add 10.1.0.1/16 dev eth1
ip link set eth1 up
ip route
ip link set dev eth0 bogus
mount /dev/sda /mnt
echo -n > /sys/bus/pci/drivers_probe
echo 0000:00:05.1 > /sys/bus/pci/drivers/e1000/unbind
echo 0000:00:05.1 > /sys/bus/pci/drivers/e1000/unbind
cat /sys/bus/pci/drivers/e1000/bind
echo x > /sys/bus/pci/devices
cat /sys/bus/pci/devices/0000:00:04.0/vendor /sys/bus/pci/devices/0000:00:04.0/device
cat /sys/bus/pci/devices/0000:00:04.0/nosuch
echo vfio-pci>/sys/bus/pci/devices/0000:00:04.0/driver_override
echo "vfio-pci" > "/sys/bus/pci/devices/0000:00:06.0/driver_override" # trailing comment
rmmod e1000
ip link set dev eth1 up
