"""SOAP 1.1 plumbing for the Salesforce sandbox: read an envelope, write a response or a fault.

Only what the partner `login` call and the Metadata API calls need. Parsing refuses DOCTYPE
declarations outright (no entity tricks reach the XML parser), and every failure becomes a
`SoapParseError` that the wire turns into a `soapenv:Client` fault, never a traceback.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
PARTNER = "urn:partner.soap.sforce.com"
PARTNER_FAULT = "urn:fault.partner.soap.sforce.com"
METADATA = "http://soap.sforce.com/2006/04/metadata"


class SoapParseError(ValueError):
    """The request is not a SOAP envelope we can read; the message is the faultstring."""


@dataclass(frozen=True)
class Envelope:
    header: ET.Element | None
    operation: ET.Element  # the first element inside soapenv:Body


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def parse_envelope(body: bytes) -> Envelope:
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise SoapParseError("DOCTYPE is not allowed in a SOAP request")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        row, col = exc.position
        raise SoapParseError(f"ParseError at [row,col]:[{row},{col + 1}]\nMessage: {exc}") from None
    if root.tag != f"{{{SOAPENV}}}Envelope":
        raise SoapParseError(f"Unexpected root element {root.tag}; expected {{{SOAPENV}}}Envelope")
    header = root.find(f"{{{SOAPENV}}}Header")
    soap_body = root.find(f"{{{SOAPENV}}}Body")
    if soap_body is None or len(soap_body) == 0:
        raise SoapParseError("The SOAP envelope has no operation in its Body")
    return Envelope(header, soap_body[0])


def child_text(element: ET.Element, name: str) -> str | None:
    """Text of the first direct child with that local name (any namespace), or None."""
    for child in element:
        if local(child.tag) == name:
            return child.text or ""
    return None


def children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if local(child.tag) == name]


def xsi_type(element: ET.Element) -> str | None:
    value = element.get(f"{{{XSI}}}type")
    return value.split(":")[-1] if value else None


def text(value: object) -> str:
    """An XML text node for a scalar: booleans in lower case, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def element(name: str, value: object) -> str:
    """`<name>value</name>`, or `<name xsi:nil="true"/>` for None."""
    if value is None:
        return f'<{name} xsi:nil="true"/>'
    return f"<{name}>{text(value)}</{name}>"


def envelope(body_xml: str, default_ns: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAPENV}" xmlns="{default_ns}" xmlns:xsi="{XSI}">'
        f"<soapenv:Body>{body_xml}</soapenv:Body></soapenv:Envelope>"
    )


def fault(
    faultcode: str,
    faultstring: str,
    *,
    sf_ns: str | None = None,
    detail_type: str | None = None,
    exception_code: str | None = None,
    exception_message: str | None = None,
) -> str:
    """A SOAP fault envelope. With `detail_type`, adds `<detail><sf:{type}>` with exceptionCode/Message."""
    ns_decl = f' xmlns:sf="{sf_ns}"' if sf_ns else ""
    detail = ""
    if detail_type and sf_ns:
        detail = (
            f'<detail><sf:{detail_type} xsi:type="sf:{detail_type}">'
            f"<sf:exceptionCode>{text(exception_code)}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{text(exception_message)}</sf:exceptionMessage>"
            f"</sf:{detail_type}></detail>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAPENV}"{ns_decl} xmlns:xsi="{XSI}">'
        f"<soapenv:Body><soapenv:Fault><faultcode>{text(faultcode)}</faultcode>"
        f"<faultstring>{text(faultstring)}</faultstring>{detail}</soapenv:Fault></soapenv:Body>"
        "</soapenv:Envelope>"
    )
