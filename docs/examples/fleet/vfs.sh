# igb creates the 82576 PF's VFs
modprobe igb
echo 2 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs
