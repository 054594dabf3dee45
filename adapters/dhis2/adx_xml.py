"""ADX XML codec (``urn:ihe:qrph:adx:2015``, ``application/adx+xml``), validated against ``adx.xsd``.

Periods are converted between the ADX ``<start>/<duration>`` form and the DHIS2 string (the
model keeps DHIS2 periods). Disaggregation travels as attributes: any ``dataValue`` attribute
that is not a known field is a ``category="option"`` pair (unless ``categoryOptionCombo`` is
given, DHIS2 then ignores them, we keep both); any unknown ``group`` attribute is an attribute
category. Non-numeric values are written as ``value="0"`` plus ``<annotation>text</annotation>``
and read back from the annotation, as DHIS2 does.

``require_exported`` (default False, as DHIS2 omits it) and ``lenient`` (ignore child elements
other than ``annotation``, e.g. ``created`` in dhis2-core's importDates fixture) relax the schema.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lxml import etree

from adapters.dhis2.model import AdxDocument, DataValue, DataValueSet, to_adx_document
from adapters.dhis2.periods import canonical, to_adx
from adapters.dhis2.safexml import check_count, parse_bool, parse_xml
from bridge.errors import CodecError, DecodeError

ADX_NS = "urn:ihe:qrph:adx:2015"
MEDIA_TYPE = "application/adx+xml"
XSD_PATH = Path(__file__).with_name("adx.xsd")
_ANNOTATION, _DATA_VALUE, _GROUP = (f"{{{ADX_NS}}}{n}" for n in ("annotation", "dataValue", "group"))
_XS = "{http://www.w3.org/2001/XMLSchema}"
DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_VALUE_FIELDS = {
    "dataElement": "data_element",
    "categoryOptionCombo": "category_option_combo",
    "comment": "comment",
    "storedBy": "stored_by",
    "created": "created",
    "lastUpdated": "last_updated",
}
_VALUE_KNOWN = frozenset({*_VALUE_FIELDS, "value", "followup", "followUp", "deleted"})
_GROUP_FIELDS = {
    "orgUnit": "org_unit",
    "dataSet": "data_set",
    "completeDate": "complete_date",
    "attributeOptionCombo": "attribute_option_combo",
}
_GROUP_KNOWN = frozenset({*_GROUP_FIELDS, "period"})


@lru_cache(maxsize=2)
def schema(require_exported: bool = True) -> etree.XMLSchema:
    """Our ADX XSD; with ``require_exported=False`` the root ``exported`` attribute becomes optional."""
    doc = etree.parse(str(XSD_PATH), etree.XMLParser(resolve_entities=False, no_network=True))
    if not require_exported:
        for attr in doc.iter(f"{_XS}attribute"):
            if attr.get("name") == "exported":
                attr.set("use", "optional")
    return etree.XMLSchema(doc)


def _strip_extra_children(root: etree._Element) -> None:
    for value in root.iter(f"{{{ADX_NS}}}dataValue"):
        for child in list(value):
            if not isinstance(child.tag, str) or child.tag != f"{{{ADX_NS}}}annotation":
                value.remove(child)


def validate(root: etree._Element, require_exported: bool) -> None:
    xsd = schema(require_exported)
    if not xsd.validate(root):
        err = xsd.error_log[0]  # type: ignore[index]
        raise DecodeError("GW-1520", f"ADX schema: {err.message}", location=f"line {err.line}")


def _pairs(el: etree._Element, known: frozenset[str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in el.attrib.items() if "{" not in k and k not in known)  # type: ignore[misc]


def _read_value(el: etree._Element, where: str) -> DataValue:
    attrs: dict[str, str] = dict(el.attrib)  # type: ignore[arg-type]
    kw = {attr: attrs.pop(key, None) for key, attr in _VALUE_FIELDS.items()}
    value = attrs.pop("value", None)
    lower, upper = attrs.pop("followup", None), attrs.pop("followUp", None)
    follow = lower if lower is not None else upper
    deleted = attrs.pop("deleted", None)
    if len(el):  # only an <annotation> child is allowed by the schema
        note = el.find(_ANNOTATION)
        if note is not None and value is not None and DECIMAL.match(value) and float(value) == 0:
            value = note.text or ""
    return DataValue(
        value=value,
        follow_up=None if follow is None else parse_bool(follow, f"{where}@followup"),
        deleted=None if deleted is None else parse_bool(deleted, f"{where}@deleted"),
        category_options=tuple((k, v) for k, v in attrs.items() if k[0] != "{"),
        **kw,  # type: ignore[arg-type]
    )


def _read_group(el: etree._Element, index: int) -> DataValueSet:
    where = f"group[{index}]"
    try:
        period = canonical(el.get("period", ""))
    except DecodeError as exc:
        raise DecodeError("GW-1521", exc.message, location=f"{where}@period") from exc
    values = [v for v in el if v.tag == _DATA_VALUE]
    return DataValueSet(
        data_values=tuple(_read_value(v, f"{where}/dataValue[{i}]") for i, v in enumerate(values)),
        period=period,
        attribute_options=_pairs(el, _GROUP_KNOWN),
        **{attr: el.get(key) for key, attr in _GROUP_FIELDS.items()},  # type: ignore[arg-type]
    )


def from_element(root: etree._Element, *, require_exported: bool = False, lenient: bool = False) -> AdxDocument:
    if root.tag != f"{{{ADX_NS}}}adx":
        raise DecodeError("GW-1512", f"expected <adx> in {ADX_NS}", location="/")
    if lenient:
        _strip_extra_children(root)
    validate(root, require_exported)
    groups = [g for g in root if g.tag == _GROUP]
    check_count(sum(len(g) for g in groups))
    return AdxDocument(tuple(_read_group(g, i) for i, g in enumerate(groups)), root.get("exported"))


@lru_cache(maxsize=4096)
def _name_ok(name: str, known: frozenset[str]) -> bool:
    return bool(NCNAME.match(name)) and name not in known


def _check_name(name: str, where: str, known: frozenset[str]) -> None:
    if not _name_ok(name, known):
        raise CodecError("GW-1523", f"{name!r} cannot be an ADX attribute name", location=where)


_OPTIONAL_TEXT = (
    ("comment", "comment"),
    ("storedBy", "stored_by"),
    ("created", "created"),
    ("lastUpdated", "last_updated"),
)


def _write_value(parent: etree._Element, dv: DataValue, where: str) -> None:
    value = dv.value
    if value is None:
        raise CodecError("GW-1522", "ADX needs a value on every dataValue", location=where)
    if dv.period is not None or dv.org_unit is not None or dv.attribute_option_combo is not None:
        raise CodecError("GW-1524", "ADX keeps period/orgUnit/AOC on the group only", location=where)
    attrs = {"dataElement": dv.data_element}
    if dv.category_option_combo is not None:
        attrs["categoryOptionCombo"] = dv.category_option_combo
    for category, option in dv.category_options:
        _check_name(category, where, _VALUE_KNOWN)
        attrs[category] = option
    numeric = value == "0" or (bool(DECIMAL.match(value)) and float(value) != 0)
    attrs["value"] = value if numeric else "0"
    for key, attr in _OPTIONAL_TEXT:
        if (text := getattr(dv, attr)) is not None:
            attrs[key] = text
    if dv.follow_up is not None:
        attrs["followup"] = "true" if dv.follow_up else "false"
    if dv.deleted is not None:
        attrs["deleted"] = "true" if dv.deleted else "false"
    el = etree.SubElement(parent, _DATA_VALUE, attrs)
    if not numeric:
        etree.SubElement(el, _ANNOTATION).text = value


def _write_group(root: etree._Element, group: DataValueSet, index: int) -> None:
    where = f"group[{index}]"
    if not group.period or not group.org_unit:
        raise CodecError("GW-1524", "an ADX group needs period and orgUnit", location=where)
    el = etree.SubElement(root, f"{{{ADX_NS}}}group")
    el.set("orgUnit", group.org_unit)
    try:
        el.set("period", to_adx(group.period))
    except DecodeError as exc:
        raise CodecError("GW-1521", exc.message, location=f"{where}@period") from exc
    for key in ("dataSet", "completeDate", "attributeOptionCombo"):
        if (text := getattr(group, _GROUP_FIELDS[key])) is not None:
            el.set(key, text)
    for category, option in group.attribute_options:
        _check_name(category, where, _GROUP_KNOWN)
        el.set(category, option)
    for i, dv in enumerate(group.data_values):
        _write_value(el, dv, f"{where}/dataValue[{i}]")


def to_element(doc: AdxDocument) -> etree._Element:
    root = etree.Element(f"{{{ADX_NS}}}adx", nsmap={None: ADX_NS})
    if doc.exported is not None:
        root.set("exported", doc.exported)
    for index, group in enumerate(doc.groups):
        _write_group(root, group, index)
    return root


class AdxCodec:
    format_id = "dhis2.adx+xml"
    media_type = MEDIA_TYPE

    def __init__(self, *, require_exported: bool = False, lenient: bool = False) -> None:
        self.require_exported = require_exported
        self.lenient = lenient

    def parse(self, data: bytes) -> AdxDocument:
        return from_element(parse_xml(data), require_exported=self.require_exported, lenient=self.lenient)

    def serialize(self, model: AdxDocument | DataValueSet) -> bytes:
        doc = to_adx_document(model) if isinstance(model, DataValueSet) else model
        try:
            root = to_element(doc)
        except ValueError as exc:
            raise CodecError("GW-1508", f"text not representable in XML: {exc}") from exc
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
