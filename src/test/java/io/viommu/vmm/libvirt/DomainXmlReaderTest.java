package io.viommu.vmm.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The XML reader: positions, libvirt's form for malformed input, no entities from outside, nothing read left unnamed. */
class DomainXmlReaderTest {
    @Test
    void elementsKeepTheirLineAndColumn() throws Exception {
        XmlElement root = DomainXmlReader.parse("<domain type='kvm'>\n  <devices>\n    <iommu model='intel'/>\n  </devices>\n</domain>\n");
        XmlElement iommu = root.child("devices").child("iommu");
        assertThat(iommu.line).isEqualTo(3);
        assertThat(iommu.attr("model")).isEqualTo("intel");
    }

    @Test
    void unreadAttributesAndElementsAreNamedWithTheirPath() throws Exception {
        XmlElement root = DomainXmlReader.parse("<domain type='kvm' id='3'>\n<name>a</name>\n<sound model='ich9'/>\n</domain>");
        root.markRead();
        root.attr("type");
        root.child("name").text();
        List<String> out = new ArrayList<>();
        root.unread("", out);
        assertThat(out).containsExactly("attribute 'id' of <domain> (line 1)", "<domain>/<sound> (line 3)");
    }

    @Test
    void aMismatchedEndTagIsLibxml2sTextWithLineAndCaret() {
        assertThatThrownBy(() -> DomainXmlReader.parse("<domain>\n  <devices>\n    <iommu>\n  </devices>\n</domain>"))
                .isInstanceOf(LibvirtException.class)
                .hasMessage("(domain_definition):4: Opening and ending tag mismatch: iommu line 3 and devices\n"
                        + "  </devices>\n------------^")
                .satisfies(e -> {
                    assertThat(((LibvirtException) e).line()).isEqualTo(4);
                    assertThat(((LibvirtException) e).column()).isEqualTo(13);
                });
    }

    @Test
    void otherWellFormednessErrorsKeepTheParsersTextAndThePosition() {
        assertThatThrownBy(() -> DomainXmlReader.parse("<domain>\n<name>x</name>\n<a b=1/>\n</domain>"))
                .isInstanceOf(LibvirtException.class)
                .satisfies(e -> {
                    LibvirtException le = (LibvirtException) e;
                    assertThat(le.line()).isEqualTo(3);
                    assertThat(le.column()).isPositive();
                    assertThat(le.getMessage()).startsWith("(domain_definition):3: ").contains("\n<a b=1/>\n");
                });
    }

    @Test
    void anExternalEntityIsNeverRead() {
        String xml = "<?xml version='1.0'?>\n<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>\n"
                + "<domain type='kvm'><name>&x;</name></domain>";
        assertThatThrownBy(() -> LibvirtDomain.parse(xml)).isInstanceOf(LibvirtException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("root:"));
    }

    @Test
    void anEmptyDocumentIsLibvirtsText() {
        assertThatThrownBy(() -> DomainXmlReader.parse("  \n"))
                .hasMessage("(domain_definition):1: Document is empty\n(null)\n^");
    }
}
