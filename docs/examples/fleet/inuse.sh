# eth0 routed: in use by the host
modprobe e1000
ip link set dev eth0 up
ip addr add 10.0.0.2/24 dev eth0
