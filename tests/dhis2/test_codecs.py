"""Every DHIS2 fixture parses and round-trips; hostile XML is refused; Hypothesis round trips per codec."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from lxml import etree

from adapters.dhis2.adx_xml import AdxCodec, schema
from adapters.dhis2.dvs_csv import HEADER, DataValueSetCsvCodec
from adapters.dhis2.dvs_json import DataValueSetJsonCodec
from adapters.dhis2.dvs_xml import DataValueSetXmlCodec
from adapters.dhis2.model import AdxDocument, DataValueSet, flatten, flatten_adx, to_adx_document
from bridge.errors import CodecError, DecodeError
from tests.dhis2.strategies import adx_documents, common_sets, csv_sets, json_sets, xml_sets
from tests.helpers import SHARED

SAMPLES = SHARED / "samples/dhis2"
FIXTURES = sorted(
    p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix in (".json", ".xml", ".csv") and "metadata" not in p.parts
)
NEGATIVE_PARSE = {"dataValueSetBNoHeader.csv": "GW-1531", "importDates.adx.xml": "GW-1520"}
EXPECTED_COUNTS = {
    "dataValueSetA.xml": 3,
    "dataValueSetB.xml": 12,
    "dataValueSetB.csv": 12,
    "dataValueSetBooleanTest.csv": 18,
    "dataValueSetBooleanDuplicatesTest.csv": 18,
    "dataValueSetBDeleted.xml": 12,
    "dataValueSetANull.xml": 3,
    "importA.adx.xml": 9,
    "adx_data_sample1.xml": 13,
    "data_values_empty.json": 0,
    "dataValueSetJ.json": 1,
}


def codec_for(path: Path) -> DataValueSetJsonCodec | DataValueSetXmlCodec | DataValueSetCsvCodec | AdxCodec:
    if path.parent.name == "adx":
        return AdxCodec()
    return {".json": DataValueSetJsonCodec(), ".csv": DataValueSetCsvCodec()}.get(path.suffix, DataValueSetXmlCodec())


def count(model: DataValueSet | AdxDocument) -> int:
    return len(flatten_adx(model) if isinstance(model, AdxDocument) else flatten(model))


def test_fixture_corpus_is_present() -> None:
    assert len(FIXTURES) == 35


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_parses_and_round_trips(path: Path) -> None:
    codec = codec_for(path)
    if path.name in NEGATIVE_PARSE:
        with pytest.raises(DecodeError) as info:
            codec.parse(path.read_bytes())
        assert info.value.code == NEGATIVE_PARSE[path.name]
        return
    model = codec.parse(path.read_bytes())
    assert codec.parse(codec.serialize(model)) == model
    if path.name in EXPECTED_COUNTS:
        assert count(model) == EXPECTED_COUNTS[path.name]


def test_importdates_parses_leniently_and_ignores_child_elements() -> None:
    doc = AdxCodec(lenient=True).parse((SAMPLES / "dhis2-core/adx/importDates.adx.xml").read_bytes())
    value = doc.groups[0].data_values[0]
    assert value.value == "33" and value.created == "1987-12-21T23:59:38.376+0000"
    assert dict(value.category_options) == {"ageeeeeeeee": "over5555555", "sexxxxxxxxx": "MMMMMMMMMMM"}


def test_adx_import_a_details() -> None:
    doc = AdxCodec().parse((SAMPLES / "dhis2-core/adx/importA.adx.xml").read_bytes())
    first, text = doc.groups[0].data_values[0], doc.groups[0].data_values[4]
    assert doc.groups[0].period == "202001" and doc.groups[2].period == "2021Q1"
    assert first.category_options == (("Sex_category", "FFFFFFFFFFF"), ("Age_category", "under555555"))
    assert text.value == "Text data value"
    assert doc.groups[2].attribute_options == (("Mechanism_category", "PEPFARRRRRR"),)
    assert doc.groups[4].attribute_option_combo == "cocMcDonald"


def test_followup_spellings_both_read() -> None:
    lower = DataValueSetJsonCodec().parse(b'{"dataValues":[{"dataElement":"a","followup":true}]}')
    upper = DataValueSetJsonCodec().parse(b'{"dataValues":[{"dataElement":"a","followUp":true}]}')
    xml = DataValueSetXmlCodec().parse(
        b'<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0">'
        b'<dataValue dataElement="a" followUp="true"/></dataValueSet>'
    )
    assert lower == upper and lower.data_values[0].follow_up is True and xml.data_values[0].follow_up is True


def test_json_243_object_form_of_option_combos() -> None:
    dvs = DataValueSetJsonCodec().parse(
        b'{"attributeOptionCombo":{"FUND":"APBN"},"dataValues":[{"dataElement":"a","categoryOptionCombo":{"SEX":"L"}}]}'
    )
    assert dvs.attribute_options == (("FUND", "APBN"),)
    assert dvs.data_values[0].category_options == (("SEX", "L"),)


def test_csv_writes_the_version_proof_header() -> None:
    out = DataValueSetCsvCodec().serialize(
        DataValueSetJsonCodec().parse(
            b'{"period":"202401","orgUnit":"o","dataValues":[{"dataElement":"d","value":"1"}]}'
        )
    )
    lines = out.decode().splitlines()
    assert lines[0] == ",".join(HEADER)
    assert lines[1] == "d,202401,o,,,1,,,,"


def test_csv_without_coc_column_reads_categories() -> None:
    dvs = DataValueSetCsvCodec().parse(b"dataElement,period,orgUnit,SEX,AGE_TB,value\nd,202401,o,L,A0_4,3\n")
    assert dvs.data_values[0].category_options == (("SEX", "L"), ("AGE_TB", "A0_4"))


HOSTILE = {
    "xxe": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0"><dataValue dataElement="&x;"/></dataValueSet>',
    "bomb": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><adx xmlns="urn:ihe:qrph:adx:2015">&lol3;</adx>',
    "external-dtd": b'<!DOCTYPE adx SYSTEM "http://example.invalid/adx.dtd"><adx xmlns="urn:ihe:qrph:adx:2015"/>',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("codec", [DataValueSetXmlCodec(), AdxCodec()], ids=["dxf2", "adx"])
def test_hostile_xml_is_refused(name: str, codec: DataValueSetXmlCodec | AdxCodec) -> None:
    with pytest.raises(DecodeError) as info:
        codec.parse(HOSTILE[name])
    assert info.value.code == "GW-1511"


@pytest.mark.parametrize(
    ("codec", "data", "code"),
    [
        (DataValueSetJsonCodec(), b"{", "GW-1501"),
        (DataValueSetJsonCodec(), b"[]", "GW-1505"),
        (DataValueSetJsonCodec(), b'{"dataValues":[{"value":"1"}]}', "GW-1506"),
        (DataValueSetJsonCodec(), b'{"metadata":true}', "GW-1505"),
        (DataValueSetXmlCodec(), b"<dataValueSet", "GW-1510"),
        (DataValueSetXmlCodec(), b'<adx xmlns="urn:ihe:qrph:adx:2015"/>', "GW-1512"),
        (
            AdxCodec(),
            b'<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="o" period="2024-01-01/P1M">'
            b'<dataValue dataElement="d" value="abc"/></group></adx>',
            "GW-1520",
        ),
        (
            AdxCodec(),
            b'<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="o" period="2024-01-02/P1M"/></adx>',
            "GW-1521",
        ),
        (AdxCodec(require_exported=True), b'<adx xmlns="urn:ihe:qrph:adx:2015"/>', "GW-1520"),
        (DataValueSetCsvCodec(), b'dataelement,period\n"a\n', "GW-1530"),
    ],
)
def test_malformed_payloads(codec: object, data: bytes, code: str) -> None:
    with pytest.raises(DecodeError) as info:
        codec.parse(data)  # type: ignore[attr-defined]
    assert info.value.code == code


def test_size_limit() -> None:
    with pytest.raises(DecodeError) as info:
        DataValueSetJsonCodec(max_bytes=10).parse(b'{"dataValues":[]}   ')
    assert info.value.code == "GW-1502"


def test_dxf2_refuses_to_drop_category_options() -> None:
    dvs = DataValueSetJsonCodec().parse(b'{"dataValues":[{"dataElement":"a","categoryOptionCombo":{"SEX":"L"}}]}')
    with pytest.raises(CodecError) as info:
        DataValueSetXmlCodec().serialize(dvs)
    assert info.value.code == "GW-1507"


# ---------------------------------------------------------------- properties


@given(json_sets())
def test_json_round_trip(dvs: DataValueSet) -> None:
    codec = DataValueSetJsonCodec()
    assert codec.parse(codec.serialize(dvs)) == dvs


@given(xml_sets())
def test_xml_round_trip(dvs: DataValueSet) -> None:
    codec = DataValueSetXmlCodec()
    assert codec.parse(codec.serialize(dvs)) == dvs


@given(csv_sets())
def test_csv_round_trip(dvs: DataValueSet) -> None:
    codec = DataValueSetCsvCodec()
    assert codec.parse(codec.serialize(dvs)) == dvs


@given(adx_documents)
def test_adx_round_trip_and_output_is_schema_valid(doc: AdxDocument) -> None:
    codec = AdxCodec()
    data = codec.serialize(doc)
    assert codec.parse(data) == doc
    if doc.exported is not None:
        assert schema(True).validate(etree.fromstring(data))


@given(common_sets())
def test_all_four_formats_agree(dvs: DataValueSet) -> None:
    rows = flatten(dvs)
    via_json = flatten(DataValueSetJsonCodec().parse(DataValueSetJsonCodec().serialize(dvs)))
    via_xml = flatten(DataValueSetXmlCodec().parse(DataValueSetXmlCodec().serialize(dvs)))
    adx = AdxCodec()
    via_adx = flatten_adx(adx.parse(adx.serialize(to_adx_document(dvs))))
    via_csv = flatten(DataValueSetCsvCodec().parse(DataValueSetCsvCodec().serialize(dvs)))
    assert via_json == via_xml == via_adx == rows
    strip = [(r.period, r.org_unit, r.attribute_option_combo, r.value) for r in rows]
    assert [(r.period, r.org_unit, r.attribute_option_combo, r.value) for r in via_csv] == strip
