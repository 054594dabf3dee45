from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import MapContext
from adapters.registry import FormatRegistry
from adapters.satusehat import SatusehatJsonCodec, SatusehatProfileMapper, SatusehatValidator, build_bundle, register
from adapters.satusehat.profile import to_utc
from bridge.errors import ConfigError
from mappings.registry import MappingRegistry
from tests.helpers import SHARED
from tests.satusehat.satusehat_payloads import HL7, ORG, concept, patient, pivot_visit

REGISTRY = MappingRegistry()
VITALS = {"8867-4": "/min", "9279-1": "/min", "8310-5": "Cel", "8302-2": "cm", "29463-7": "kg"}


def ctx() -> MapContext:
    return MapContext(mappings=REGISTRY, settings={"organization_id": ORG})


def of_type(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


@pytest.fixture(scope="module")
def profiled() -> dict[str, Any]:
    return build_bundle(pivot_visit(), ctx())


def test_profiled_visit_passes_preflight(profiled: dict[str, Any]) -> None:
    outcome = SatusehatValidator().validate(profiled, MapContext(settings={"organization_id": ORG}))
    assert outcome.ok, [(i.message_id, i.expression, i.message) for i in outcome.errors]
    assert outcome.warnings == []


def test_identifiers_use_sys_ids_of_the_credentials_org(profiled: dict[str, Any]) -> None:
    (enc,) = of_type(profiled, "Encounter")
    assert enc["identifier"] == [
        {"use": "official", "system": f"http://sys-ids.kemkes.go.id/encounter/{ORG}", "value": "RJ-0001"}
    ]
    assert enc["serviceProvider"] == {"reference": f"Organization/{ORG}"}
    assert {c["identifier"][0]["system"] for c in of_type(profiled, "Condition")} == {
        f"http://sys-ids.kemkes.go.id/condition/{ORG}"
    }


def test_times_are_utc_with_seconds(profiled: dict[str, Any]) -> None:
    (enc,) = of_type(profiled, "Encounter")
    assert enc["period"] == {"start": "2024-06-14T00:00:00+00:00", "end": "2024-06-14T02:00:00+00:00"}


def test_status_history_is_contiguous_and_ends_finished(profiled: dict[str, Any]) -> None:
    (enc,) = of_type(profiled, "Encounter")
    history = enc["statusHistory"]
    assert [h["status"] for h in history] == ["arrived", "in-progress", "finished"]
    for current, following in zip(history, history[1:], strict=False):
        assert current["period"]["end"] == following["period"]["start"]
    assert history[-1]["period"]["end"] == enc["period"]["end"]


def test_blood_pressure_panel_is_split(profiled: dict[str, Any]) -> None:
    observations = of_type(profiled, "Observation")
    bp = {o["code"]["coding"][0]["code"]: o["valueQuantity"] for o in observations}
    assert bp["8480-6"] == {"value": 120, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    assert bp["8462-4"]["value"] == 80
    assert all("component" not in o for o in observations)
    assert all(o["issued"] for o in observations)


def test_two_icd10_codes_make_two_conditions_ranked(profiled: dict[str, Any]) -> None:
    conditions = [e for e in profiled["entry"] if e["resource"]["resourceType"] == "Condition"]
    assert [c["resource"]["code"]["coding"][0]["code"] for c in conditions] == ["A15.0", "E11.9"]
    (enc,) = of_type(profiled, "Encounter")
    assert [(d["condition"]["reference"], d["rank"]) for d in enc["diagnosis"]] == [
        (conditions[0]["fullUrl"], 1),
        (conditions[1]["fullUrl"], 2),
    ]


def test_patient_and_practitioner_are_lookups_by_nik(profiled: dict[str, Any]) -> None:
    requests = {e["resource"]["resourceType"]: e["request"] for e in profiled["entry"]}
    assert requests["Patient"]["ifNoneExist"] == "identifier=https://fhir.kemkes.go.id/id/nik|3174031002890009"
    assert requests["Practitioner"] == {
        "method": "GET",
        "url": "Practitioner?identifier=https://fhir.kemkes.go.id/id/nik|3171010101800001",
    }


def test_same_visit_gives_same_bundle() -> None:
    assert build_bundle(pivot_visit(), ctx()) == build_bundle(pivot_visit(), ctx())


def test_wrong_unit_is_reported_not_converted() -> None:
    pivot = pivot_visit()
    hr = next(e["resource"] for e in pivot["entry"] if e["resource"].get("id") == "hr-1")
    hr["valueQuantity"] = {"value": 1.3, "unit": "/s", "code": "/s", "system": "http://unitsofmeasure.org"}
    context = ctx()
    build_bundle(pivot, context)
    assert "GW-1623" in context.outcome.message_ids()


def test_vital_sign_without_category_gets_it_from_the_map() -> None:
    pivot = pivot_visit()
    hr = next(e["resource"] for e in pivot["entry"] if e["resource"].get("id") == "hr-1")
    hr.pop("category", None)
    context = ctx()
    bundle = build_bundle(pivot, context)
    heart = next(o for o in of_type(bundle, "Observation") if o["code"]["coding"][0]["code"] == "8867-4")
    assert heart["category"][0]["coding"][0]["code"] == "vital-signs"
    assert context.used_mappings["satusehat-observation-category"]["version"] == "1.0.0"
    assert context.outcome.ok


def test_unknown_code_without_category_is_still_refused() -> None:
    pivot = pivot_visit()
    hr = next(e["resource"] for e in pivot["entry"] if e["resource"].get("id") == "hr-1")
    hr.pop("category", None)
    hr["code"] = concept("http://loinc.org", "99999-9", "Not a vital sign")
    context = ctx()
    bundle = build_bundle(pivot, context)
    outcome = SatusehatValidator().validate(bundle, context)
    assert any(i.expression and i.expression[0].endswith(".category") for i in outcome.errors)


def test_missing_nik_is_reported() -> None:
    pat = patient()
    pat["identifier"] = [{"system": "urn:simrs:mrn", "value": "RM-1"}]
    context = ctx()
    build_bundle(pat, context)
    assert "GW-1621" in context.outcome.message_ids()


def test_missing_organization_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        build_bundle(pivot_visit(), MapContext(mappings=REGISTRY))
    assert info.value.code == "GW-1610"


def test_registered_as_format_and_profile() -> None:
    registry = FormatRegistry()
    register(registry)
    fmt = registry.get("satusehat+json")
    assert isinstance(fmt.mapper, SatusehatProfileMapper)
    assert "satusehat" in registry.profiles()
    codec = SatusehatJsonCodec()
    assert codec.parse(codec.serialize({"resourceType": "Patient"})) == {"resourceType": "Patient"}


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        ("2024-06-14T09:00:00+07:00", "2024-06-14T02:00:00+00:00"),
        ("2024-06-14T09:00+08:00", "2024-06-14T01:00:00+00:00"),
        ("2024-06-14T02:00:00Z", "2024-06-14T02:00:00+00:00"),
        ("2024-06-14T09:00:00", "2024-06-14T02:00:00+00:00"),  # no offset: read in Asia/Jakarta
        ("2024-06-14", "2024-06-14"),
    ],
)
def test_to_utc(given_value: str, expected: str) -> None:
    from zoneinfo import ZoneInfo

    assert to_utc(given_value, ZoneInfo("Asia/Jakarta")) == expected


