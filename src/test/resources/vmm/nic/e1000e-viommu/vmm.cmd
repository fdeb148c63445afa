qemu-system-x86_64 -M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device intel-iommu,caching-mode=on -device vfio-pci,host=0000:00:04.0 -qtest stdio -qtest-log none
