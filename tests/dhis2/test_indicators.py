"""Indicator definitions (Measure-shaped data files), their evaluation, and the path to an accepted import."""

from __future__ import annotations

import json

import httpx
import pytest
from fhir.resources.R4B.measure import Measure

from adapters.base import MapContext
from adapters.dhis2.adx_xml import AdxCodec
from adapters.dhis2.indicators import (
    MEASURES_ROOT,
    Indicator,
    available,
    evaluate,
    icd10_chapter,
    load_measure,
    to_data_value_set,
)
from adapters.dhis2.metadata import demo_snapshot, resolve_option_combos, validate_data_value_set
from adapters.dhis2.model import flatten
from bridge.simulators.dhis2 import create_app
from bridge.upstreams.dhis2.client import Dhis2Client, Dhis2Config
from mappings.registry import MappingRegistry
from tests.dhis2.synthetic import FACILITY_SYSTEM, generate, organizations

MEASURES = ["antenatal-visits", "immunizations-by-vaccine", "outpatient-visits-by-icd10-chapter", "tb-new-cases"]
ORG_SCHEME = "attribute:KodeFaskes1"


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    return generate(600)


def test_definitions_are_versioned_valid_fhir_measures() -> None:
    assert sorted(available()) == MEASURES
    for measure_id, versions in available().items():
        for version in versions:
            data = json.loads((MEASURES_ROOT / measure_id / f"{version}.json").read_text())
            assert (data["id"], data["version"]) == (measure_id, version)
            Measure.model_validate(data)
            assert Indicator.from_measure(data).groups


def test_icd10_chapters() -> None:
    assert (icd10_chapter("A15.0"), icd10_chapter("J18.9"), icd10_chapter("O80")) == ("I", "X", "XV")
    assert icd10_chapter("ZZZ") is None


def _values(measure_id: str, resources: list[dict], period: str = "202401") -> dict[tuple, str]:
    ctx = MapContext()
    bundle = evaluate(load_measure(measure_id), resources, period, ctx, facility_system=FACILITY_SYSTEM)
    assert ctx.outcome.ok
    return {
        (r.org_unit, r.value.data_element, r.value.category_options): r.value.value
        for r in flatten(to_data_value_set(bundle))
    }


def patient(pid: str, gender: str, born: str) -> dict:
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": born}


def encounter(eid: str, pid: str, start: str, **extra: object) -> dict:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": f"Patient/{pid}"},
        "serviceProvider": {"reference": "Organization/org-puter"},
        "period": {"start": start},
        **extra,
    }


def condition(cid: str, pid: str, eid: str, code: str, when: str, **extra: object) -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{pid}"},
        "encounter": {"reference": f"Encounter/{eid}"},
        "recordedDate": when,
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]},
        **extra,
    }


def test_tb_new_cases_counts_first_diagnosis_by_sex_and_age() -> None:
    data = [
        *organizations(),
        patient("a", "male", "1990-05-01"),
        patient("b", "female", "2020-03-01"),
        patient("c", "female", "1960-01-01"),
        encounter("e1", "a", "2024-01-10"),
        condition("c1", "a", "e1", "A15.0", "2024-01-10"),
        encounter("e2", "a", "2024-01-20"),
        condition("c2", "a", "e2", "A16.2", "2024-01-20"),  # not new
        encounter("e3", "b", "2024-01-05"),
        condition("c3", "b", "e3", "A19.9", "2024-01-05"),
        encounter("e4", "c", "2023-12-05"),
        condition("c4", "c", "e4", "A15.3", "2023-12-05"),  # earlier period
        encounter("e5", "c", "2024-01-15"),
        condition("c5", "c", "e5", "A15.3", "2024-01-15"),
        encounter("e6", "b", "2024-01-06"),
        condition(
            "c6", "b", "e6", "A18.0", "2024-01-06", verificationStatus={"coding": [{"code": "entered-in-error"}]}
        ),
    ]
    values = _values("tb-new-cases", data)
    assert values[("1027302", "TB_NEW", (("SEX", "L"), ("AGE_TB", "A15_44")))] == "1"
    assert values[("1027302", "TB_NEW", (("SEX", "P"), ("AGE_TB", "A0_4")))] == "1"
    assert values[("1027302", "TB_NEW", (("SEX", "P"), ("AGE_TB", "A45P")))] == "0"
    assert len(values) == 8 and sum(int(v) for v in values.values()) == 2