# ------------------------------------------------------------------------------ round-trip property

BASE_TIME = datetime(2024, 6, 14, tzinfo=UTC)
OFFSETS = st.sampled_from(["+07:00", "+08:00", "+09:00", "+00:00"])
ICD10 = st.from_regex(r"\A[A-Z][0-9]{2}\.[0-9]\Z")


def stamp(minutes: int, offset: str) -> str:
    sign = 1 if offset[0] == "+" else -1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    local = BASE_TIME + timedelta(minutes=minutes) + delta
    return local.strftime("%Y-%m-%dT%H:%M:%S") + offset


@st.composite
def pivots(draw: st.DrawFn) -> dict[str, Any]:
    pivot = pivot_visit()
    entries = [e for e in pivot["entry"] if e["resource"]["resourceType"] not in ("Observation", "Condition")]
    start = draw(st.integers(0, 600))
    length = draw(st.integers(1, 600))
    enc = next(e["resource"] for e in entries if e["resource"]["resourceType"] == "Encounter")
    enc["period"] = {"start": stamp(start, draw(OFFSETS)), "end": stamp(start + length, draw(OFFSETS))}
    for i in range(draw(st.integers(0, 4))):
        code = draw(st.sampled_from(sorted(VITALS)))
        value = draw(st.decimals(min_value=0, max_value=500, places=1).map(float))
        obs = copy.deepcopy(next(e for e in pivot_visit()["entry"] if e["resource"].get("id") == "hr-1"))
        obs["fullUrl"] = f"Observation/o{i}"
        obs["resource"].update(id=f"o{i}", code=concept("http://loinc.org", code))
        obs["resource"]["valueQuantity"] = {"value": value, "unit": VITALS[code]}
        obs["resource"]["effectiveDateTime"] = stamp(start + i, draw(OFFSETS))
        entries.append(obs)
    if draw(st.booleans()):
        entries.append(next(e for e in pivot_visit()["entry"] if e["resource"].get("id") == "bp-1"))
    for i in range(draw(st.integers(0, 3))):
        codes = draw(st.lists(ICD10, min_size=1, max_size=3, unique=True))
        cond = {
            "resourceType": "Condition",
            "id": f"c{i}",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": c} for c in codes]},
            "category": [concept(HL7 + "condition-category", "encounter-diagnosis")],
            "subject": {"reference": "Patient/pat-1"},
            "encounter": {"reference": "Encounter/v-1"},
        }
        entries.append({"fullUrl": f"Condition/c{i}", "resource": cond})
    pivot["entry"] = entries
    return pivot


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def clinical_values(bundle: dict[str, Any]) -> dict[str, Any]:
    """Every clinical value, independent of how resources are split or which ids they carry."""
    resources = [e["resource"] for e in bundle["entry"]]
    quantities: Counter[tuple[str, float, str]] = Counter()
    times: Counter[tuple[str, datetime]] = Counter()
    for res in resources:
        if res["resourceType"] != "Observation":
            continue
        for part in [res, *res.get("component", [])]:
            if "valueQuantity" in part:
                q = part["valueQuantity"]
                quantities[(part["code"]["coding"][0]["code"], q["value"], q.get("code") or q["unit"])] += 1
        if "component" not in res:
            times[(res["code"]["coding"][0]["code"], instant(res["effectiveDateTime"]))] += 1
    enc = next(r for r in resources if r["resourceType"] == "Encounter")
    pat = next(r for r in resources if r["resourceType"] == "Patient")
    return {
        "quantities": quantities,
        "diagnoses": sorted(
            c["code"] for r in resources if r["resourceType"] == "Condition" for c in r["code"]["coding"]
        ),
        "encounter": (enc["status"], instant(enc["period"]["start"]), instant(enc["period"]["end"])),
        "class": enc["class"]["code"],
        "patient": (pat["identifier"][0]["value"], pat["birthDate"], pat["gender"]),
        "procedures": sorted(r["code"]["coding"][0]["code"] for r in resources if r["resourceType"] == "Procedure"),
        "times": {k[0] for k in times},
    }


