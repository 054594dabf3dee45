"""Hardened XML reading shared by the DXF2 and ADX codecs, plus input size limits.

No DTD is loaded, no entity is resolved, nothing is fetched from the network, and a document
that declares a DOCTYPE at all (the carrier of external entities and expansion bombs) is refused
with DecodeError GW-1511 before its content is looked at.
"""

from __future__ import annotations

from lxml import etree

from bridge.errors import DecodeError

MAX_BYTES = 64 * 1024 * 1024
MAX_VALUES = 2_000_000


def check_size(data: bytes, limit: int = MAX_BYTES) -> None:
    if len(data) > limit:
        raise DecodeError("GW-1502", f"payload of {len(data)} bytes exceeds the limit of {limit} bytes")


def check_count(count: int, limit: int = MAX_VALUES) -> None:
    if count > limit:
        raise DecodeError("GW-1503", f"{count} data values exceed the limit of {limit}")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, limit: int = MAX_BYTES) -> etree._Element:
    """Parse ``data`` safely and return the root element; raise DecodeError GW-151x otherwise."""
    check_size(data, limit)
    head = data[:4096].lstrip(b"\xef\xbb\xbf")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in head:
        raise DecodeError("GW-1511", "XML with a DOCTYPE or entity declarations is refused", location="line 1")
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None)
        raise DecodeError("GW-1510", f"malformed XML: {exc.msg}", location=f"line {line}" if line else None) from exc
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DecodeError("GW-1511", "XML with a DOCTYPE is refused", location="line 1")
    return tree.getroot()


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace


def parse_bool(text: str | None, where: str) -> bool | None:
    """DHIS2 boolean attribute text -> bool (``true``/``false`` any case, ``1``/``0``)."""
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise DecodeError("GW-1504", f"{text!r} is not a boolean", location=where)
