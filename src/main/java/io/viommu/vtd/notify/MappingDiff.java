package io.viommu.vtd.notify;

import io.viommu.memory.PhysAddr;
import java.util.ArrayList;
import java.util.List;

/**
 * The events that turn one set of runs into another over the same region: MAP where only the
 * new set maps, UNMAP where only the old one does, REPLACE where both map but differently,
 * nothing where they agree. Adjacent pieces of the same kind that stay contiguous merge, so
 * the count is at most the number of old plus new runs, whatever the number of pages.
 */
final class MappingDiff {
    private MappingDiff() {
    }

    /**
     * @param old runs before, sorted, disjoint, inside the region (IOVAs below 2^63)
     * @param now runs after, same constraints
     */
    static List<IommuEvent> diff(List<Mapping> old, List<Mapping> now, InvalidationCause cause) {
        List<IommuEvent> out = new ArrayList<>();
        int i = 0;
        int j = 0;
        long pos = Long.MIN_VALUE;
        while (i < old.size() || j < now.size()) {
            Mapping o = i < old.size() ? old.get(i) : null;
            Mapping n = j < now.size() ? now.get(j) : null;
            long oStart = o == null ? Long.MAX_VALUE : Math.max(o.range().first(), pos);
            long nStart = n == null ? Long.MAX_VALUE : Math.max(n.range().first(), pos);
            long start = Math.min(oStart, nStart);
            boolean inOld = o != null && oStart == start;
            boolean inNew = n != null && nStart == start;
            long end = Math.min(inOld ? o.range().last() : (o == null ? Long.MAX_VALUE : oStart - 1),
                    inNew ? n.range().last() : (n == null ? Long.MAX_VALUE : nStart - 1));
            IovaRange seg = new IovaRange(start, end);
            if (!inOld) {
                add(out, new IommuEvent.Map(n.clip(seg), cause));
            } else if (!inNew) {
                add(out, new IommuEvent.Unmap(seg, cause));
            } else if (o.physAt(start) != n.physAt(start) || o.permission() != n.permission()) {
                add(out, new IommuEvent.Replace(n.clip(seg), new PhysAddr(o.physAt(start)), o.permission(), cause));
            }
            if (inOld && end == o.range().last()) {
                i++;
            }
            if (inNew && end == n.range().last()) {
                j++;
            }
            pos = end + 1;
        }
        return out;
    }

    /** Appends {@code e}, merging it into the previous event when it simply extends it. */
    private static void add(List<IommuEvent> out, IommuEvent e) {
        if (!out.isEmpty()) {
            IommuEvent prev = out.getLast();
            IommuEvent merged = merge(prev, e);
            if (merged != null) {
                out.set(out.size() - 1, merged);
                return;
            }
        }
        out.add(e);
    }

    private static IommuEvent merge(IommuEvent a, IommuEvent b) {
        if (a.range().last() + 1 != b.range().first()) {
            return null;
        }
        IovaRange r = new IovaRange(a.range().first(), b.range().last());
        return switch (a) {
            case IommuEvent.Map am when b instanceof IommuEvent.Map bm && am.mapping().continuedBy(bm.mapping()) ->
                    new IommuEvent.Map(new Mapping(r, am.mapping().phys(), am.mapping().permission()), a.cause());
            case IommuEvent.Unmap au when b instanceof IommuEvent.Unmap -> new IommuEvent.Unmap(r, au.cause());
            case IommuEvent.Replace ar when b instanceof IommuEvent.Replace br
                    && ar.mapping().continuedBy(br.mapping()) && ar.oldMapping().continuedBy(br.oldMapping()) ->
                    new IommuEvent.Replace(new Mapping(r, ar.mapping().phys(), ar.mapping().permission()),
                            ar.oldPhys(), ar.oldPermission(), a.cause());
            default -> null;
        };
    }
}
