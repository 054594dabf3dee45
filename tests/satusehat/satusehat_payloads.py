"""Valid SATUSEHAT payloads for the outpatient flow, used as the base every rejection test mutates."""

from __future__ import annotations

import copy
import json
from typing import Any

ORG = "100025753"
PATIENT = "Patient/100000030009"
PRACTITIONER = "Practitioner/N10000001"
LOCATION = "Location/b017aa54-f1df-4ec2-9d84-8823815d7228"
HL7 = "http://terminology.hl7.org/CodeSystem/"


def sys_id(kind: str) -> str:
    return f"http://sys-ids.kemkes.go.id/{kind}/{ORG}"


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": "https://fhir.kemkes.go.id/id/nik", "value": "3174031002890009"}],
        "active": True,
        "name": [{"use": "official", "text": "Budi Santoso"}],
        "gender": "male",
        "birthDate": "1980-11-17",
        "address": [
            {
                "use": "home",
                "line": ["Jl. Rasuna Said"],
                "city": "Jakarta",
                "country": "ID",
                "extension": [
                    {
                        "url": "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode",
                        "extension": [
                            {"url": "province", "valueCode": "31"},
                            {"url": "city", "valueCode": "3174"},
                            {"url": "district", "valueCode": "317403"},
                            {"url": "village", "valueCode": "3174031002"},
                        ],
                    }
                ],
            }
        ],
    }


def encounter(status: str = "finished") -> dict[str, Any]:
    history = [
        {
            "status": "arrived",
            "period": {"start": "2024-06-14T00:00:00+00:00", "end": "2024-06-14T01:00:00+00:00"},
        },
        {
            "status": "in-progress",
            "period": {"start": "2024-06-14T01:00:00+00:00", "end": "2024-06-14T02:00:00+00:00"},
        },
        {
            "status": "finished",
            "period": {"start": "2024-06-14T02:00:00+00:00", "end": "2024-06-14T02:00:00+00:00"},
        },
    ]
    upto = {"arrived": 1, "in-progress": 2, "finished": 3}[status]
    history = history[:upto]
    if status == "arrived":
        history[0]["period"].pop("end")
    enc: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": [{"system": sys_id("encounter"), "value": "RJ-2024-0001"}],
        "status": status,
        "class": {"system": HL7 + "v3-ActCode", "code": "AMB", "display": "ambulatory"},
        "subject": {"reference": PATIENT, "display": "Budi Santoso"},
        "participant": [
            {
                "type": [concept(HL7 + "v3-ParticipationType", "ATND", "attender")],
                "individual": {"reference": PRACTITIONER},
            }
        ],
        "period": {"start": "2024-06-14T00:00:00+00:00"},
        "location": [{"location": {"reference": LOCATION}}],
        "statusHistory": history,
        "serviceProvider": {"reference": f"Organization/{ORG}"},
    }
    if status != "arrived":
        enc["period"]["end"] = history[-1]["period"]["end"]
    if status == "finished":
        enc["diagnosis"] = [
            {
                "condition": {"reference": "Condition/4bbbe654-14f5-4ab3-a36e-a1e307f67bb8"},
                "use": concept(HL7 + "diagnosis-role", "DD"),
                "rank": 1,
            },
            {
                "condition": {"reference": "Condition/666970c2-d79f-4242-89f9-d0ffab9e36cf"},
                "use": concept(HL7 + "diagnosis-role", "DD"),
                "rank": 2,
            },
        ]
    return enc


def condition() -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "clinicalStatus": concept(HL7 + "condition-clinical", "active"),
        "category": [concept(HL7 + "condition-category", "encounter-diagnosis")],
        "code": concept("http://hl7.org/fhir/sid/icd-10", "A15.0", "Tuberculosis of lung"),
        "subject": {"reference": PATIENT},
        "encounter": {"reference": "Encounter/2823ed1d-3e3e-434e-9a5b-9c579d192787"},
        "recordedDate": "2024-06-14T02:00:00+00:00",
    }


