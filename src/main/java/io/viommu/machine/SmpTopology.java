package io.viommu.machine;

/**
 * The vCPU topology: CPUs, possible CPUs, sockets, dies, cores and threads (QEMU's
 * {@code CpuTopology}; parsed from {@code -smp} by {@code io.viommu.machine.config}). The APIC ids follow {@code x86_apicid_from_cpu_idx}: thread, core, die and
 * package fields, each as wide as its count needs, so gaps appear for counts that are not
 * powers of two and {@link #apicIdLimit()} can pass 255 with fewer than 256 CPUs.
 */
public record SmpTopology(int cpus, int maxCpus, int sockets, int dies, int cores, int threads) {
    /** {@code max_cpus} of pc-q35-7.2. */
    public static final int Q35_MAX_CPUS = 288;
    public static final SmpTopology SINGLE = new SmpTopology(1, 1, 1, 1, 1, 1);

    /** apicid_bitwidth_for_count. */
    static int bitWidth(int count) {
        return count > 1 ? 32 - Integer.numberOfLeadingZeros(count - 1) : 0;
    }

    /** x86_apicid_from_cpu_idx. */
    public int apicId(int cpuIndex) {
        int threadWidth = bitWidth(threads);
        int coreWidth = bitWidth(cores);
        int dieWidth = bitWidth(dies);
        int thread = cpuIndex % threads;
        int core = cpuIndex / threads % cores;
        int die = cpuIndex / (threads * cores) % dies;
        int pkg = cpuIndex / (threads * cores * dies);
        return (pkg << (dieWidth + coreWidth + threadWidth)) | (die << (coreWidth + threadWidth))
                | (core << threadWidth) | thread;
    }

    /** x86ms->apic_id_limit: one past the APIC id of the last possible CPU. */
    public int apicIdLimit() {
        return apicId(maxCpus - 1) + 1;
    }
}
