# texts the first two captures did not cover, on the fixture host (fixtures/vmm/host.args)
modprobe e1000
ip addr add foo dev eth0
ip link set up
ip
cat /sys/bus/pci/devices
echo >
echo "unterminated
ls /sys/nonexistent
modprobe vfio-pci
rmmod vfio-pci
echo -e 'a\tb'
echo 0000:00:05.1 >> /sys/bus/pci/drivers/e1000/unbind
echo 1 > /sys/bus/pci/devices/0000:00:05.1
cat /proc/cmdline
