"""PV1/PV2/DG1 → Encounter details from the IG maps: table displays, PV2-1, status, DG1 before PV1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.base import MapContext
from adapters.hl7v2.codec import Hl7v2Codec
from adapters.hl7v2.mapper import Hl7v2Mapper
from mappings.registry import BUNDLED_ROOT, MappingRegistry
from tests.hl7v2.test_indonesia import convert, first

MSH = "MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||{event}|C1|P|2.5\r"
PID = "PID|1||RM1^^^RSUD^MR||SANTOSO^BUDI||19800101|M\r"


def pv1(patient_class: str = "I", admission_type: str = "E", readmission: str = "R", discharge: str = "") -> str:
    fields = ["PV1", "1", patient_class, "W1^^^RSUD", admission_type] + [""] * 8 + [readmission]
    fields += [""] * (45 - len(fields)) + [discharge]
    return "|".join(fields) + "\r"


def pv2(prior_pending: str = "", arrival: str = "") -> str:
    fields = ["PV2", prior_pending] + [""] * 36 + [arrival]
    return "|".join(fields) + "\r"


def encounter_of(*segments: str, event: str = "ADT^A01^ADT_A01") -> tuple[dict[str, Any], dict[str, Any]]:
    bundle, ctx = convert(MSH.format(event=event) + PID + "".join(segments))
    return first(bundle, "Encounter"), {"bundle": bundle, "ctx": ctx}


def test_admission_type_and_readmission_take_the_table_display() -> None:
    encounter, got = encounter_of(pv1())
    assert encounter["type"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v2-0007", "code": "E", "display": "Emergency"}  # fmt: skip
    assert encounter["hospitalization"]["reAdmission"]["coding"][0]["display"] == "Re-admission"
    used = got["ctx"].used_mappings
    assert "v2-0007-display" in used and "v2-0092-display" in used


def test_sender_display_wins_and_unknown_code_has_none() -> None:
    encounter, got = encounter_of(pv1(admission_type="E^Gawat darurat"))
    assert encounter["type"][0]["coding"][0]["display"] == "Gawat darurat"
    encounter, got = encounter_of(pv1(admission_type="3"))
    assert encounter["type"][0]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/v2-0007", "code": "3"}
    assert not [i for i in got["ctx"].outcome.issues if "0007" in str(i)]  # a missing display is not an issue


@pytest.mark.parametrize(("arrival", "display"), [("A", "Ambulance"), ("C^Mobil pribadi", "Mobil pribadi")])
def test_mode_of_arrival_display(arrival: str, display: str) -> None:
    encounter, _ = encounter_of(pv1(), pv2(arrival=arrival))
    coding = encounter["extension"][0]["valueCoding"]
    assert coding["system"] == "http://terminology.hl7.org/CodeSystem/v2-0430" and coding["display"] == display


def test_prior_pending_location_is_planned() -> None:
    encounter, got = encounter_of(pv1(), pv2(prior_pending="W2^R5^B1^RSUD"))
    statuses = [(loc["status"], loc["location"]["reference"]) for loc in encounter["location"]]
    assert [s for s, _ in statuses] == ["active", "planned"]
    location = next(e["resource"] for e in got["bundle"]["entry"]
                    if f"Location/{e['resource']['id']}" == statuses[1][1])  # fmt: skip
    assert location["identifier"][0]["value"] == "W2/R5/B1"


@pytest.mark.parametrize(
    ("patient_class", "discharge", "status"),
    [
        ("P", "", "planned"),
        ("P", "20240102100000", "finished"),
        ("I", "", "in-progress"),
        ("I", "20240102", "finished"),
    ],
)
def test_status_discharge_date_before_patient_class(patient_class: str, discharge: str, status: str) -> None:
    encounter, _ = encounter_of(pv1(patient_class=patient_class, discharge=discharge))
    assert encounter["status"] == status


def test_event_status_still_first() -> None:
    encounter, _ = encounter_of(pv1(discharge="20240102"), event="ADT^A11^ADT_A09")
    assert encounter["status"] == "cancelled"


def test_diagnosis_before_the_visit_is_attached_when_pv1_comes() -> None:
    dg1 = "DG1|1||K63.3^Ulcer of Intestine^I10||20240101|F|||||||||1|||||DX2^RSUD\r"
    encounter, got = encounter_of(dg1, pv1(), event="REF^I12^REF_I12")
    diagnosis = encounter["diagnosis"]
    assert len(diagnosis) == 1 and diagnosis[0]["rank"] == 1
    assert diagnosis[0]["use"]["coding"][0]["code"] == "DD"
    condition = first(got["bundle"], "Condition")
    assert diagnosis[0]["condition"]["reference"] == f"Condition/{condition['id']}"
    assert condition["encounter"]["reference"] == f"Encounter/{encounter['id']}"


def test_diagnosis_without_any_visit_stays_on_the_condition_only() -> None:
    bundle, _ = convert(MSH.format(event="ORM^O01^ORM_O01") + PID + "DG1|1||K63.3^Ulcer^I10||20240101|F\r")
    assert "encounter" not in first(bundle, "Condition")
    assert not [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"]


@pytest.mark.parametrize("table", ["0007", "0092", "0430"])
def test_display_maps_map_each_code_to_itself(table: str) -> None:
    data = json.loads((BUNDLED_ROOT / f"v2-{table}-display" / "0.1.0.json").read_text(encoding="utf-8"))
    system = f"http://terminology.hl7.org/CodeSystem/v2-{table}"
    (group,) = data["group"]
    assert group["source"] == group["target"] == system
    for element in group["element"]:
        (target,) = element["target"]
        assert target == {"code": element["code"], "display": element["display"], "equivalence": "equal"}


def test_expected_admit_and_discharge_become_planned_date_extensions() -> None:
    fields = ["PV2"] + [""] * 7 + ["20240101080000+0700", "20240105"]
    encounter, _ = encounter_of(pv1(), "|".join(fields) + "\r")
    extensions = {e["url"].rsplit(".", 1)[1]: e["valueDateTime"] for e in encounter["extension"]}
    assert extensions == {"plannedStartDate": "2024-01-01T08:00:00+07:00", "plannedEndDate": "2024-01-05"}
    assert "end" not in encounter.get("period", {})  # an expected discharge is not the end of the visit


def test_identifier_types_of_the_visit_take_the_table_0203_display() -> None:
    fields = pv1().rstrip("\r").split("|")
    fields[5] = "PRE1^^^RSUD^ANON"
    fields[19] = "V1^^^RSUD^XX"
    fields += [""] * (51 - len(fields))
    fields[50] = "ALT1^^^RSUD^MR"
    encounter, _ = encounter_of("|".join(fields) + "\r")
    pre = encounter["hospitalization"]["preAdmissionIdentifier"]["type"]["coding"][0]
    assert (pre["code"], pre["display"]) == ("ANON", "Anonymous identifier")
    visit, alternate = encounter["identifier"]
    v2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
    assert visit["type"]["coding"] == [{"system": v2_0203, "code": "VN", "display": "Visit number"}]
    assert visit["type"]["text"] == "visit number"
    assert alternate["type"]["coding"][0]["display"] == "Medical record number"


def test_discharge_disposition_local_coding_and_unknown_table_code() -> None:
    """PV1-36 in a local system (CWE-3) is kept as the sender's coding; an unknown table 0112 code is a warning."""

    def encounter(pv1_36: str) -> tuple[dict[str, Any], MapContext]:
        fields = ["PV1", "1", "I"] + [""] * 33 + [pv1_36]
        raw = ("MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A03|C1|P|2.5\r"
               "PID|1||RM1^^^RSUD^MR||SANTOSO^BUDI\r" + "|".join(fields) + "\r")  # fmt: skip
        ctx = MapContext(mappings=MappingRegistry(), settings={"timezone": "Asia/Jakarta"})
        bundle = dict(Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw.encode()), ctx))
        return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"), ctx

    local, ctx = encounter("PLG^Pulang atas permintaan sendiri^SIMRSPULANG")
    coding = local["hospitalization"]["dischargeDisposition"]["coding"][0]
    assert coding["code"] == "PLG" and coding["display"] == "Pulang atas permintaan sendiri"
    assert not ctx.outcome.errors
    unknown, ctx = encounter("ZZ")
    assert "dischargeDisposition" not in unknown.get("hospitalization", {})
    assert [i.severity for i in ctx.outcome.issues if i.message_id == "GW-2201"] == ["warning"]
