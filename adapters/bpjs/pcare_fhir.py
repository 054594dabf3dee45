"""PCare kunjungan body (``POST kunjungan``, with ``rujukLanjut``) ↔ FHIR R4 Bundle.

* Encounter — identifier ``noKunjungan`` (when BPJS issued one), period tglDaftar..tglPulang
  (PCare dd-MM-yyyy ↔ FHIR yyyy-MM-dd), serviceType = kdPoli, participant → Practitioner
  (kdDokter), diagnosis → Conditions kdDiag1..3 (rank 1..3), dischargeDisposition =
  kdStatusPulang, reasonCode text = keluhan; the clinical free-text and PCare-only codes (kdSadar,
  anamnesa, alergi…, terapi…, kdTacc, kdPrognosa, bmhp) as the ``bpjs-pcare-kunjungan`` extension.
* Observations — one vital sign per filled field, LOINC code and UCUM unit through
  ``bpjs-pcare-vital-signs``.
* ServiceRequest — ``rujukLanjut`` (the onward referral): performer → Organization (kdppk),
  occurrence = tglEstRujuk, performerType = sub-specialty, sarana and ``khusus`` as extensions.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.base import MapContext
from adapters.bpjs.fhirutil import (
    CS,
    EXT,
    ICD10,
    SYS,
    BundleIndex,
    clean,
    coding_of,
    empty_pointers,
    ext,
    ext_group,
    ext_value,
    full_url,
    identifier_of,
    read_group,
    set_pointer,
    text,
)
from adapters.bpjs.rujukan_fhir import organization
from bridge.errors import MappingError

__all__ = ["VITALS", "kunjungan_from_fhir", "kunjungan_to_fhir", "iso_date", "pcare_date"]

VITALS = ("sistole", "diastole", "beratBadan", "tinggiBadan", "respRate", "heartRate", "lingkarPerut", "suhu")
EXTRA = (
    "kdSadar",
    "kdPoliRujukInternal",
    "kdTacc",
    "alasanTacc",
    "anamnesa",
    "alergiMakan",
    "alergiUdara",
    "alergiObat",
    "kdPrognosa",
    "terapiObat",
    "terapiNonObat",
    "bmhp",
)
KHUSUS = ("kdKhusus", "kdSubSpesialis", "catatan")
FIELD = "urn:jembatan:codesystem:bpjs-pcare-field"
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
_PCARE = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def iso_date(value: Any) -> str | None:
    """PCare ``dd-MM-yyyy`` → ``yyyy-MM-dd`` (None stays None; anything else is a MappingError)."""
    if value is None:
        return None
    match = _PCARE.match(str(value))
    if not match:
        raise MappingError("GW-2410", f"PCare date {value!r} is not dd-MM-yyyy")
    day, month, year = match.groups()
    return f"{year}-{month}-{day}"


def pcare_date(value: Any) -> str | None:
    match = _ISO.match(str(value)[:10]) if value else None
    return f"{match.group(3)}-{match.group(2)}-{match.group(1)}" if match else None


def _number(value: str, field: str) -> int | float:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise MappingError("GW-2411", f"{field} {value!r} is not a number") from None
    return int(number) if number == number.to_integral_value() and "." not in value else float(number)


def _observation(field: str, value: str, key: str, ctx: MapContext) -> dict[str, Any] | None:
    loinc = ctx.translate("bpjs-pcare-vital-signs", FIELD, field, expression=f"Observation[{field}].code")
    unit = ctx.translate("bpjs-pcare-vital-signs", FIELD, field, target_system=UCUM, severity="warning")
    if loinc is None:
        return None
    quantity = {"value": _number(value, field), "system": UCUM if unit else None, "code": unit.target if unit else None}
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc.target, "display": loinc.display}]},
        "subject": {"reference": full_url(key, "patient")},
        "encounter": {"reference": full_url(key, "encounter")},
        "valueQuantity": {**quantity, "unit": quantity["code"]},
    }
    return {"fullUrl": full_url(key, f"obs-{field}"), "resource": clean(resource)}


def _condition(rank: int, code: Any, key: str) -> dict[str, Any] | None:
    if not text(code):
        return None
    resource = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": ICD10, "code": code}]},
        "subject": {"reference": full_url(key, "patient")},
        "encounter": {"reference": full_url(key, "encounter")},
    }
    return {"fullUrl": full_url(key, f"diag{rank}"), "resource": resource}


def _encounter(k: dict[str, Any], key: str, diags: list[int]) -> dict[str, Any]:
    resource = {
        "resourceType": "Encounter",
        "extension": [{"url": EXT + "empty", "valueString": p} for p in sorted(empty_pointers(k))]
        + [ext_group("pcare-kunjungan", {f: k.get(f) for f in EXTRA})],
        "identifier": [{"system": SYS["kunjungan"], "value": text(k.get("noKunjungan"))}],
        "status": "finished",
        "class": {"system": NULL_FLAVOR, "code": "UNK"},
        "serviceType": {"coding": [{"system": CS["poli-fktp"], "code": text(k.get("kdPoli"))}]},
        "subject": {"reference": full_url(key, "patient")},
        "participant": [{"individual": {"reference": full_url(key, "dokter")}}] if text(k.get("kdDokter")) else [],
        "period": {"start": iso_date(k.get("tglDaftar")), "end": iso_date(k.get("tglPulang"))},
        "reasonCode": [{"text": text(k.get("keluhan"))}],
        "diagnosis": [{"condition": {"reference": full_url(key, f"diag{r}")}, "rank": r} for r in diags],
        "hospitalization": {
            "dischargeDisposition": {"coding": [{"system": CS["status-pulang"], "code": text(k.get("kdStatusPulang"))}]}
        },
    }
    return {"fullUrl": full_url(key, "encounter"), "resource": clean(resource)}


def _rujuk_lanjut(r: dict[str, Any], key: str) -> list[dict[str, Any]]:
    sub, khusus = r.get("subSpesialis"), r.get("khusus")
    target = full_url(key, "rujuk-ppk")
    resource = {
        "resourceType": "ServiceRequest",
        "extension": [
            ext(
                "sarana", valueCoding=clean({"system": CS["sarana"], "code": text((sub or {}).get("kdSarana"))}) or None
            )
            if sub and text(sub.get("kdSarana"))
            else None,
            ext_group("khusus", {f: (khusus or {}).get(f) for f in KHUSUS}) if isinstance(khusus, dict) else None,
        ],
        "status": "active",
        "intent": "order",
        "subject": {"reference": full_url(key, "patient")},
        "encounter": {"reference": full_url(key, "encounter")},
        "occurrenceDateTime": iso_date(r.get("tglEstRujuk")),
        "performerType": {"coding": [{"system": CS["subspesialis"], "code": text(sub.get("kdSubSpesialis1"))}]}
        if isinstance(sub, dict)
        else None,
        "performer": [{"reference": target}],
    }
    return [
        {"fullUrl": full_url(key, "rujuk-lanjut"), "resource": clean(resource)},
        organization(target, r.get("kdppk"), None),
    ]


def kunjungan_to_fhir(k: dict[str, Any], ctx: MapContext) -> dict[str, Any]:
    if not isinstance(k, dict) or not text(k.get("noKartu")):
        raise MappingError("GW-2412", "a PCare kunjungan needs noKartu")
    key = f"pcare|{k.get('noKunjungan') or ''}|{k['noKartu']}|{k.get('tglDaftar')}"
    conditions = [_condition(rank, k.get(f"kdDiag{rank}"), key) for rank in (1, 2, 3)]
    ranks = [rank for rank, c in zip((1, 2, 3), conditions, strict=True) if c]
    patient = {"resourceType": "Patient", "identifier": [{"system": SYS["no_kartu"], "value": k["noKartu"]}]}
    entries = [_encounter(k, key, ranks), {"fullUrl": full_url(key, "patient"), "resource": patient}]
    if text(k.get("kdDokter")):
        doctor = {"resourceType": "Practitioner", "identifier": [{"system": SYS["dokter"], "value": k["kdDokter"]}]}
        entries.append({"fullUrl": full_url(key, "dokter"), "resource": doctor})
    entries += [c for c in conditions if c]
    entries += [o for f in VITALS if text(k.get(f)) and (o := _observation(f, k[f], key, ctx))]
    if isinstance(k.get("rujukLanjut"), dict):
        entries += _rujuk_lanjut(k["rujukLanjut"], key)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


# ---------------------------------------------------------------- FHIR -> kunjungan


def _vitals(idx: BundleIndex, ctx: MapContext) -> dict[str, str | None]:
    found: dict[str, str | None] = dict.fromkeys(VITALS)
    for obs in idx.resources:
        coding = coding_of(obs.get("code"), LOINC) if obs.get("resourceType") == "Observation" else None
        value = (obs.get("valueQuantity") or {}).get("value")
        if not coding or value is None:
            continue
        field = ctx.translate("bpjs-pcare-vital-signs", LOINC, coding["code"], reverse=True, target_system=FIELD)
        if field is not None:
            found[field.target or ""] = str(value)
    return found


def _rujuk_from(idx: BundleIndex, encounter_url: str | None) -> dict[str, Any] | None:
    sr = idx.first("ServiceRequest")
    if sr is None:
        return None
    sub = coding_of(sr.get("performerType"), CS["subspesialis"])
    sarana = ext_value(sr, "sarana") or {}
    has_khusus = any(e.get("url") == EXT + "khusus" for e in sr.get("extension") or [])
    return {
        "tglEstRujuk": pcare_date(sr.get("occurrenceDateTime")),
        "kdppk": identifier_of(idx.resolve((sr.get("performer") or [None])[0]), SYS["ppk"]),
        "subSpesialis": {"kdSubSpesialis1": sub.get("code"), "kdSarana": sarana.get("code")} if sub else None,
        "khusus": read_group(sr, "khusus", KHUSUS) if has_khusus else None,
    }


def kunjungan_from_fhir(resource: dict[str, Any], ctx: MapContext) -> dict[str, Any]:
    idx = BundleIndex(resource if resource.get("resourceType") == "Bundle" else {"entry": [{"resource": resource}]})
    enc = idx.first("Encounter")
    if enc is None:
        raise MappingError("GW-2413", "no Encounter (the PCare kunjungan) in the input")
    patient = idx.resolve(enc.get("subject")) or {}
    doctor = idx.resolve(((enc.get("participant") or [{}])[0]).get("individual"))
    diags = {d.get("rank"): idx.resolve(d.get("condition")) for d in enc.get("diagnosis") or []}
    period = enc.get("period") or {}
    disposition = coding_of((enc.get("hospitalization") or {}).get("dischargeDisposition"), CS["status-pulang"]) or {}
    k: dict[str, Any] = {
        "noKunjungan": identifier_of(enc, SYS["kunjungan"]),
        "noKartu": identifier_of(patient, SYS["no_kartu"]),
        "tglDaftar": pcare_date(period.get("start")),
        "kdPoli": (coding_of(enc.get("serviceType"), CS["poli-fktp"]) or {}).get("code"),
        "keluhan": ((enc.get("reasonCode") or [{}])[0]).get("text"),
        **_vitals(idx, ctx),
        "kdStatusPulang": disposition.get("code"),
        "tglPulang": pcare_date(period.get("end")),
        "kdDokter": identifier_of(doctor, SYS["dokter"]),
        **{f"kdDiag{r}": (coding_of((diags.get(r) or {}).get("code"), ICD10) or {}).get("code") for r in (1, 2, 3)},
        "rujukLanjut": _rujuk_from(idx, None),
        **read_group(enc, "pcare-kunjungan", EXTRA),
    }
    order = [
        "noKunjungan",
        "noKartu",
        "tglDaftar",
        "kdPoli",
        "keluhan",
        "kdSadar",
        *VITALS,
        "kdStatusPulang",
        "tglPulang",
        "kdDokter",
        "kdDiag1",
        "kdDiag2",
        "kdDiag3",
        "kdPoliRujukInternal",
        "rujukLanjut",
        "kdTacc",
        "alasanTacc",
        "anamnesa",
        "alergiMakan",
        "alergiUdara",
        "alergiObat",
        "kdPrognosa",
        "terapiObat",
        "terapiNonObat",
        "bmhp",
    ]
    out = {name: k.get(name) for name in order}
    for item in enc.get("extension") or []:
        if item.get("url") == EXT + "empty":
            set_pointer(out, item.get("valueString") or "", "")
    return out
