# what the capture's host did before the VMM ran (host-setup.txt is its log)
modprobe vfio-pci
modprobe e1000
echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override
echo 0000:00:04.0 > /sys/bus/pci/drivers_probe
echo vfio-pci > /sys/bus/pci/devices/0000:00:05.0/driver_override
echo 0000:00:05.0 > /sys/bus/pci/drivers_probe
# the VMM as a user would run it: not root (no CAP_IPC_LOCK), RLIMIT_MEMLOCK 64 KiB; the group node opened to it
chmod 666 /dev/vfio/[0-9]*
echo 'user:x:1000:1000::/:/bin/sh' >> /etc/passwd
mkdir -p /usr/lib/real && mv /usr/bin/qemu-system-x86_64 /usr/lib/real/ && printf '#!/bin/sh\nulimit -l 64\nexec su -s /bin/sh user -c "QEMU_MODULE_DIR=/usr/lib/x86_64-linux-gnu/qemu exec /usr/lib/real/qemu-system-x86_64 $*"\n' > /usr/bin/qemu-system-x86_64 && chmod 755 /usr/bin/qemu-system-x86_64
# diagnostics: what the unprivileged user can read
ls -ld / /usr /usr/lib /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/qemu /usr/lib/x86_64-linux-gnu/qemu/* /dev/vfio/*
su -s /bin/sh user -c 'cat /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so > /dev/null && echo module readable; ulimit -l'
