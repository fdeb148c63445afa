package io.viommu.vmm.libvirt;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import javax.xml.stream.Location;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/**
 * Reads a domain XML document into {@link XmlElement}s with the JDK's StAX parser. StAX rather
 * than Jackson's XML module: Jackson's tree merges attributes and child elements into one map
 * and keeps no positions, and both matter here (an untranslated attribute is named as an
 * attribute, a refusal names its line). DTDs and external entities are off: a domain XML has
 * none, and a file must not make the reader open others.
 *
 * <p>A document that is not well-formed is refused with its line and column, as libvirt does
 * through libxml2: {@code (domain_definition):LINE: MESSAGE}, then the source line and a caret
 * under the column ({@link LibvirtException#column()} holds it too). The message text is the
 * JDK parser's, except for a mismatched end tag, which gets libxml2's text.
 */
final class DomainXmlReader {
    private DomainXmlReader() {
    }

    static XmlElement read(Path file) throws LibvirtException {
        String xml;
        try {
            xml = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            throw new LibvirtException("Failed to open file '" + file + "': " + reason(e));
        }
        return parse(xml);
    }

    private static String reason(Exception e) {
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "No such file or directory";
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "Permission denied";
        }
        if (e instanceof java.nio.charset.MalformedInputException) {
            return "not UTF-8 text";
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    static XmlElement parse(String xml) throws LibvirtException {
        if (xml.isBlank()) { // libxml2 on an empty document; its context line is "(null)"
            throw new LibvirtException("(domain_definition):1: Document is empty\n(null)\n^", 1, 1);
        }
        XMLInputFactory f = XMLInputFactory.newFactory();
        f.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        f.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        f.setProperty(XMLInputFactory.IS_COALESCING, true);
        Deque<XmlElement> open = new ArrayDeque<>();
        XmlElement root = null;
        XMLStreamReader r = null;
        try {
            r = f.createXMLStreamReader(new StringReader(xml));
            while (r.hasNext()) {
                int ev = r.next();
                switch (ev) {
                    case XMLStreamConstants.START_ELEMENT -> {
                        Location at = r.getLocation();
                        XmlElement e = new XmlElement(r.getLocalName(), at.getLineNumber(), at.getColumnNumber());
                        for (int i = 0; i < r.getAttributeCount(); i++) {
                            e.putAttribute(r.getAttributeLocalName(i), r.getAttributeValue(i));
                        }
                        if (open.isEmpty()) {
                            root = e;
                        } else {
                            open.peek().addChild(e);
                        }
                        open.push(e);
                    }
                    case XMLStreamConstants.END_ELEMENT -> open.pop();
                    case XMLStreamConstants.CHARACTERS, XMLStreamConstants.CDATA -> {
                        if (!open.isEmpty()) {
                            open.peek().appendText(r.getText());
                        }
                    }
                    default -> { }
                }
            }
        } catch (XMLStreamException e) {
            throw notWellFormed(xml, e, open);
        } finally {
            if (r != null) {
                try {
                    r.close();
                } catch (XMLStreamException ignored) {
                    // nothing was opened that closing could release
                }
            }
        }
        if (root == null) {
            throw new LibvirtException("(domain_definition):1: Document is empty\n(null)\n^", 1, 1);
        }
        return root;
    }

    private static LibvirtException notWellFormed(String xml, XMLStreamException e, Deque<XmlElement> open) {
        Location at = e.getLocation();
        int line = at == null ? 1 : Math.max(1, at.getLineNumber());
        int column = at == null ? 1 : Math.max(1, at.getColumnNumber());
        String msg = e.getMessage();
        int cut = msg == null ? -1 : msg.indexOf("Message: ");
        String text = cut >= 0 ? msg.substring(cut + "Message: ".length()).trim() : String.valueOf(msg);
        String[] lines = xml.split("\n", -1);
        String source = line <= lines.length ? lines[line - 1] : "";
        if (text.contains("must be terminated by the matching end-tag") && !open.isEmpty()) {
            // libxml2's text for the same error (xmlParseEndTag1): the open element, its line and
            // the end tag found; its caret stands just after that end tag
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("</\\s*([A-Za-z_][-\\w.:]*)\\s*>")
                    .matcher(source);
            String found = null;
            int end = 0;
            while (m.find() && m.start() < column) { // the end tag the parser stopped in
                found = m.group(1);
                end = m.end();
            }
            if (found != null) {
                XmlElement top = open.peek();
                text = "Opening and ending tag mismatch: " + top.name + " line " + top.line + " and " + found;
                column = end + 1;
            }
        }
        if (text.contains("must not contain the '<' character")) {
            text = "Unescaped '<' not allowed in attributes values"; // libxml2's text (xmlParseAttValueComplex)
        }
        String caret = "-".repeat(Math.max(0, column - 1)) + "^";
        return new LibvirtException("(domain_definition):" + line + ": " + text
                + "\n" + source + "\n" + caret, line, column);
    }
}