def test_antenatal_k1_and_k4() -> None:
    anc = {"type": [{"coding": [{"system": "http://snomed.info/sct", "code": "424619006"}]}]}
    data = [*organizations(), patient("w", "female", "1995-01-01"), patient("v", "female", "1998-01-01")]
    data += [encounter(f"w{i}", "w", f"2023-{9 + i:02d}-01", **anc) for i in range(3)]
    data += [encounter("w3", "w", "2024-01-03", **anc), encounter("v0", "v", "2024-01-09", **anc)]
    values = _values("antenatal-visits", data)
    assert values[("1027302", "ANC_K1", ())] == "1" and values[("1027302", "ANC_K4", ())] == "1"


def test_unmapped_gender_and_missing_facility_are_reported_not_counted() -> None:
    data = [
        *organizations(),
        patient("x", "unknown", "2000-01-01"),
        patient("y", "male", "2000-01-01"),
        encounter("e1", "x", "2024-01-10"),
        condition("c1", "x", "e1", "A15.0", "2024-01-10"),
        {
            "resourceType": "Condition",
            "id": "c2",
            "subject": {"reference": "Patient/y"},
            "recordedDate": "2024-01-02",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "A15.1"}]},
        },
    ]
    ctx = MapContext()
    bundle = evaluate(load_measure("tb-new-cases"), data, "202401", ctx, facility_system=FACILITY_SYSTEM)
    assert "GW-2201" in ctx.outcome.message_ids() and "GW-4320" in ctx.outcome.message_ids()
    assert all(r.value.value == "0" for r in flatten(to_data_value_set(bundle)))


def test_rerunning_a_period_gives_the_same_result(resources: list[dict]) -> None:
    for measure_id in MEASURES:
        first = evaluate(load_measure(measure_id), resources, "202401", MapContext(), facility_system=FACILITY_SYSTEM)
        again = evaluate(
            load_measure(measure_id), list(reversed(resources)), "202401", MapContext(), facility_system=FACILITY_SYSTEM
        )
        assert first.model_dump_json() == again.model_dump_json()


def test_outpatient_totals_equal_the_number_of_visits(resources: list[dict]) -> None:
    values = _values("outpatient-visits-by-icd10-chapter", resources)
    visits = sum(1 for r in resources if r["resourceType"] == "Encounter")
    assert sum(int(v) for v in values.values()) == visits


@pytest.mark.parametrize("measure_id", MEASURES)
def test_end_to_end_from_fhir_resources_to_an_accepted_import(measure_id: str, resources: list[dict]) -> None:
    """FHIR facility data -> indicator MeasureReports -> data value set -> pre-validated -> simulator import."""
    bundle = evaluate(load_measure(measure_id), resources, "202401", MapContext(), facility_system=FACILITY_SYSTEM)
    dvs = to_data_value_set(bundle, org_unit_scheme=ORG_SCHEME)
    schemes = dict(dvs.id_schemes)
    if measure_id == "immunizations-by-vaccine":  # the immunisation dataSet is not assigned to Cibinong
        dvs = dvs.__class__(
            **{**dvs.__dict__, "data_values": tuple(v for v in dvs.data_values if v.org_unit != "1020101")}
        )
    resolved, outcome = resolve_option_combos(dvs, demo_snapshot(), schemes)
    assert outcome.ok
    assert validate_data_value_set(resolved, demo_snapshot(), schemes).ok
    sim = create_app()
    client = Dhis2Client(
        Dhis2Config(
            base_url="http://sim",
            username="admin",
            password="district",
            id_schemes={**schemes, "categoryOptionComboIdScheme": "uid", "attributeOptionComboIdScheme": "uid"},
            dry_run_first=True,
        ),
        transport=httpx.WSGITransport(app=sim),
    )
    result = client.push(resolved)
    assert result.ok, result.raw
    assert result.import_count["imported"] == len(resolved.data_values)


