#!/bin/sh
# run from the steering repository root (R = this repository); one capture at a time (flock)
# L1 has no vIOMMU: its root's vfio-pci probe of the assigned edu fails, and the innermost VMM is refused
F=shared/fixtures/vmm
R=${R:-viommu}/src/test/resources/vmm
flock /tmp/capture.lock shared/lab/capture --host "$(cat $F/host.args)" --host-setup $F/host-setup.sh \
    --via "-M q35,kernel-irqchip=split -accel tcg -smp 1 -m 512M -device vfio-pci,host=0000:00:04.0,addr=04.0 -append intel_iommu=on" \
    --via-setup $R/nested/via-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device vfio-pci,host=0000:00:04.0" \
    --out ${OUT:-out}/via-noiommu
