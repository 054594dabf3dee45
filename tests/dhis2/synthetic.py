"""Deterministic synthetic facility data (FHIR R4 JSON dicts) for indicator tests and the benchmark."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

FACILITY_SYSTEM = "urn:jembatan:codesystem:kode-faskes"
FACILITIES = {"org-puter": "1027302", "org-garuda": "1027303", "org-cibinong": "1020101"}
ICD10 = "http://hl7.org/fhir/sid/icd-10"
CODES = ["A15.0", "A16.2", "A19.9", "J18.9", "J06.9", "I10", "E11.9", "K29.7", "M54.5", "O80", "Z00.0", "R50.9"]
VACCINES = ["08", "19", "02", "198", "04"]
ANC = "424619006"


def organizations() -> list[dict[str, Any]]:
    return [
        {"resourceType": "Organization", "id": oid, "identifier": [{"system": FACILITY_SYSTEM, "value": code}]}
        for oid, code in FACILITIES.items()
    ]


def generate(encounters: int, *, seed: int = 8, month: date = date(2024, 1, 1)) -> list[dict[str, Any]]:
    """``encounters`` outpatient encounters (with a diagnosis each), plus ANC visits and immunisations."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = organizations()
    patients = max(1, encounters // 3)
    for p in range(patients):
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 74 * 365))
        out.append(
            {
                "resourceType": "Patient",
                "id": f"p{p}",
                "gender": rng.choice(["male", "female"]),
                "birthDate": born.isoformat(),
            }
        )
    orgs = list(FACILITIES)
    for e in range(encounters):
        pid, org = f"p{rng.randrange(patients)}", rng.choice(orgs)
        when = month + timedelta(days=rng.randrange(0, 28))
        out.append(
            {
                "resourceType": "Encounter",
                "id": f"e{e}",
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": {"reference": f"Patient/{pid}"},
                "serviceProvider": {"reference": f"Organization/{org}"},
                "period": {"start": when.isoformat()},
            }
        )
        out.append(
            {
                "resourceType": "Condition",
                "id": f"c{e}",
                "subject": {"reference": f"Patient/{pid}"},
                "encounter": {"reference": f"Encounter/e{e}"},
                "recordedDate": when.isoformat(),
                "code": {"coding": [{"system": ICD10, "code": rng.choice(CODES)}]},
            }
        )
        if e % 10 == 0:
            out.append(
                {
                    "resourceType": "Encounter",
                    "id": f"anc{e}",
                    "status": "finished",
                    "class": {"code": "AMB"},
                    "type": [{"coding": [{"system": "http://snomed.info/sct", "code": ANC}]}],
                    "subject": {"reference": f"Patient/{pid}"},
                    "serviceProvider": {"reference": f"Organization/{org}"},
                    "period": {"start": when.isoformat()},
                }
            )
            out.append(
                {
                    "resourceType": "Condition",
                    "id": f"canc{e}",
                    "subject": {"reference": f"Patient/{pid}"},
                    "encounter": {"reference": f"Encounter/anc{e}"},
                    "recordedDate": when.isoformat(),
                    "code": {"coding": [{"system": ICD10, "code": "Z34.0"}]},
                }
            )
        if e % 7 == 0:
            infant = f"i{e}"
            out.append(
                {
                    "resourceType": "Patient",
                    "id": infant,
                    "gender": rng.choice(["male", "female"]),
                    "birthDate": (when - timedelta(days=rng.randrange(0, 700))).isoformat(),
                }
            )
            out.append(
                {
                    "resourceType": "Immunization",
                    "id": f"im{e}",
                    "status": "completed",
                    "vaccineCode": {
                        "coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": rng.choice(VACCINES)}]
                    },
                    "patient": {"reference": f"Patient/{infant}"},
                    "occurrenceDateTime": when.isoformat(),
                    "performer": [{"actor": {"reference": f"Organization/{org}"}}],
                }
            )
    return out