def test_indicator_output_as_adx_is_accepted_without_coc_uids(resources: list[dict]) -> None:
    bundle = evaluate(load_measure("tb-new-cases"), resources, "202401", MapContext(), facility_system=FACILITY_SYSTEM)
    dvs = to_data_value_set(bundle, org_unit_scheme=ORG_SCHEME)
    client = Dhis2Client(
        Dhis2Config(
            base_url="http://sim",
            username="admin",
            password="district",
            id_schemes={"idScheme": "code", "orgUnitIdScheme": ORG_SCHEME},
        ),
        transport=httpx.WSGITransport(app=create_app()),
    )
    adx = AdxCodec().serialize(dvs)
    assert b'SEX="L"' in adx and b'FUND="APBN"' in adx
    result = client.push(adx, "dhis2.adx+xml")
    assert result.ok and result.import_count["imported"] == 24


def _adt(n: int, sex: str, born: str, icd: str, day: int) -> bytes:
    return (
        "\r".join(
            [
                f"MSH|^~\\&|SIMRS|PKM_PUTER|JEMBATAN|DINKES|202401{day:02d}093000||ADT^A03^ADT_A03|MSG{n:04d}|P|2.5",
                f"EVN|A03|202401{day:02d}093000",
                f"PID|1||RM-{n:04d}^^^PKM_PUTER^MR||PASIEN^{n}||{born}|{sex}",
                f"PV1|1|O|POLI-UMUM||||||||||||||||V{n:04d}^^^PKM_PUTER^VN|||||||||||||||||||||||||202401{day:02d}090000",
                f"DG1|1||{icd}^^I10||202401{day:02d}|F",
            ]
        )
        + "\r"
    ).encode()


def test_end_to_end_from_hl7v2_adt_to_an_accepted_import() -> None:
    """SIMRS ADT^A03 (PV1 outpatient, DG1 ICD-10) -> FHIR -> TB and outpatient indicators -> DHIS2 import."""
    from adapters.registry import default_registry

    registry = default_registry()
    if "hl7v2" not in registry:
        pytest.skip("the hl7v2 format is not part of this build")
    fmt = registry.get("hl7v2")
    messages = [
        _adt(1, "F", "19900501", "A15.0", 10),
        _adt(2, "M", "20200101", "A16.2", 11),
        _adt(3, "M", "19700101", "J18.9", 12),
        _adt(4, "F", "19850101", "I10", 12),
    ]
    resources = []
    for raw in messages:
        ctx = MapContext(MappingRegistry())
        resources.append(fmt.mapper.to_fhir(fmt.codec.parse(raw), ctx).model_dump(mode="json", exclude_none=True))
    sim = create_app()
    client = Dhis2Client(
        Dhis2Config(
            base_url="http://sim",
            username="admin",
            password="district",
            id_schemes={"idScheme": "code", "orgUnitIdScheme": "code"},
        ),
        transport=httpx.WSGITransport(app=sim),
    )
    for measure_id, expected in (("tb-new-cases", 8), ("outpatient-visits-by-icd10-chapter", 22)):
        ctx = MapContext(settings={"dhis2_org_unit": "P3273020201"})
        bundle = evaluate(load_measure(measure_id), resources, "202401", ctx)
        assert ctx.outcome.ok, ctx.outcome.issues
        dvs = to_data_value_set(bundle)
        counted = {r.value.category_options: r.value.value for r in flatten(dvs) if r.value.value != "0"}
        if measure_id == "tb-new-cases":
            assert counted == {(("SEX", "P"), ("AGE_TB", "A15_44")): "1", (("SEX", "L"), ("AGE_TB", "A0_4")): "1"}
        else:
            assert counted == {
                (("ICD10_CHAPTER", "CH01"),): "2",
                (("ICD10_CHAPTER", "CH10"),): "1",
                (("ICD10_CHAPTER", "CH09"),): "1",
            }
        result = client.push(AdxCodec().serialize(dvs), "dhis2.adx+xml")
        assert result.ok and result.import_count["imported"] == expected, result.raw


def test_a_visit_sent_in_several_messages_counts_once() -> None:
    from adapters.dhis2.indicators import Index

    enc = {"resourceType": "Encounter", "id": "e1", "status": "in-progress"}
    later = {"resourceType": "Encounter", "id": "e1", "status": "finished"}
    cond = {"resourceType": "Condition", "id": "c1", "encounter": {"reference": "Encounter/e1"}}
    bundles = [{"resourceType": "Bundle", "entry": [{"resource": r}]} for r in (enc, cond, later, cond)]
    index = Index.of(bundles)
    assert index.by_type["Encounter"] == [later]
    assert len(index.conditions_by_encounter["e1"]) == 1
