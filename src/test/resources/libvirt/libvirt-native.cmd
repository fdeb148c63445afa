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
# libvirt-native-4.out (net-bridge.xml started for real: a bridge br0 created for the run, then removed):
ip link add br0 type bridge && ip link set br0 up
flock /tmp/libvirt.lock /work/shared/lab/libvirt-native --start net-bridge.xml > ../libvirt-native-4.out 2>&1
ip link del br0
# libvirt-native-5.out (net-network-up.xml: type='network' on a transient network 'viommu-br' in bridge mode over br0;
# the lab's own 'default' network is defined but inactive and was left alone; all under the flock, libvirtd running):
ip link add br0 type bridge && ip link set br0 up
echo "<network><name>viommu-br</name><forward mode='bridge'/><bridge name='br0'/></network>" > viommu-br-net.xml
virsh -q -c qemu:///system net-create viommu-br-net.xml
flock /tmp/libvirt.lock /work/shared/lab/libvirt-native --start net-network-up.xml > ../libvirt-native-5.out 2>&1
virsh -q -c qemu:///system net-destroy viommu-br; ip link del br0
# libvirt-native-6.out (refusals of a missing source, and user+network+bridge in one kvm domain):
flock /tmp/libvirt.lock /work/shared/lab/libvirt-native err-net-no-source.xml err-bridge-no-source.xml net-mixed.xml > ../libvirt-native-6.out 2>&1
flock /tmp/libvirt.lock /work/shared/lab/libvirt-native err-net-source-empty.xml err-bridge-source-empty.xml >> ../libvirt-native-6.out 2>&1
# The same net-network.xml gave fd 28 (libvirt-native-3.out) and fd 25 (a later run): tap descriptor numbers are libvirtd's.
# libvirt-native-7.out (a type='network' virtio NIC and disk with iommu/ats behind an intel IOMMU; run by RunCommandTest):
flock /tmp/libvirt.lock /work/shared/lab/libvirt-native net-network-viommu.xml > ../libvirt-native-7.out 2>&1
