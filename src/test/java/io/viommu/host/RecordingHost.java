package io.viommu.host;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** A model host whose every effect through the seam is also recorded, as "op path value", for tests. */
final class RecordingHost implements HostSysfs {
    final ModelHost host;
    final List<String> effects = new ArrayList<>();
    /** Called with each effect before it reaches the host (tests look at the journal then). */
    java.util.function.Consumer<String> beforeEffect = e -> { };

    RecordingHost(ModelHost host) {
        this.host = host;
    }

    static RecordingHost boot(String args, String... setup) {
        ModelHost.Boot b = ModelHost.boot(args, List.of(setup));
        if (b.host() == null) {
            throw new IllegalStateException(b.error() + "\n" + b.setupOutput());
        }
        return new RecordingHost(b.host());
    }

    @Override
    public Outcome write(Path path, String value) {
        effects.add(("write " + path + " " + value.strip()).strip());
        beforeEffect.accept(effects.get(effects.size() - 1));
        return host.write(path, value);
    }

    @Override
    public Outcome modprobe(String module) {
        effects.add("modprobe " + module);
        beforeEffect.accept(effects.get(effects.size() - 1));
        return host.modprobe(module);
    }

    @Override
    public Outcome rmmod(String module) {
        effects.add("rmmod " + module);
        beforeEffect.accept(effects.get(effects.size() - 1));
        return host.rmmod(module);
    }

    @Override
    public Outcome setLink(String ifname, boolean up) {
        effects.add("link " + ifname + " " + (up ? "up" : "down"));
        beforeEffect.accept(effects.get(effects.size() - 1));
        return host.setLink(ifname, up);
    }

    @Override
    public Outcome addAddress(String ifname, String cidr) {
        effects.add("addr " + ifname + " " + cidr);
        beforeEffect.accept(effects.get(effects.size() - 1));
        return host.addAddress(ifname, cidr);
    }

    @Override
    public List<String> addresses(String ifname) {
        return host.addresses(ifname);
    }

    @Override
    public long writes() {
        return host.writes();
    }

    @Override
    public Optional<String> writeRefusal() {
        return host.writeRefusal();
    }

    @Override
    public Optional<byte[]> readBytes(Path path) {
        return host.readBytes(path);
    }

    @Override
    public List<String> list(Path path) {
        return host.list(path);
    }

    @Override
    public Optional<Path> readlink(Path path) {
        return host.readlink(path);
    }

    @Override
    public boolean exists(Path path) {
        return host.exists(path);
    }

    @Override
    public Optional<Path> realPath(Path path) {
        return host.realPath(path);
    }

    @Override
    public String describe() {
        return host.describe();
    }
}