def vital(code: str = "8867-4", value: float = 80, unit: str = "/min") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [concept(HL7 + "observation-category", "vital-signs")],
        "code": concept("http://loinc.org", code),
        "subject": {"reference": PATIENT},
        "performer": [{"reference": PRACTITIONER}],
        "encounter": {"reference": "Encounter/2823ed1d-3e3e-434e-9a5b-9c579d192787"},
        "effectiveDateTime": "2024-06-14T01:10:00+00:00",
        "issued": "2024-06-14T01:10:00+00:00",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def medication() -> dict[str, Any]:
    kfa = "http://sys-ids.kemkes.go.id/kfa"
    return {
        "resourceType": "Medication",
        "identifier": [{"system": sys_id("medication"), "value": "OBT-1"}],
        "code": concept(kfa, "93001019"),
        "status": "active",
        "ingredient": [{"itemCodeableConcept": concept(kfa, "91000330"), "isActive": True}],
        "extension": [
            {
                "url": "https://fhir.kemkes.go.id/r4/StructureDefinition/MedicationType",
                "valueCodeableConcept": concept("http://terminology.kemkes.go.id/CodeSystem/medication-type", "NC"),
            }
        ],
    }


def medication_request() -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "identifier": [
            {"system": sys_id("prescription"), "value": "R-1"},
            {"system": sys_id("prescription-item"), "value": "R-1-1"},
        ],
        "status": "completed",
        "intent": "order",
        "medicationReference": {"reference": "Medication/8f299a19-5887-4b8e-90a2-c2c15ecbe1d1"},
        "subject": {"reference": PATIENT},
        "encounter": {"reference": "Encounter/2823ed1d-3e3e-434e-9a5b-9c579d192787"},
        "authoredOn": "2024-06-14T01:30:00+00:00",
        "requester": {"reference": PRACTITIONER},
    }


def procedure() -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "code": concept("http://hl7.org/fhir/sid/icd-9-cm", "87.44"),
        "subject": {"reference": PATIENT},
        "encounter": {"reference": "Encounter/2823ed1d-3e3e-434e-9a5b-9c579d192787"},
        "performedPeriod": {"start": "2024-06-14T01:20:00+00:00", "end": "2024-06-14T01:40:00+00:00"},
    }


def location() -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "identifier": [{"system": sys_id("location"), "value": "G-2-R-1A"}],
        "status": "active",
        "name": "Ruang 1A",
        "position": {"longitude": 106.83239885393944, "latitude": -6.23115426275766, "altitude": 0},
        "managingOrganization": {"reference": f"Organization/{ORG}"},
    }


def bundle() -> dict[str, Any]:
    enc = encounter("arrived")
    cond = condition()
    cond["encounter"] = {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"}
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
                "resource": enc,
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222",
                "resource": cond,
                "request": {"method": "POST", "url": "Condition"},
            },
        ],
    }


BASES = {
    "Patient": patient,
    "Encounter": encounter,
    "Condition": condition,
    "Observation": vital,
    "Medication": medication,
    "MedicationRequest": medication_request,
    "Procedure": procedure,
    "Location": location,
    "Bundle": bundle,
}


def base(kind: str) -> dict[str, Any]:
    return copy.deepcopy(BASES[kind]())


