"""DXF2 XML dataValueSet codec (namespace ``http://dhis2.org/schema/dxf/2.0``).

Scalars are attributes of ``<dataValueSet>`` and the repeated ``<dataValue/>`` children. Reads
``followup`` and ``followUp``, ignores the legacy ``timestamp`` attribute, and accepts a root
period in ADX form (a 2.43 export quirk) by converting it to the DHIS2 form. DXF2 XML has no
place for category→option pairs: serializing a value that carries them raises GW-1507 (resolve
the COC through the metadata snapshot first, or send ADX/JSON).
"""

from __future__ import annotations

from lxml import etree

from adapters.dhis2.model import ID_SCHEME_FIELDS, DataValue, DataValueSet
from adapters.dhis2.periods import canonical
from adapters.dhis2.safexml import check_count, local_name, namespace, parse_bool, parse_xml
from bridge.errors import CodecError, DecodeError

DXF_NS = "http://dhis2.org/schema/dxf/2.0"
MEDIA_TYPE = "application/xml"
_VALUE_ATTRS = (
    ("dataElement", "data_element"),
    ("period", "period"),
    ("orgUnit", "org_unit"),
    ("categoryOptionCombo", "category_option_combo"),
    ("attributeOptionCombo", "attribute_option_combo"),
    ("value", "value"),
    ("storedBy", "stored_by"),
    ("created", "created"),
    ("lastUpdated", "last_updated"),
    ("comment", "comment"),
)
_SET_ATTRS = (
    ("dataSet", "data_set"),
    ("completeDate", "complete_date"),
    ("period", "period"),
    ("orgUnit", "org_unit"),
    ("attributeOptionCombo", "attribute_option_combo"),
)


def _followup(el: etree._Element, where: str) -> bool | None:
    raw = el.get("followUp", el.get("followup"))
    return parse_bool(raw, f"{where}@followUp")


def _read_value(el: etree._Element, index: int) -> DataValue:
    where = f"dataValue[{index}]"
    kw = {attr: el.get(key) for key, attr in _VALUE_ATTRS}
    if not kw["data_element"]:
        raise DecodeError("GW-1506", "dataElement is required", location=f"{where}@dataElement")
    return DataValue(
        follow_up=_followup(el, where),
        deleted=parse_bool(el.get("deleted"), f"{where}@deleted"),
        **kw,  # type: ignore[arg-type]
    )


def _root_period(text: str | None) -> str | None:
    if text is not None and "/" in text:
        return canonical(text)
    return text


def _category_options(root: etree._Element) -> tuple[str, ...] | None:
    wrapper = root.find(f"{{{DXF_NS}}}attributeCategoryOptions")
    if wrapper is None:
        return None
    return tuple((child.text or "").strip() for child in wrapper)


def from_element(root: etree._Element) -> DataValueSet:
    if local_name(root) != "dataValueSet" or namespace(root) not in (DXF_NS, None):
        raise DecodeError("GW-1512", f"expected <dataValueSet> in {DXF_NS}", location="/")
    values = [el for el in root if isinstance(el.tag, str) and local_name(el) == "dataValue"]
    check_count(len(values))
    kw = {attr: root.get(key) for key, attr in _SET_ATTRS}
    kw["period"] = _root_period(kw["period"])
    return DataValueSet(
        data_values=tuple(_read_value(el, i) for i, el in enumerate(values)),
        attribute_category_options=_category_options(root),
        id_schemes=tuple((k, root.get(k)) for k in ID_SCHEME_FIELDS if root.get(k) is not None),  # type: ignore[misc]
        dry_run=parse_bool(root.get("dryRun"), "dataValueSet@dryRun"),
        strategy=root.get("strategy"),
        **kw,  # type: ignore[arg-type]
    )


def _set(el: etree._Element, key: str, text: str | None) -> None:
    if text is not None:
        el.set(key, text)


def _write_value(parent: etree._Element, dv: DataValue, index: int, followup_key: str) -> None:
    if dv.category_options or dv.attribute_options:
        raise CodecError(
            "GW-1507",
            "DXF2 XML cannot carry category options; resolve the option combo first",
            location=f"dataValues[{index}]",
        )
    el = etree.SubElement(parent, f"{{{DXF_NS}}}dataValue")
    for key, attr in _VALUE_ATTRS:
        _set(el, key, getattr(dv, attr))
    if dv.follow_up is not None:
        el.set(followup_key, "true" if dv.follow_up else "false")
    if dv.deleted is not None:
        el.set("deleted", "true" if dv.deleted else "false")


def to_element(dvs: DataValueSet, followup_key: str = "followUp") -> etree._Element:
    if dvs.attribute_options:
        raise CodecError(
            "GW-1507",
            "DXF2 XML cannot carry attribute category options as pairs",
            location="attributeOptionCombo",
        )
    root = etree.Element(f"{{{DXF_NS}}}dataValueSet", nsmap={None: DXF_NS})
    for key, attr in _SET_ATTRS:
        _set(root, key, getattr(dvs, attr))
    for key, text in dvs.id_schemes:
        root.set(key, text)
    if dvs.dry_run is not None:
        root.set("dryRun", "true" if dvs.dry_run else "false")
    _set(root, "strategy", dvs.strategy)
    if dvs.attribute_category_options is not None:
        wrapper = etree.SubElement(root, f"{{{DXF_NS}}}attributeCategoryOptions")
        for option in dvs.attribute_category_options:
            etree.SubElement(wrapper, f"{{{DXF_NS}}}attributeCategoryOption").text = option
    for index, dv in enumerate(dvs.data_values):
        _write_value(root, dv, index, followup_key)
    return root


class DataValueSetXmlCodec:
    format_id = "dhis2.dvs+xml"
    media_type = MEDIA_TYPE

    def __init__(self, followup_key: str = "followUp") -> None:
        self.followup_key = followup_key

    def parse(self, data: bytes) -> DataValueSet:
        return from_element(parse_xml(data))

    def serialize(self, model: DataValueSet) -> bytes:
        try:
            root = to_element(model, self.followup_key)
        except ValueError as exc:  # lxml refuses control characters XML cannot carry
            raise CodecError("GW-1508", f"text not representable in XML: {exc}") from exc
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