@given(pivots())
def test_pivot_to_profile_to_pivot_keeps_every_clinical_value(pivot: dict[str, Any]) -> None:
    mapper = SatusehatProfileMapper()
    profiled = mapper.from_fhir(pivot, ctx())
    back = mapper.to_fhir(profiled, ctx())
    before, after = clinical_values(pivot), clinical_values(back)
    assert after["quantities"] == before["quantities"]
    assert after["diagnoses"] == before["diagnoses"]
    assert after["encounter"] == before["encounter"]
    assert after["patient"] == before["patient"]
    assert after["procedures"] == before["procedures"]
    assert before["times"] <= after["times"] | {"85354-9"}
    outcome = SatusehatValidator().validate(profiled, MapContext(settings={"organization_id": ORG}))
    if before["diagnoses"]:
        assert outcome.ok, [(i.message_id, i.expression) for i in outcome.errors]
    else:  # a finished visit without any diagnosis is refused, and pre-flight says so
        assert [i.message_id for i in outcome.errors] == ["GW-4115"]


def test_mapper_runs_preflight_on_its_output() -> None:
    good = ctx()
    SatusehatProfileMapper().from_fhir(pivot_visit(), good)
    assert good.outcome.ok
    pivot = pivot_visit()
    enc = next(e["resource"] for e in pivot["entry"] if e["resource"]["resourceType"] == "Encounter")
    enc["period"]["start"] = "2013-01-01T08:00:00+07:00"
    bad = ctx()
    SatusehatProfileMapper().from_fhir(pivot, bad)
    assert "GW-4109" in [i.message_id for i in bad.outcome.errors]


def test_mapper_accepts_fhir_resources_models() -> None:
    from fhir.resources.R4B.bundle import Bundle

    model = Bundle.model_validate(pivot_visit())
    context = ctx()
    bundle = SatusehatProfileMapper().from_fhir(model, context)
    assert context.outcome.ok, [(i.message_id, i.expression) for i in context.outcome.errors]
    assert len(of_type(bundle, "Observation")) == 3


SAMPLE_DIR = str(SHARED / "samples/satusehat/postman-bodies/") + "/"
OTHER_TYPES = {
    "allergy-intolerance__allergyintolerance-create.json": ("AllergyIntolerance", ["allergy"]),
    "composition__composition-edukasi-diet.json": ("Composition", ["composition"]),
    "clinical-impression__clinicalimpression-create.json": ("ClinicalImpression", ["clinicalimpression"]),
    "medication-dispense__medicationdispense-create.json": (
        "MedicationDispense",
        ["prescription", "prescription-item"],
    ),
    "procedure__procedure-create.json": ("Procedure", ["procedure"]),
}


@pytest.mark.parametrize("name", sorted(OTHER_TYPES))
def test_other_outpatient_resources_get_their_sys_ids(name: str) -> None:
    import json
    from pathlib import Path

    path = Path(SAMPLE_DIR + name)
    if not path.is_file():
        pytest.skip("shared samples not present")
    resource = json.loads(path.read_text().replace("{{Org_id}}", "1").replace("{{Encounter_uuid}}", "e-1"))
    resource.pop("identifier", None)
    resource["id"] = "local-42"
    rtype, kinds = OTHER_TYPES[name]
    bundle = build_bundle(resource, ctx())
    (out,) = of_type(bundle, rtype)
    idents = out["identifier"] if isinstance(out["identifier"], list) else [out["identifier"]]
    assert [i["system"] for i in idents] == [f"http://sys-ids.kemkes.go.id/{k}/{ORG}" for k in kinds]
    assert all(i["value"].startswith("local-42") for i in idents)
    times = [v for v in json.dumps(out).split('"') if v[:2] == "20" and "T" in v]
    assert all(t.endswith("+00:00") for t in times)
