"""Valid SATUSEHAT payloads for the outpatient flow, used as the base every rejection test mutates."""

from __future__ import annotations

import copy
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