def pivot_visit(times_offset: str = "+07:00") -> dict[str, Any]:
    """An outpatient visit as a v2 mapper would produce it: local ids, WIB times, a BP panel, two ICD-10 codes."""

    def t(hhmm: str) -> str:
        return f"2024-06-14T{hhmm}:00{times_offset}"

    loinc = "http://loinc.org"
    ucum = "http://unitsofmeasure.org"
    vital = [concept(HL7 + "observation-category", "vital-signs")]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "Patient/pat-1", "resource": {**patient(), "id": "pat-1"}},
            {
                "fullUrl": "Practitioner/dr-7",
                "resource": {
                    "resourceType": "Practitioner",
                    "id": "dr-7",
                    "identifier": [{"system": "https://fhir.kemkes.go.id/id/nik", "value": "3171010101800001"}],
                    "name": [{"text": "dr. Bronsig"}],
                },
            },
            {"fullUrl": "Organization/rs", "resource": {"resourceType": "Organization", "id": "rs", "name": "RS"}},
            {
                "fullUrl": "Location/poli-1",
                "resource": {
                    "resourceType": "Location",
                    "id": "poli-1",
                    "identifier": [{"value": "POLI-UMUM"}],
                    "name": "Poli Umum",
                },
            },
            {
                "fullUrl": "Encounter/v-1",
                "resource": {
                    "resourceType": "Encounter",
                    "id": "v-1",
                    "identifier": [{"system": "urn:simrs:visit", "value": "RJ-0001"}],
                    "status": "finished",
                    "class": {"system": HL7 + "v3-ActCode", "code": "AMB"},
                    "subject": {"reference": "Patient/pat-1"},
                    "participant": [{"individual": {"reference": "Practitioner/dr-7"}}],
                    "period": {"start": t("07:00"), "end": t("09:00")},
                    "location": [{"location": {"reference": "Location/poli-1"}}],
                    "serviceProvider": {"reference": "Organization/rs"},
                    "hospitalization": {"dischargeDisposition": concept(HL7 + "discharge-disposition", "home")},
                },
            },
            {
                "fullUrl": "Observation/bp-1",
                "resource": {
                    "resourceType": "Observation",
                    "id": "bp-1",
                    "status": "final",
                    "category": vital,
                    "code": concept(loinc, "85354-9"),
                    "subject": {"reference": "Patient/pat-1"},
                    "encounter": {"reference": "Encounter/v-1"},
                    "performer": [{"reference": "Practitioner/dr-7"}],
                    "effectiveDateTime": t("07:20"),
                    "component": [
                        {"code": concept(loinc, "8480-6"), "valueQuantity": {"value": 120, "unit": "mm[Hg]"}},
                        {"code": concept(loinc, "8462-4"), "valueQuantity": {"value": 80, "unit": "mm[Hg]"}},
                    ],
                },
            },
            {
                "fullUrl": "Observation/hr-1",
                "resource": {
                    "resourceType": "Observation",
                    "id": "hr-1",
                    "status": "final",
                    "category": vital,
                    "code": concept(loinc, "8867-4"),
                    "subject": {"reference": "Patient/pat-1"},
                    "encounter": {"reference": "Encounter/v-1"},
                    "performer": [{"reference": "Practitioner/dr-7"}],
                    "effectiveDateTime": t("07:21"),
                    "valueQuantity": {"value": 80, "unit": "beats/minute", "system": ucum, "code": "/min"},
                },
            },
            {
                "fullUrl": "Condition/dx-1",
                "resource": {
                    "resourceType": "Condition",
                    "id": "dx-1",
                    "code": {
                        "coding": [
                            {"system": "http://hl7.org/fhir/sid/icd-10", "code": "A15.0"},
                            {"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"},
                        ]
                    },
                    "subject": {"reference": "Patient/pat-1"},
                    "encounter": {"reference": "Encounter/v-1"},
                    "recordedDate": t("08:30"),
                },
            },
            {
                "fullUrl": "Procedure/px-1",
                "resource": {
                    "resourceType": "Procedure",
                    "id": "px-1",
                    "status": "completed",
                    "code": concept("http://hl7.org/fhir/sid/icd-9-cm", "87.44"),
                    "subject": {"reference": "Patient/pat-1"},
                    "encounter": {"reference": "Encounter/v-1"},
                    "performedPeriod": {"start": t("08:00"), "end": t("08:10")},
                },
            },
        ],
    }


FLOW_STEPS = ("register", "encounter", "vitals", "diagnosis", "lab", "prescription", "discharge")


def _stamp(hhmm: str) -> str:
    return f"2024-06-14T{hhmm}:00+07:00"


def flow_step(step: str, n: int = 1) -> dict[str, Any]:
    """The pivot Bundle one SIMRS message of visit ``n`` would produce at each outpatient step."""
    full = pivot_visit()
    by_id = {e["resource"]["id"]: e for e in full["entry"]}
    enc = copy.deepcopy(by_id["v-1"])
    status = {"encounter": "arrived", "discharge": "finished"}.get(step, "in-progress")
    enc["resource"]["status"] = status
    if status != "finished":
        enc["resource"]["period"].pop("end")
        enc["resource"].pop("hospitalization")
    enc["resource"]["identifier"][0]["value"] = f"RJ-{n:04d}"
    context = [by_id["pat-1"], by_id["dr-7"], by_id["poli-1"], enc]
    if step == "register":
        return _bundle([by_id["pat-1"]], n)
    if step == "encounter":
        return _bundle(context, n)
    extra: dict[str, list[dict[str, Any]]] = {
        "vitals": [by_id["bp-1"], by_id["hr-1"]],
        "diagnosis": [by_id["dx-1"]],
        "lab": _lab(),
        "prescription": _prescription(),
        "discharge": [by_id["dx-1"]],
    }
    return _bundle([*context, *extra[step]], n)


