# run from src/test/resources/libvirt/cases on the lab machine (Debian 12, libvirt 9.0.0, QEMU 7.2), as root;
# the disk images the XML name were created first (the real start of a domain with a disk opens it):
#   truncate -s 1M /var/lib/libvirt/images/viommu-test.img /var/lib/libvirt/images/viommu-b.img
flock /tmp/libvirt.lock /work/shared/lab/libvirt-native --start *.xml > ../libvirt-native.out 2>&1
# libvirt-native-missing-file.out (a path that does not exist):
flock /tmp/libvirt.lock /work/shared/lab/libvirt-native /nonexistent/dom.xml
# libvirt-native-2.out (two cases added afterwards: iotlb without intremap is accepted; caching_mode on smmuv3 is refused):
flock /tmp/libvirt.lock /work/shared/lab/libvirt-native --start iotlb-alone.xml err-smmuv3-cm.xml > ../libvirt-native-2.out 2>&1
# libvirt-native-3.out (interface type='network' and type='bridge'; the lab has no active 'default' network and no br0,
# so each real start fails with libvirt's error; domxml-to-native turns each interface into a tap with an fd):
flock /tmp/libvirt.lock /work/shared/lab/libvirt-native --start net-network.xml net-bridge.xml > ../libvirt-native-3.out 2>&1
