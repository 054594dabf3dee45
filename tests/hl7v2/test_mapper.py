from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import MapContext
from adapters.hl7v2.codec import Hl7v2Codec
from adapters.hl7v2.mapper import Hl7v2Mapper
from bridge.errors import GatewayError
from mappings.registry import MappingRegistry

REGISTRY = MappingRegistry()
ADT = (
    "MSH|^~\\&|SIMRS|RSUD^1.2.3^ISO|GW|KEMKES|20240101083000||ADT^A04^ADT_A01|C1|P|2.5\r"
    "PID|1||RM001^^^RSUD^MR~3171000000000001^^^NIK^NI||SANTOSO^BUDI||19800101|M|||Jl. Merdeka 1^^Jakarta\r"
    + "|".join(
        ["PV1", "1", "O", "POLI-A^^^RSUD", "", "", "", "D01^DOKTER^ANI^^^dr.^^^RSUD"]
        + [""] * 11
        + ["V001^^^RSUD^VN"]
        + [""] * 16
        + ["01"]
        + [""] * 7
        + ["20240101080000"]
    )
    + "\r"
)
ORU = (
    "MSH|^~\\&|LIS|LAB|GW|RS|20240101090000||ORU^R01|L1|P|2.5.1\r"
    "PID|1||RM001^^^RSUD^MR||SANTOSO^BUDI||19800101|F\r"
    "OBR|1|P1^SIMRS|F1^LIS|718-7^Hemoglobin^LN|||20240101081500|||||||||||||||20240101090000|||F\r"
    "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL^g/dL^UCUM|12-16|N|||F|||20240101081500\r"
    "OBX|2|ST|8251-1^Note^LN||lipemic||||||P\r"
    "OBX|3|XX|1-1^Odd^LN||x||||||Q\r"
)
SETTINGS = {
    "timezone": "Asia/Makassar",
    "identifier_systems": {"NIK": "https://fhir.kemkes.go.id/id/nik", "RSUD": "http://sys-ids.kemkes.go.id/mrn/1000"},
}


def run(raw: str, settings: dict[str, Any] | None = None) -> tuple[dict[str, Any], MapContext]:
    ctx = MapContext(mappings=REGISTRY, settings=settings if settings is not None else SETTINGS)
    bundle = Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw.encode()), ctx)
    return bundle.model_dump(mode="json", exclude_none=True, by_alias=True), ctx


def of_type(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def test_adt_patient_and_encounter() -> None:
    bundle, ctx = run(ADT)
    assert bundle["type"] == "transaction"
    (patient,) = of_type(bundle, "Patient")
    assert patient["gender"] == "male" and patient["birthDate"] == "1980-01-01"
    assert {"system": "https://fhir.kemkes.go.id/id/nik", "value": "3171000000000001"} == {
        k: v for k, v in patient["identifier"][1].items() if k in ("system", "value")
    }
    (enc,) = of_type(bundle, "Encounter")
    assert enc["class"]["code"] == "AMB"
    assert enc["period"]["start"] == "2024-01-01T08:00:00+08:00"  # WITA from settings
    assert enc["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "home"
    assert enc["subject"]["reference"] == f"Patient/{patient['id']}"
    assert all(e["request"]["method"] == "PUT" for e in bundle["entry"])
    assert ctx.used_mappings.keys() >= {"administrative-gender", "v2-0004-to-encounter-class"}


def test_ids_are_deterministic_and_distinct() -> None:
    first, _ = run(ADT)
    second, _ = run(ADT)
    assert [e["request"]["url"] for e in first["entry"]] == [e["request"]["url"] for e in second["entry"]]
    other, _ = run(ADT.replace("RM001", "RM002"))
    assert of_type(other, "Patient")[0]["id"] != of_type(first, "Patient")[0]["id"]


def test_unconfigured_identifier_system_is_derived_and_reported() -> None:
    bundle, ctx = run(ADT, {})
    patient = of_type(bundle, "Patient")[0]
    assert patient["identifier"][0]["system"] == "urn:jembatan:identifier:rsud"
    assert any(i.message_id == "GW-1340" and i.severity == "information" for i in ctx.outcome.issues)
    assert of_type(bundle, "Encounter")[0]["period"]["start"].endswith("+07:00")


def test_oru_observations() -> None:
    bundle, ctx = run(ORU)
    (report,) = of_type(bundle, "DiagnosticReport")
    obs = {o["code"]["coding"][0]["code"]: o for o in of_type(bundle, "Observation")}
    assert report["status"] == "final" and len(report["result"]) == 3
    hb = obs["718-7"]
    assert hb["valueQuantity"] == {"value": 13.5, "unit": "g/dL", "code": "g/dL", "system": "http://unitsofmeasure.org"}
    assert hb["code"]["coding"][0]["system"] == "http://loinc.org"
    assert hb["referenceRange"][0]["low"]["value"] == 12 and hb["status"] == "final"
    assert obs["8251-1"]["valueString"] == "lipemic" and obs["8251-1"]["status"] == "preliminary"
    codes = {(i.message_id, i.severity) for i in ctx.outcome.issues}
    assert ("GW-2201", "warning") in codes  # XX value type and Q status are unmapped, and reported (not an AE)
    assert of_type(bundle, "ServiceRequest")[0]["identifier"][0]["value"] == "P1"


@pytest.mark.parametrize("sex", ["X", "Z"])
def test_unmapped_sex_is_reported(sex: str) -> None:
    bundle, ctx = run(ADT.replace("|19800101|M|", f"|19800101|{sex}|"))
    assert "gender" not in of_type(bundle, "Patient")[0]
    assert any(i.message_id == "GW-2201" and "PID[1]-8" in i.expression for i in ctx.outcome.issues)


FIELD = st.text(alphabet=st.sampled_from("0123456789ABZ^&~\\.-+ :"), max_size=25)


@given(st.lists(st.tuples(st.sampled_from(["PID", "PV1", "OBR", "OBX", "DG1", "AL1", "NK1", "RXA", "SPM", "ORC"]),
                          st.lists(FIELD, max_size=40)), min_size=1, max_size=6))  # fmt: skip
def test_mapping_arbitrary_fields_never_crashes(segments: list[tuple[str, list[str]]]) -> None:
    body = "".join(f"{sid}|{'|'.join(fields)}\r" for sid, fields in segments)
    raw = "MSH|^~\\&|S|F|||20240101||ORU^R01|1|P|2.5\r" + body
    try:
        run(raw)
    except GatewayError:
        pass