def _bundle(entries: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """Give the visit's own resources ids unique to visit ``n`` (as a SIMRS would)."""
    shared = {"pat-1", "dr-7", "poli-1", "rs"}
    out = []
    for entry in copy.deepcopy(entries):
        res = entry["resource"]
        if res["id"] not in shared:
            res["id"] = f"{res['id']}-{n}"
            entry["fullUrl"] = f"{res['resourceType']}/{res['id']}"
        out.append(entry)
    text = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": out})
    for old in ("Encounter/v-1", "ServiceRequest/sr-1", "Specimen/sp-1", "Observation/lab-1", "Medication/med-1"):
        if f'"{old}-{n}"' in text:
            text = text.replace(f'"{old}"', f'"{old}-{n}"')
    return json.loads(text)  # type: ignore[no-any-return]


def _lab() -> list[dict[str, Any]]:
    loinc, snomed = "http://loinc.org", "http://snomed.info/sct"
    subject, enc = {"reference": "Patient/pat-1"}, {"reference": "Encounter/v-1"}
    return [
        {
            "fullUrl": "ServiceRequest/sr-1",
            "resource": {
                "resourceType": "ServiceRequest",
                "id": "sr-1",
                "status": "active",
                "intent": "original-order",
                "category": [concept(snomed, "108252007")],
                "code": concept(loinc, "11477-7"),
                "subject": subject,
                "encounter": enc,
                "authoredOn": _stamp("07:40"),
                "requester": {"reference": "Practitioner/dr-7"},
            },
        },
        {
            "fullUrl": "Specimen/sp-1",
            "resource": {
                "resourceType": "Specimen",
                "id": "sp-1",
                "status": "available",
                "type": concept(snomed, "119334006"),
                "subject": subject,
                "request": [{"reference": "ServiceRequest/sr-1"}],
                "collection": {"collectedDateTime": _stamp("07:45")},
            },
        },
        {
            "fullUrl": "Observation/lab-1",
            "resource": {
                "resourceType": "Observation",
                "id": "lab-1",
                "status": "final",
                "category": [concept(HL7 + "observation-category", "laboratory")],
                "code": concept(loinc, "11477-7"),
                "subject": subject,
                "encounter": enc,
                "performer": [{"reference": "Practitioner/dr-7"}],
                "basedOn": [{"reference": "ServiceRequest/sr-1"}],
                "specimen": {"reference": "Specimen/sp-1"},
                "effectiveDateTime": _stamp("08:15"),
                "issued": _stamp("08:20"),
                "valueCodeableConcept": concept(snomed, "260347006"),
            },
        },
        {
            "fullUrl": "DiagnosticReport/dr-lab-1",
            "resource": {
                "resourceType": "DiagnosticReport",
                "id": "dr-lab-1",
                "status": "final",
                "category": [concept("http://terminology.hl7.org/CodeSystem/v2-0074", "MB")],
                "code": concept(loinc, "11477-7"),
                "subject": subject,
                "encounter": enc,
                "effectiveDateTime": _stamp("08:15"),
                "issued": _stamp("08:20"),
                "result": [{"reference": "Observation/lab-1"}],
                "specimen": [{"reference": "Specimen/sp-1"}],
                "basedOn": [{"reference": "ServiceRequest/sr-1"}],
            },
        },
    ]


def _prescription() -> list[dict[str, Any]]:
    med = medication()
    med.pop("identifier")
    med["id"] = "med-1"
    return [
        {"fullUrl": "Medication/med-1", "resource": med},
        {
            "fullUrl": "MedicationRequest/rx-1",
            "resource": {
                "resourceType": "MedicationRequest",
                "id": "rx-1",
                "status": "completed",
                "intent": "order",
                "medicationReference": {"reference": "Medication/med-1"},
                "subject": {"reference": "Patient/pat-1"},
                "encounter": {"reference": "Encounter/v-1"},
                "authoredOn": _stamp("08:40"),
                "requester": {"reference": "Practitioner/dr-7"},
                "dosageInstruction": [{"text": "4 tablet per hari"}],
            },
        },
    ]
