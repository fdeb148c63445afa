# the host before any plan: e1000 and igb loaded, eth1 up and routed
modprobe e1000
modprobe igb
ip link set dev eth1 up
ip addr add 10.0.0.2/24 dev eth1
