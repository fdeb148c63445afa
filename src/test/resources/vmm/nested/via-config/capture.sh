#!/bin/sh
# run from the steering repository root (R = this repository); one capture at a time (flock)
F=shared/fixtures/vmm
R=${R:-viommu}/src/test/resources/vmm
flock /tmp/capture.lock shared/lab/capture --host "$(cat $F/host.args)" --host-setup $F/host-setup.sh \
    --via "-M q35,kernel-irqchip=split -accel tcg -smp 1 -m 512M -device intel-iommu,intremap=off,caching-mode=on -device vfio-pci,host=0000:00:04.0,addr=04.0 -append intel_iommu=on" \
    --via-setup $R/nested/via-setup.sh \
    --vmm "$(cut -d' ' -f2- $F/a-config.cmd)" --qtest $F/a-config.qtest --out ${OUT:-out}/via-config
