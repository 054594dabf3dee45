"""Every rejection the SATUSEHAT reference documents, each with a payload that triggers it.

The pre-flight validator must catch each one before anything is sent; the untouched base payloads
must pass. Where SATUSEHAT publishes a rule number the message carries it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.base import MapContext
from adapters.satusehat import RULES, SatusehatValidator
from adapters.satusehat.rules import RULES_BY_ID
from tests.helpers import SHARED
from tests.satusehat.satusehat_payloads import ORG, base, concept, encounter

Mutation = Callable[[dict[str, Any]], None]


def validate(doc: Any, org: str | None = ORG, terminology: Any = None) -> Any:
    settings = {"organization_id": org} if org else {}
    return SatusehatValidator().validate(doc, MapContext(settings=settings, terminology=terminology))


def drop(*path: str) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[int(path[-1]) if path[-1].isdigit() else path[-1]]

    return apply


def put(path: str, value: Any) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        parts = path.split(".")
        target: Any = doc
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return apply


def both(*mutations: Mutation) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(doc)

    return apply


def finished_with_in_progress_history(doc: dict[str, Any]) -> None:
    doc["statusHistory"] = doc["statusHistory"][:2]


def bp_panel(doc: dict[str, Any]) -> None:
    doc["code"] = concept("http://loinc.org", "85354-9")
    del doc["valueQuantity"]
    doc["component"] = [
        {
            "code": concept("http://loinc.org", "8480-6"),
            "valueQuantity": {"value": 120, "system": "x", "code": "mm[Hg]"},
        },
        {
            "code": concept("http://loinc.org", "8462-4"),
            "valueQuantity": {"value": 80, "system": "x", "code": "mm[Hg]"},
        },
    ]


def two_icd10(doc: dict[str, Any]) -> None:
    doc["code"]["coding"].append({"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"})


def put_without_id(doc: dict[str, Any]) -> None:
    doc["entry"][0]["request"] = {"method": "PUT", "url": "Encounter/abc"}


# (case id, base, mutation, message id, expected FHIRPath, severity)
CASES: list[tuple[str, str, Mutation, str, str, str]] = [
    # §3.2/§5 RuleNumber 10117: sys-ids URL with another org than the credentials'
    (
        "wrong-org-in-system",
        "Encounter",
        put("identifier.0.system", "http://sys-ids.kemkes.go.id/encounter/999"),
        "GW-4101",
        "Encounter.identifier[0].system",
        "error",
    ),
    (
        "wrong-org-in-bundle",
        "Bundle",
        put("entry.0.resource.identifier.0.system", "http://sys-ids.kemkes.go.id/encounter/999"),
        "GW-4101",
        "Bundle.entry[0].resource.identifier[0].system",
        "error",
    ),
    (
        "sys-ids-https",
        "Encounter",
        put("identifier.0.system", f"https://sys-ids.kemkes.go.id/encounter/{ORG}"),
        "GW-4102",
        "Encounter.identifier[0].system",
        "error",
    ),
    (
        "sys-ids-no-org",
        "Encounter",
        put("identifier.0.system", "http://sys-ids.kemkes.go.id/encounter"),
        "GW-4102",
        "Encounter.identifier[0].system",
        "error",
    ),
    # §1.2: one credential, one organization ("resource cannot be accessed due to business rule")
    (
        "service-provider-other-org",
        "Encounter",
        put("serviceProvider", {"reference": "Organization/999"}),
        "GW-4103",
        "Encounter.serviceProvider.reference",
        "error",
    ),
    (
        "location-managed-by-other-org",
        "Location",
        put("managingOrganization", {"reference": "Organization/999"}),
        "GW-4103",
        "Location.managingOrganization.reference",
        "error",
    ),
    # §3.1 national identifiers
    (
        "nik-http",
        "Patient",
        put("identifier.0.system", "http://fhir.kemkes.go.id/id/nik"),
        "GW-4104",
        "Patient.identifier[0].system",
        "error",
    ),
    (
        "nik-15-digits",
        "Patient",
        put("identifier.0.value", "317403100289000"),
        "GW-4105",
        "Patient.identifier[0].value",
        "error",
    ),
    # §1.3 Patient minimum data (address required in practice, PR #60)
    (
        "patient-no-nik",
        "Patient",
        put("identifier.0.system", "https://fhir.kemkes.go.id/id/paspor"),
        "GW-4130",
        "Patient.identifier",
        "error",
    ),
    ("patient-no-address", "Patient", drop("address"), "GW-4106", "Patient.address", "error"),
    ("patient-no-birthdate", "Patient", drop("birthDate"), "GW-4106", "Patient.birthDate", "error"),
    (
        "patient-no-name-text",
        "Patient",
        put("name.0", {"family": "Santoso"}),
        "GW-4106",
        "Patient.name[0].text",
        "error",
    ),
    ("patient-gender-unknown", "Patient", put("gender", "unknown"), "GW-4131", "Patient.gender", "error"),
    (
        "patient-birthdate-partial",
        "Patient",
        put("birthDate", "1980-11"),
        "GW-4134",
        "Patient.birthDate",
        "error",
    ),
    (
        "address-no-admin-code",
        "Patient",
        put("address.0.extension", []),
        "GW-4132",
        "Patient.address[0].extension",
        "error",
    ),
    (
        "admin-code-no-city",
        "Patient",
        put("address.0.extension.0.extension", [{"url": "province", "valueCode": "31"}]),
        "GW-4132",
        "Patient.address[0].extension[0]",
        "error",
    ),
    (
        "admin-code-not-digits",
        "Patient",
        put("address.0.extension.0.extension.1.valueCode", "JKT"),
        "GW-4133",
        "Patient.address[0].extension[0].extension[1].valueCode",
        "error",
    ),
    (
        "admin-code-length",
        "Patient",
        put("address.0.extension.0.extension.2.valueCode", "3174031"),
        "GW-4133",
        "Patient.address[0].extension[0].extension[2].valueCode",
        "warning",
    ),
    (
        "admin-code-casing",
        "Patient",
        put("address.0.extension.0.url", "https://fhir.kemkes.go.id/r4/StructureDefinition/AdministrativeCode"),
        "GW-4135",
        "Patient.address[0].extension[0].url",
        "information",
    ),
    # §3.5 Encounter required fields
    *[
        (f"encounter-no-{field}", "Encounter", drop(field), "GW-4106", f"Encounter.{field}", "error")
        for field in (
            "identifier",
            "class",
            "subject",
            "participant",
            "location",
            "statusHistory",
            "serviceProvider",
        )
    ],
    (
        "encounter-no-period-start",
        "Encounter",
        drop("period", "start"),
        "GW-4106",
        "Encounter.period.start",
        "error",
    ),
    (
        "encounter-no-atnd",
        "Encounter",
        put("participant.0.type", [concept("x", "PPRF")]),
        "GW-4117",
        "Encounter.participant",
        "error",
    ),
    (
        "encounter-participant-not-practitioner",
        "Encounter",
        put("participant.0.individual", {"reference": "Patient/1"}),
        "GW-4117",
        "Encounter.participant[0].individual",
        "error",
    ),
    # §3.5 Encounter lifecycle: arrived first, contiguous, chronological, status = last history entry
    (
        "history-not-arrived-first",
        "Encounter",
        put("statusHistory.0.status", "planned"),
        "GW-4112",
        "Encounter.statusHistory[0].status",
        "error",
    ),
    (
        "history-gap",
        "Encounter",
        put("statusHistory.1.period.start", "2024-06-14T01:05:00+00:00"),
        "GW-4113",
        "Encounter.statusHistory[1].period.start",
        "error",
    ),
    (
        "history-open-entry",
        "Encounter",
        drop("statusHistory", "0", "period", "end"),
        "GW-4113",
        "Encounter.statusHistory[0].period.end",
        "error",
    ),
    (
        "history-backwards",
        "Encounter",
        put("statusHistory.0.period.end", "2024-06-13T23:00:00+00:00"),
        "GW-4113",
        "Encounter.statusHistory[0].period.end",
        "error",
    ),
    (
        "status-not-last-history",
        "Encounter",
        finished_with_in_progress_history,
        "GW-4114",
        "Encounter.status",
        "error",
    ),
    ("finished-no-end", "Encounter", drop("period", "end"), "GW-4115", "Encounter.period.end", "error"),
    ("finished-no-diagnosis", "Encounter", drop("diagnosis"), "GW-4115", "Encounter.diagnosis", "error"),
    (
        "diagnosis-rank-gap",
        "Encounter",
        put("diagnosis.1.rank", 3),
        "GW-4116",
        "Encounter.diagnosis",
        "error",
    ),
    (
        "diagnosis-no-use",
        "Encounter",
        drop("diagnosis", "0", "use"),
        "GW-4116",
        "Encounter.diagnosis[0].use",
        "error",
    ),
    (
        "period-start-mismatch",
        "Encounter",
        put("period.start", "2024-06-13T23:00:00+00:00"),
        "GW-4118",
        "Encounter.period.start",
        "error",
    ),
    # §3.5 time format and date floor
    (
        "time-no-offset",
        "Encounter",
        both(
            put("period.start", "2024-06-14T00:00:00"),
            put("statusHistory.0.period.start", "2024-06-14T00:00:00"),
        ),
        "GW-4107",
        "Encounter.period.start",
        "error",
    ),
    (
        "time-no-seconds",
        "Condition",
        put("recordedDate", "2024-06-14T02:00+00:00"),
        "GW-4107",
        "Condition.recordedDate",
        "error",
    ),
    (
        "time-wib-offset",
        "Condition",
        put("recordedDate", "2024-06-14T09:00:00+07:00"),
        "GW-4108",
        "Condition.recordedDate",
        "warning",
    ),
    (
        "date-before-2014-06-03",
        "Condition",
        put("recordedDate", "2014-06-02T23:59:59+00:00"),
        "GW-4109",
        "Condition.recordedDate",
        "error",
    ),
    (
        "date-without-time",
        "Observation",
        put("effectiveDateTime", "2024-06-14"),
        "GW-4110",
        "Observation.effectiveDateTime",
        "warning",
    ),
    # §1.3/§5 PUT needs the id ("id is required", ISS#55)
    ("put-without-id", "Bundle", put_without_id, "GW-4111", "Bundle.entry[0].resource.id", "error"),
    # §3.5 Condition: exactly one ICD-10 code
    ("condition-two-icd10", "Condition", two_icd10, "GW-4120", "Condition.code.coding", "error"),
    (
        "condition-no-code",
        "Condition",
        put("code", concept("http://example.org/local", "TBC")),
        "GW-4120",
        "Condition.code.coding",
        "error",
    ),
    ("condition-no-encounter", "Condition", drop("encounter"), "GW-4106", "Condition.encounter", "error"),
    (
        "condition-icd10-malformed",
        "Condition",
        put("code.coding.0.code", "a150"),
        "GW-4171",
        "Condition.code.coding[0].code",
        "error",
    ),
    # §3.5 profiles: Observation value[x]; vital signs LOINC + UCUM; BP as two Observations
    (
        "observation-value-string",
        "Observation",
        both(drop("valueQuantity"), put("valueString", "80")),
        "GW-4125",
        "Observation.valueString",
        "error",
    ),
    (
        "vital-not-loinc",
        "Observation",
        put("code", concept("http://snomed.info/sct", "364075005")),
        "GW-4126",
        "Observation.code.coding",
        "error",
    ),
    (
        "vital-not-ucum",
        "Observation",
        put("valueQuantity.system", "http://example.org/units"),
        "GW-4126",
        "Observation.valueQuantity.system",
        "error",
    ),
    (
        "vital-wrong-unit",
        "Observation",
        put("valueQuantity.code", "/h"),
        "GW-4126",
        "Observation.valueQuantity.code",
        "error",
    ),
    ("vital-no-performer", "Observation", drop("performer"), "GW-4106", "Observation.performer", "error"),
    ("vital-bp-panel", "Observation", bp_panel, "GW-4127", "Observation.component", "warning"),
    # §1.4/§3.5 KFA medication
    (
        "medication-not-kfa",
        "Medication",
        put("code", concept("http://example.org/obat", "PCT500")),
        "GW-4140",
        "Medication.code.coding",
        "error",
    ),
    (
        "medication-ingredient-product-code",
        "Medication",
        put("ingredient.0.itemCodeableConcept.coding.0.code", "93001019"),
        "GW-4141",
        "Medication.ingredient[0].itemCodeableConcept",
        "error",
    ),
    (
        "medication-kfa-malformed",
        "Medication",
        put("code.coding.0.code", "9300"),
        "GW-4171",
        "Medication.code.coding[0].code",
        "error",
    ),
    ("medication-no-type", "Medication", put("extension", []), "GW-4142", "Medication.extension", "warning"),
    (
        "prescription-item-missing",
        "MedicationRequest",
        drop("identifier", "1"),
        "GW-4143",
        "MedicationRequest.identifier",
        "error",
    ),
    (
        "medication-codeable-concept",
        "MedicationRequest",
        drop("medicationReference"),
        "GW-4144",
        "MedicationRequest.medicationReference",
        "error",
    ),
    # §2 step 9: Procedure in ICD-9-CM
    (
        "procedure-not-icd9cm",
        "Procedure",
        put("code", concept("http://snomed.info/sct", "399208008")),
        "GW-4145",
        "Procedure.code.coding",
        "error",
    ),
    # §1.3 Location sample's swapped coordinates
    (
        "location-swapped-coordinates",
        "Location",
        put("position", {"longitude": -6.23, "latitude": 106.83}),
        "GW-4150",
        "Location.position.latitude",
        "error",
    ),
    # §2 transaction Bundle shape and urn:uuid references
    ("bundle-not-transaction", "Bundle", put("type", "collection"), "GW-4100", "Bundle.type", "error"),
    (
        "bundle-entry-no-request",
        "Bundle",
        drop("entry", "1", "request"),
        "GW-4160",
        "Bundle.entry[1].request",
        "error",
    ),
    (
        "bundle-duplicate-fullurl",
        "Bundle",
        put("entry.1.fullUrl", "urn:uuid:11111111-1111-4111-8111-111111111111"),
        "GW-4160",
        "Bundle.entry[1].fullUrl",
        "error",
    ),
    (
        "bundle-dangling-uuid",
        "Bundle",
        put("entry.1.resource.encounter.reference", "urn:uuid:33333333-3333-4333-8333-333333333333"),
        "GW-4161",
        "Bundle.entry[1].resource.encounter.reference",
        "error",
    ),
    (
        "subject-not-patient",
        "Condition",
        put("subject", {"reference": "Practitioner/N10000001"}),
        "GW-4162",
        "Condition.subject.reference",
        "error",
    ),
]


@pytest.mark.parametrize(
    "kind",
    [
        "Patient",
        "Encounter",
        "Condition",
        "Observation",
        "Medication",
        "MedicationRequest",
        "Procedure",
        "Location",
        "Bundle",
    ],
)
def test_base_payload_passes_without_issues(kind: str) -> None:
    outcome = validate(base(kind))
    assert outcome.issues == [], [i.message for i in outcome.issues]


@pytest.mark.parametrize("status", ["arrived", "in-progress", "finished"])
def test_each_encounter_stage_passes(status: str) -> None:
    assert validate(encounter(status)).issues == []


@pytest.mark.parametrize(
    ("case", "kind", "mutate", "message_id", "expression", "severity"), CASES, ids=[c[0] for c in CASES]
)
def test_rejection_is_caught(
    case: str, kind: str, mutate: Mutation, message_id: str, expression: str, severity: str
) -> None:
    doc = base(kind)
    mutate(doc)
    outcome = validate(doc)
    found = [i for i in outcome.issues if i.message_id == message_id]
    assert found, f"{case}: expected {message_id}, got {[(i.message_id, i.expression) for i in outcome.issues]}"
    assert expression in {e for i in found for e in i.expression}
    assert severity in {i.severity for i in found}
    if severity == "error":
        assert not outcome.ok


def test_every_rule_has_a_rejection_case() -> None:
    covered = {case[3] for case in CASES} | {"GW-4170"}  # terminology: see test_terminology_binding
    assert {rule.message_id for rule in RULES} <= covered


def test_rule_number_10117_is_kept_in_the_message() -> None:
    doc = base("Encounter")
    doc["identifier"][0]["system"] = "http://sys-ids.kemkes.go.id/encounter/999"
    (found,) = [i for i in validate(doc).issues if i.message_id == "GW-4101"]
    assert "RuleNumber: 10117" in found.message
    assert RULES_BY_ID["GW-4101"].satusehat_rule == "10117"
    assert found.code == "business-rule"


def test_without_settings_org_mixed_ids_are_still_caught_as_reference_mismatch() -> None:
    doc = base("Encounter")
    assert validate(doc, org=None).ok
    doc["identifier"][0]["system"] = "http://sys-ids.kemkes.go.id/encounter"
    assert "GW-4102" in validate(doc, org=None).message_ids()


class FakeTerminology:
    def __init__(self, known: set[tuple[str, str]]) -> None:
        self.known = known
        self.calls: list[tuple[str, str]] = []

    def validate_code(self, system: str, code: str) -> Any:
        self.calls.append((system, code))
        if system != "http://hl7.org/fhir/sid/icd-10":
            return None  # not mine
        return {"result": (system, code) in self.known}


def test_terminology_binding_rejects_unknown_code() -> None:
    tx = FakeTerminology({("http://hl7.org/fhir/sid/icd-10", "A15.0")})
    assert validate(base("Condition"), terminology=tx).ok
    doc = base("Condition")
    doc["code"]["coding"][0]["code"] = "Z99.99"
    outcome = validate(doc, terminology=tx)
    assert "GW-4170" in outcome.message_ids()
    assert ("http://hl7.org/fhir/sid/icd-10", "Z99.99") in tx.calls


def test_fhir_model_input_is_accepted() -> None:
    from fhir.resources.R4B.condition import Condition

    model = Condition.model_validate(base("Condition"))
    outcome = validate(model)
    assert outcome.ok
    assert outcome.warnings == []  # the model writes +00:00 as Z, which is UTC


def test_non_resource_payload_is_an_issue_not_an_exception() -> None:
    outcome = validate(["not", "a", "resource"])
    assert outcome.message_ids() == ["GW-4100"]


def test_operation_outcome_has_fhirpath_locations() -> None:
    doc = base("Encounter")
    doc["identifier"][0]["system"] = "http://sys-ids.kemkes.go.id/encounter/999"
    oo = validate(doc).to_operation_outcome()
    assert oo["issue"][0]["expression"] == ["Encounter.identifier[0].system"]
    json.dumps(oo)


# ----------------------------------------------------------------------------- official sample bodies

SAMPLES = SHARED / "samples/satusehat/postman-bodies"
ENCOUNTER_UUID = "2823ed1d-3e3e-434e-9a5b-9c579d192787"

#: samples that break a documented rule, with the reason; every other body must pass with no error.
KNOWN_BAD = {
    "diagnostic-report__diagnosticreport-create.json": ("GW-4109", "dated 2012, before the 2014-06-03 floor"),
    "diagnostic-report__diagnosticreport-update.json": ("GW-4109", "dated 2012, before the 2014-06-03 floor"),
    "episode-of-care__episodeofcare-create.json": ("GW-4109", "period in 2012, before the 2014-06-03 floor"),
    "episode-of-care__episodeofcare-update.json": ("GW-4109", "period in 2012, before the 2014-06-03 floor"),
    "location__location-create.json": ("GW-4150", "latitude/longitude swapped (reference §1.3 says so)"),
    "location__location-update.json": ("GW-4150", "latitude/longitude swapped (reference §1.3 says so)"),
    "medication__medication-update.json": ("GW-4140", "KFA coding without a code"),
    "observation-ttv__observation-update.json": ("GW-4106", "vital sign without performer"),
    "organization__organization-create.json": (
        "GW-4101",
        "identifier hard-codes org 1000079374, partOf uses Org_id",
    ),
    "patient__patient-create-by-mother-s-nik-newborn.json": (
        "GW-4105",
        "NIK ibu placeholder '360328xxxxxxx'",
    ),
    "related-person__relatedperson-patient-bayi-dan-nik-ibu.json": ("GW-4105", "15-digit dummy NIK"),
    "related-person__relatedperson-update.json": ("GW-4105", "15-digit dummy NIK"),
}


def sample_bodies() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    return [p for p in sorted(SAMPLES.glob("*.json")) if not p.name.endswith("patch.json") and "patch-" not in p.name]


def load_sample(path: Path) -> Any:
    text = path.read_text(encoding="utf-8").replace("{{Org_id}}", ORG).replace("{{Encounter_uuid}}", ENCOUNTER_UUID)
    return json.loads(text)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared SATUSEHAT samples not present")
@pytest.mark.parametrize("path", sample_bodies(), ids=lambda p: p.name)
def test_official_sample(path: Path) -> None:
    outcome = validate(load_sample(path))
    if path.name in KNOWN_BAD:
        message_id, _reason = KNOWN_BAD[path.name]
        assert message_id in [i.message_id for i in outcome.errors]
    else:
        assert outcome.ok, [(i.message_id, i.expression, i.message) for i in outcome.errors]


def test_binding_through_the_real_terminology_service(database: Any) -> None:
    from terminology.loaders import code_system, save
    from terminology.service import TerminologyService

    concepts = [{"code": "A15.0", "display": "Tuberculosis of lung"}, {"code": "E11.9", "display": "Type 2 DM"}]
    save(database, code_system("http://hl7.org/fhir/sid/icd-10", "2019", "icd10", "ICD-10", concepts))
    tx = TerminologyService(database)
    assert validate(base("Condition"), terminology=tx).ok
    doc = base("Condition")
    doc["code"]["coding"][0]["code"] = "A15.9"
    outcome = validate(doc, terminology=tx)
    assert [i.message_id for i in outcome.errors] == ["GW-4170"]
    assert outcome.errors[0].expression == ("Condition.code.coding[0].code",)
