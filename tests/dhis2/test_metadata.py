"""Metadata snapshot and GW-43xx pre-validation against the bundled Indonesian demo metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import MapContext
from adapters.dhis2.adx_xml import AdxCodec
from adapters.dhis2.dvs_json import from_dict
from adapters.dhis2.dvs_xml import DataValueSetXmlCodec
from adapters.dhis2.metadata import (
    MetadataSnapshot,
    MetadataValidator,
    demo_snapshot,
    resolve_option_combos,
    unfold_option_combos,
    validate_data_value_set,
    value_fits,
)
from adapters.dhis2.model import DataValue, DataValueSet, flatten, to_adx_document
from tests.helpers import SHARED

SAMPLES = SHARED / "samples/dhis2"
CODES = {"categoryIdScheme": "code", "categoryOptionIdScheme": "code"}


def tb(values: list[dict[str, object]], **group: object) -> object:
    base = {
        "dataSet": "DsTbMonth01",
        "period": "202401",
        "orgUnit": "PkmPuter001",
        "attributeOptionCombo": "CocFund0001",
    }
    return from_dict({**base, **group, "dataValues": values})


def ids(outcome: object) -> list[tuple[str, str]]:
    return [(i.message_id, i.expression[0]) for i in outcome]  # type: ignore[attr-defined]


def test_valid_set_has_no_issues() -> None:
    dvs = tb(
        [
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "3"},
            {"dataElement": "DeTbNote001", "value": "stok aman"},
            {"dataElement": "DeTbStock01", "value": "f"},
        ]
    )
    assert list(validate_data_value_set(dvs, demo_snapshot())) == []


@pytest.mark.parametrize(
    ("value", "group", "expected"),
    [
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocIm000001", "value": "1"},
            {},
            ("GW-4309", "dataValues[0].categoryOptionCombo"),
        ),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "NoSuchCoc01", "value": "1"},
            {},
            ("GW-4308", "dataValues[0].categoryOptionCombo"),
        ),
        ({"dataElement": "DeTbNew0001", "value": "1"}, {}, ("GW-4309", "dataValues[0].categoryOptionCombo")),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "-1"},
            {},
            ("GW-4313", "dataValues[0].value"),
        ),
        ({"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001"}, {}, ("GW-4314", "dataValues[0].value")),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "1"},
            {"period": "2024Q1"},
            ("GW-4305", "dataValues[0].period"),
        ),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "1"},
            {"period": "2024M1"},
            ("GW-4304", "dataValues[0].period"),
        ),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "1"},
            {"orgUnit": "KtBdg000001"},
            ("GW-4307", "dataValues[0].orgUnit"),
        ),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "1"},
            {"orgUnit": "nope"},
            ("GW-4306", "dataValues[0].orgUnit"),
        ),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "1"},
            {"attributeOptionCombo": "HllvX50cXC0"},
            ("GW-4312", "dataValues[0].attributeOptionCombo"),
        ),
        ({"dataElement": "DeAncK10001", "value": "1"}, {}, ("GW-4303", "dataValues[0].dataElement")),
        ({"dataElement": "DeNothing01", "value": "1"}, {}, ("GW-4302", "dataValues[0].dataElement")),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": {"SEX": "X", "AGE_TB": "A0_4"}, "value": "1"},
            {"categoryIdScheme": "code", "categoryOptionIdScheme": "code"},
            ("GW-4310", "dataValues[0].categoryOptionCombo"),
        ),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "1"},
            {"dataSet": "Nope"},
            ("GW-4301", "dataSet"),
        ),
        (
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "1"},
            {"completeDate": "9/1/24"},
            ("GW-4316", "completeDate"),
        ),
    ],
)
def test_each_rule_gives_a_located_issue(
    value: dict[str, object], group: dict[str, object], expected: tuple[str, str]
) -> None:
    assert expected in ids(validate_data_value_set(tb([value], **group), demo_snapshot()))


def test_duplicates_are_reported() -> None:
    value = {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "1"}
    assert ("GW-4315", "dataValues[1]") in ids(validate_data_value_set(tb([value, value]), demo_snapshot()))


def test_code_and_attribute_id_schemes() -> None:
    dvs = from_dict(
        {
            "dataSet": "IMM_MONTHLY",
            "period": "202401",
            "orgUnit": "1027302",
            "idScheme": "code",
            "orgUnitIdScheme": "attribute:KodeFaskes1",
            "dataValues": [{"dataElement": "IMM_BCG", "categoryOptionCombo": "L_M0_11", "value": "4"}],
        }
    )
    assert list(validate_data_value_set(dvs, demo_snapshot())) == []


def test_data_set_is_inferred_when_absent() -> None:
    dvs = from_dict(
        {
            "period": "202401",
            "orgUnit": "PkmCibinon1",
            "dataValues": [{"dataElement": "DeImmBcg001", "categoryOptionCombo": "CocIm000001", "value": "4"}],
        }
    )
    assert ("GW-4307", "dataValues[0].orgUnit") in ids(validate_data_value_set(dvs, demo_snapshot()))


def test_option_pairs_resolve_to_existing_cocs_only() -> None:
    dvs = tb(
        [
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": {"SEX": "P", "AGE_TB": "A5_14"}, "value": "2"},
            {"dataElement": "DeTbNew0001", "categoryOptionCombo": {"SEX": "P", "AGE_TB": "A99"}, "value": "2"},
        ]
    )
    resolved, outcome = resolve_option_combos(dvs, demo_snapshot(), CODES)  # type: ignore[arg-type]
    coc = resolved.data_values[0].category_option_combo
    assert coc in demo_snapshot().category_combos["CcSexAgeTb1"].cocs
    assert demo_snapshot().option_combos[coc].options == {"OptSexP0001", "OptAge5to14"}
    assert resolved.data_values[1].category_option_combo is None  # never invented
    assert ids(outcome) == [("GW-4310", "dataValues[1].categoryOptionCombo")]


def test_profile_uses_metadata_from_settings() -> None:
    meta = json.loads((SAMPLES / "dhis2-core/metadata/data_element_and_dataset_with_catcombo.json").read_text())
    snap = MetadataSnapshot.from_metadata(meta)
    assert snap.data_sets and snap.data_elements and snap.category_combos
    ds = next(iter(snap.data_sets.values()))
    de = next(iter(snap.data_elements.values()))
    dvs = from_dict({"dataSet": ds.id, "period": "2024", "orgUnit": "x", "dataValues": [{"dataElement": de.id}]})
    outcome = MetadataValidator().validate(dvs, MapContext(settings={"dhis2_metadata": meta}))
    assert "GW-4306" in outcome.message_ids()


def test_negative_fixture_nonstrict_periods() -> None:
    """dataValueSetNonStrict.xml: periods 2012Q2 and 2012 for a monthly data set (DHIS2: E8021)."""
    meta = {
        "dataSets": [
            {
                "id": "pBOMPrpg1QX",
                "periodType": "Monthly",
                "categoryCombo": {"id": "cc"},
                "dataSetElements": [{"dataElement": {"id": d}} for d in ("f7n9E0hX8qk", "Ix2HsbDMLea", "eY5ehpbEsB7")],
            }
        ]
    }
    dvs = DataValueSetXmlCodec().parse(
        (SAMPLES / "dhis2-core/dxf2-datavalueset/dataValueSetNonStrict.xml").read_bytes()
    )
    outcome = validate_data_value_set(dvs, MetadataSnapshot.from_metadata(meta))
    assert ("GW-4305", "dataValues[1].period") in ids(outcome) and ("GW-4305", "dataValues[2].period") in ids(outcome)


@pytest.mark.parametrize(
    ("value_type", "good", "bad"),
    [
        ("INTEGER_ZERO_OR_POSITIVE", "0", "-1"),
        ("INTEGER_POSITIVE", "5", "0"),
        ("NUMBER", "1.5", "1,5"),
        ("BOOLEAN", "True", "not true"),
        ("TRUE_ONLY", "true", "false"),
        ("DATE", "2024-02-29", "2023-02-29"),
        ("PERCENTAGE", "100", "101"),
        ("UNIT_INTERVAL", "0.5", "2"),
    ],
)
def test_value_types(value_type: str, good: str, bad: str) -> None:
    assert value_fits(value_type, good) and not value_fits(value_type, bad)


def test_boolean_fixture_rejects_the_same_rows_as_dhis2() -> None:
    """dataValueSetBooleanTest.csv: DHIS2 rejects indexes 10, 11, 16, 17 (values 'test', 'not true')."""
    from adapters.dhis2.dvs_csv import DataValueSetCsvCodec

    dvs = DataValueSetCsvCodec().parse(
        (SAMPLES / "dhis2-core/dxf2-datavalueset/dataValueSetBooleanTest.csv").read_bytes()
    )
    types = {"jH26dja2f30": "BOOLEAN", "jH26dja2f31": "TRUE_ONLY"}  # as set up by the upstream test
    bad = [i for i, dv in enumerate(dvs.data_values) if not value_fits(types[dv.data_element], dv.value or "")]
    assert bad == [10, 11, 16, 17]


def test_timeliness_future_and_expired_periods() -> None:
    from datetime import date

    value = {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "1"}
    today = date(2024, 3, 15)
    assert ids(validate_data_value_set(tb([value], period="202403"), demo_snapshot(), today=today)) == []
    assert ("GW-4318", "dataValues[0].period") in ids(
        validate_data_value_set(tb([value], period="202404"), demo_snapshot(), today=today)
    )
    meta = json.loads((Path(__file__).parents[2] / "adapters/dhis2/demo_metadata.json").read_text())
    for ds in meta["dataSets"]:
        ds["expiryDays"], ds["openFuturePeriods"] = 10, 1
    snap = MetadataSnapshot.from_metadata(meta)
    assert ids(validate_data_value_set(tb([value], period="202404"), snap, today=today)) == []
    assert ("GW-4318", "dataValues[0].period") in ids(
        validate_data_value_set(tb([value], period="202401"), snap, today=today)
    )
    assert ids(validate_data_value_set(tb([value], period="202403"), snap, today=today)) == []


@st.composite
def demo_sets(draw: st.DrawFn) -> DataValueSet:
    """Valid sets over the demo metadata, COCs/AOCs as uids (None where the combo is the default)."""
    snap = demo_snapshot()
    ds = snap.data_sets[draw(st.sampled_from(sorted(snap.data_sets)))]
    attr = snap.category_combos[ds.category_combo]
    values = []
    for de, _ in draw(st.lists(st.sampled_from(ds.elements), min_size=1, max_size=5)):
        combo = snap.category_combos[snap.data_elements[de].category_combo]
        coc = None if combo.is_default else draw(st.sampled_from(combo.cocs))
        values.append(DataValue(de, category_option_combo=coc, value=str(draw(st.integers(0, 999)))))
    return DataValueSet(
        data_values=tuple(values),
        data_set=ds.id,
        period="202401",
        org_unit=draw(st.sampled_from(sorted(ds.org_units))),
        attribute_option_combo=None if attr.is_default else draw(st.sampled_from(attr.cocs)),
    )


@given(demo_sets())
def test_cocs_unfold_into_adx_codes_and_resolve_back(dvs: DataValueSet) -> None:
    snap = demo_snapshot()
    unfolded, outcome = unfold_option_combos(dvs, snap)
    assert outcome.ok and all(v.category_option_combo is None for v in unfolded.data_values)
    doc = AdxCodec().parse(AdxCodec().serialize(to_adx_document(unfolded)))
    rows = []
    for group in doc.groups:
        resolved, issues = resolve_option_combos(group, snap, CODES)
        assert issues.ok
        rows.extend(flatten(resolved))
    assert tuple(rows) == flatten(dvs)
