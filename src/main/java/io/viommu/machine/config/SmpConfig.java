package io.viommu.machine.config;

import io.viommu.machine.SmpTopology;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code -smp} option, computed as QEMU 7.2's {@code machine_parse_smp_config}
 * (hw/core/machine-smp.c) does for a q35 machine: dies supported, no clusters, cores preferred
 * over sockets for a missing value (machine types 6.2 and later; older ones prefer sockets),
 * at most {@link SmpTopology#Q35_MAX_CPUS} CPUs.
 */
final class SmpConfig {
    private SmpConfig() {
    }

    /**
     * Parses an {@code -smp} argument ({@code [cpus=]n,maxcpus=,sockets=,dies=,cores=,threads=}).
     * Errors carry QEMU's text (checked against 7.2), without the program prefix.
     */
    static SmpTopology parse(String arg, String machineName, boolean preferSockets) throws MachineConfigException {
        Map<String, Long> v = new LinkedHashMap<>();
        String[] parts = arg.split(",", -1);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            int eq = p.indexOf('=');
            String key = eq < 0 ? (i == 0 ? "cpus" : p) : p.substring(0, eq);
            String val = eq < 0 ? (i == 0 ? p : "on") : p.substring(eq + 1);
            if (!Map.of("cpus", 1, "maxcpus", 1, "sockets", 1, "dies", 1, "cores", 1, "threads", 1).containsKey(key)) {
                throw new MachineConfigException("Invalid parameter '" + key + "'");
            }
            Long n = QemuCommandLine.parseUnsigned(val);
            if (n == null || n < 0 || n > 0xffffffffL) {
                throw new MachineConfigException("Parameter 'smp." + key + "' expects integer");
            }
            v.put(key, n);
        }
        // A 0 is deprecated and means "not given" (QEMU only warns).
        long cpus = v.getOrDefault("cpus", 0L);
        long sockets = v.getOrDefault("sockets", 0L);
        long dies = Math.max(1, v.getOrDefault("dies", 0L));
        long cores = v.getOrDefault("cores", 0L);
        long threads = v.getOrDefault("threads", 0L);
        long maxcpus = v.getOrDefault("maxcpus", 0L);
        if (cpus == 0 && maxcpus == 0) {
            sockets = sockets > 0 ? sockets : 1;
            cores = cores > 0 ? cores : 1;
            threads = threads > 0 ? threads : 1;
        } else {
            maxcpus = maxcpus > 0 ? maxcpus : cpus;
            if (preferSockets) {
                if (sockets == 0) {
                    cores = cores > 0 ? cores : 1;
                    threads = threads > 0 ? threads : 1;
                    sockets = maxcpus / (dies * cores * threads);
                } else if (cores == 0) {
                    threads = threads > 0 ? threads : 1;
                    cores = maxcpus / (dies * sockets * threads);
                }
            } else {
                if (cores == 0) {
                    sockets = sockets > 0 ? sockets : 1;
                    threads = threads > 0 ? threads : 1;
                    cores = maxcpus / (sockets * dies * threads);
                } else if (sockets == 0) {
                    threads = threads > 0 ? threads : 1;
                    sockets = maxcpus / (dies * cores * threads);
                }
            }
            if (threads == 0) {
                long d = sockets * dies * cores;
                threads = d == 0 ? 0 : maxcpus / d;
            }
        }
        long product = sockets * dies * cores * threads;
        maxcpus = maxcpus > 0 ? maxcpus : product;
        cpus = cpus > 0 ? cpus : maxcpus;
        String hierarchy = String.format("sockets (%d) * dies (%d) * cores (%d) * threads (%d)", sockets, dies,
                cores, threads);
        if (product != maxcpus) {
            throw new MachineConfigException("Invalid CPU topology: product of the hierarchy must match maxcpus: "
                    + hierarchy + " != maxcpus (" + maxcpus + ")");
        }
        if (maxcpus < cpus) {
            throw new MachineConfigException("Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                    + hierarchy + " == maxcpus (" + maxcpus + ") < smp_cpus (" + cpus + ")");
        }
        if (maxcpus > SmpTopology.Q35_MAX_CPUS) {
            throw new MachineConfigException("Invalid SMP CPUs " + maxcpus + ". The max CPUs supported by machine '"
                    + machineName + "' is " + SmpTopology.Q35_MAX_CPUS);
        }
        return new SmpTopology((int) cpus, (int) maxcpus, (int) sockets, (int) dies, (int) cores, (int) threads);
    }
}
