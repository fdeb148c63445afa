package io.viommu.pci;

/**
 * Where a message-signalled interrupt goes: a DWORD write of {@code data} to {@code address}
 * (0xFEEx_xxxx for the local APICs) on behalf of {@code source}. The machine routes it, through
 * interrupt remapping when that is enabled.
 */
public interface MsiSink {
    void deliver(long address, int data, RequesterId source);
}
