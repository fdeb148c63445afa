package io.viommu.vtd;

import java.util.Arrays;

/**
 * Everything a VT-d unit holds besides its caches (which are rebuilt on demand and emptied on
 * restore), as a plain value: the raw register block (one long per 8 bytes, little-endian) and
 * the values QEMU latches out of registers (vtd_vmstate): the root-table pointer set by SRTP,
 * the invalidation queue set up by QIE, the interrupt-remapping table set by SIRTP.
 */
public record VtdState(long[] registers, long rootTable, boolean rootScalable,
                       TranslationState translation, QueueState queue, boolean interruptRemapping,
                       long iqBase, int iqHead, int iqTail, int iqSize, boolean iqDescriptor256,
                       int iqLastDescriptorType, int nextFaultRecord,
                       long irtBase, int irtSize, boolean irtExtendedInterruptMode) {

    public VtdState {
        registers = registers.clone();
    }

    @Override
    public long[] registers() {
        return registers.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VtdState s && Arrays.equals(registers, s.registers) && rootTable == s.rootTable
                && rootScalable == s.rootScalable && translation == s.translation && queue == s.queue
                && interruptRemapping == s.interruptRemapping && iqBase == s.iqBase && iqHead == s.iqHead
                && iqTail == s.iqTail && iqSize == s.iqSize && iqDescriptor256 == s.iqDescriptor256
                && iqLastDescriptorType == s.iqLastDescriptorType && nextFaultRecord == s.nextFaultRecord
                && irtBase == s.irtBase && irtSize == s.irtSize
                && irtExtendedInterruptMode == s.irtExtendedInterruptMode;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(registers) * 31 + Long.hashCode(rootTable) + iqHead + 7 * iqTail;
    }

    @Override
    public String toString() {
        return String.format("VtdState[root=0x%x scalable=%b %s %s IR=%b iq=0x%x head=%d tail=%d size=%d dw=%b "
                        + "last=%d nextFrcd=%d irt=0x%x/%d eime=%b regs=%d quads]", rootTable, rootScalable,
                translation, queue, interruptRemapping, iqBase, iqHead, iqTail, iqSize, iqDescriptor256,
                iqLastDescriptorType, nextFaultRecord, irtBase, irtSize, irtExtendedInterruptMode,
                registers.length);
    }
}
