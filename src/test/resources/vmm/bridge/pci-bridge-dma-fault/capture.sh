#!/bin/sh
# run from anywhere; one capture at a time, ~45 s
cd /work
R=wt-h11path/src/test/resources/vmm/bridge
flock /tmp/capture.lock shared/lab/capture --host "$(cat $R/host-pci-bridge.args)" --host-setup $R/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device vfio-pci,host=0000:01:01.0" \
    --qtest $R/dma-fault.qtest --out /tmp/h11path-cap/pci-bridge-dma-fault
