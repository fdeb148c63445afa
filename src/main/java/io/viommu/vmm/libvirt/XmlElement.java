package io.viommu.vmm.libvirt;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One element of a domain XML document with where it started (line, column), its attributes in
 * document order, its children and its text. The translator marks each attribute and child it
 * reads ({@link #attr}, {@link #child}); whatever is left unread afterwards is named in a
 * warning ({@link #unread}), so nothing the user wrote disappears silently.
 */
final class XmlElement {
    final String name;
    final int line;
    final int column;
    private final Map<String, String> attributes = new LinkedHashMap<>();
    private final List<XmlElement> children = new ArrayList<>();
    private final StringBuilder text = new StringBuilder();
    private final Set<String> readAttributes = new LinkedHashSet<>();
    private boolean read;

    XmlElement(String name, int line, int column) {
        this.name = name;
        this.line = line;
        this.column = column;
    }

    void putAttribute(String key, String value) {
        attributes.put(key, value);
    }

    void addChild(XmlElement e) {
        children.add(e);
    }

    void appendText(String s) {
        text.append(s);
    }

    /** The attribute's value (null when absent), marked as read. */
    String attr(String key) {
        readAttributes.add(key);
        return attributes.get(key);
    }

    /** Marks this element as read (its text or its mere presence is what counts). */
    XmlElement markRead() {
        read = true;
        return this;
    }

    /** Takes back {@link #markRead()}: the element is to be named as untranslated. */
    void unmarkRead() {
        read = false;
    }

    /** The trimmed text content, marking the element read. */
    String text() {
        read = true;
        return text.toString().trim();
    }

    /** The first child of that name (marked read), or null. */
    XmlElement child(String childName) {
        for (XmlElement c : children) {
            if (c.name.equals(childName)) {
                return c.markRead();
            }
        }
        return null;
    }

    /** Every child of that name, each marked read. */
    List<XmlElement> children(String childName) {
        List<XmlElement> out = new ArrayList<>();
        for (XmlElement c : children) {
            if (c.name.equals(childName)) {
                out.add(c.markRead());
            }
        }
        return out;
    }

    List<XmlElement> children() {
        return Collections.unmodifiableList(children);
    }

    /**
     * What was not read below (and including) this element: {@code path} names this element,
     * each entry is "{@code <a>/<b> (line N)}" or "{@code attribute 'x' of <a>/<b> (line N)}".
     */
    void unread(String path, List<String> out) {
        String here = path.isEmpty() ? "<" + name + ">" : path + "/<" + name + ">";
        if (!read) {
            out.add(here + " (line " + line + ")");
            return;
        }
        for (String a : attributes.keySet()) {
            if (!readAttributes.contains(a)) {
                out.add("attribute '" + a + "' of " + here + " (line " + line + ")");
            }
        }
        for (XmlElement c : children) {
            c.unread(here, out);
        }
    }
}
