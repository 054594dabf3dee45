"""DHIS2 <-> FHIR MeasureReport (mADX): lossless both ways on flattened rows."""

from __future__ import annotations

import pytest
from hypothesis import given

from adapters.base import MapContext
from adapters.dhis2.measurereport import SYS_DE, AdxMapper, DataValueSetMapper, measure_url
from adapters.dhis2.model import AdxDocument, DataValueSet, flatten, flatten_adx
from bridge.errors import MappingError
from tests.dhis2.strategies import adx_documents, json_sets

MAPPER = DataValueSetMapper("dhis2.dvs+json")


def _with_periods(dvs: DataValueSet) -> bool:
    return all(row.period is not None for row in flatten(dvs))


@given(json_sets().filter(_with_periods))
def test_data_value_set_to_measure_report_and_back_is_lossless(dvs: DataValueSet) -> None:
    bundle = MAPPER.to_fhir(dvs, MapContext())
    back = MAPPER.from_fhir(bundle, MapContext())
    assert flatten(back) == flatten(dvs)
    again = MAPPER.to_fhir(back, MapContext())
    assert again.model_dump(mode="json") == bundle.model_dump(mode="json")


@given(adx_documents)
def test_adx_to_measure_report_and_back_is_lossless(doc: AdxDocument) -> None:
    mapper = AdxMapper()
    bundle = mapper.to_fhir(doc, MapContext())
    assert flatten_adx(mapper.from_fhir(bundle, MapContext())) == flatten_adx(doc)


def test_madx_shape() -> None:
    dvs = DataValueSet(
        data_set="DsTbMonth01",
        period="202401",
        org_unit="PkmPuter001",
        data_values=(
            __import__("adapters.dhis2.model", fromlist=["DataValue"]).DataValue(
                "TB_NEW", value="3", category_options=(("SEX", "L"), ("AGE_TB", "A0_4"))
            ),
        ),
    )
    report = MAPPER.to_fhir(dvs, MapContext()).entry[0].resource
    assert report.measure == measure_url("DsTbMonth01")
    assert report.subject.identifier.value == "PkmPuter001"
    assert (report.period.start.isoformat(), report.period.end.isoformat()) == ("2024-01-01", "2024-01-31")
    group = report.group[0]
    assert group.code.coding[0].system == SYS_DE and group.code.coding[0].code == "TB_NEW"
    stratum = group.stratifier[0].stratum[0]
    assert [(c.code.coding[0].code, c.value.coding[0].code) for c in stratum.component] == [
        ("SEX", "L"),
        ("AGE_TB", "A0_4"),
    ]
    assert float(stratum.measureScore.value) == 3


def test_plain_madx_report_without_extensions() -> None:
    report = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": measure_url("DsKiaMonth1"),
        "subject": {"reference": "Organization/PkmPuter001"},
        "period": {"start": "2024-03-01", "end": "2024-03-31"},
        "group": [{"code": {"coding": [{"system": SYS_DE, "code": "ANC_K1"}]}, "population": [{"count": 14}]}],
    }
    dvs = MAPPER.from_fhir(report, MapContext())
    assert (dvs.data_set, dvs.period, dvs.org_unit) == ("DsKiaMonth1", "202403", "PkmPuter001")
    assert dvs.data_values[0].data_element == "ANC_K1" and dvs.data_values[0].value == "14"


def test_period_matching_no_dhis2_type_is_refused() -> None:
    report = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": measure_url("x"),
        "period": {"start": "2024-03-02", "end": "2024-03-31"},
        "group": [],
    }
    with pytest.raises(MappingError) as info:
        MAPPER.from_fhir(report, MapContext())
    assert info.value.code == "GW-1563"
