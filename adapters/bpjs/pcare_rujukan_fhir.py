"""PCare referral (``kunjungan/rujukan/{noKunjungan}`` response, the FKTP shape) ↔ FHIR R4 Bundle.

* ServiceRequest — identifier referral number, ``authoredOn`` = tglKunjungan, ``occurrencePeriod`` =
  tglEstRujuk..tglAkhirRujuk, ``performer`` → Organization (target PPK), ``performerType`` = poli,
  ``requester`` → Practitioner (dokter), ``reasonReference`` → Conditions diag1..3 in order,
  ``note`` = catatan; TACC, ``infoDenda`` and ``jadwal`` as extensions.
* Patient (card, name, birth date, gender) and Coverage (PISA as relationship).
* Organizations: the target PPK, ``partOf`` its BPJS branch office (KC, with the dati region), itself
  ``partOf`` the regional office (KR).
"""

from __future__ import annotations

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
    text,
)
from adapters.bpjs.pcare_fhir import iso_date, pcare_date
from adapters.bpjs.rujukan_fhir import (
    GENDER,
    apply_empties,
    bpjs_coding,
    code_from_concept,
    coded_concept,
    find_service_request,
)
from bridge.errors import MappingError

__all__ = ["pcare_rujukan_from_fhir", "pcare_rujukan_to_fhir"]

CONTACT = ("alamat", "telp", "fax")
DATI = ("kdProp", "kdDati", "nmDati")
TACC = ("nmTacc", "alasanTacc")


def _office(url: str, system: str, code: Any, name: Any, data: dict[str, Any], part_of: str | None) -> dict[str, Any]:
    resource = {
        "resourceType": "Organization",
        "extension": [ext_group("dati", {k: (data.get("dati") or {}).get(k) for k in DATI})],
        "identifier": [{"system": system, "value": text(code)}],
        "name": text(name),
        "telecom": [
            {"system": "phone", "value": text(data.get("telp"))},
            {"system": "fax", "value": text(data.get("fax"))},
        ],
        "address": [{"text": text(data.get("alamat"))}],
        "partOf": {"reference": part_of} if part_of else None,
    }
    return {"fullUrl": url, "resource": clean(resource)}


def _organizations(ppk: dict[str, Any], key: str) -> list[dict[str, Any]]:
    kc, out = ppk.get("kc"), []
    kr = kc.get("kdKR") if isinstance(kc, dict) else None
    if isinstance(kr, dict):
        out.append(_office(full_url(key, "kr"), SYS["kr"], kr.get("kdKR"), kr.get("nmKR"), kr, None))
    if isinstance(kc, dict):
        kr_url = full_url(key, "kr") if isinstance(kr, dict) else None
        out.append(_office(full_url(key, "kc"), SYS["kc"], kc.get("kdKC"), kc.get("nmKC"), kc, kr_url))
    kc_url = full_url(key, "kc") if isinstance(kc, dict) else None
    target = _office(full_url(key, "ppk"), SYS["ppk"], ppk.get("kdPPK"), ppk.get("nmPPK"), ppk, kc_url)
    return [target, *out]


def _condition(key: str, slot: int, diag: dict[str, Any]) -> dict[str, Any]:
    code = {"coding": [{"system": ICD10, "code": text(diag.get("kdDiag")), "display": text(diag.get("nmDiag"))}]}
    resource = {"resourceType": "Condition", "code": code, "subject": {"reference": full_url(key, "patient")}}
    return {"fullUrl": full_url(key, f"diag{slot}"), "resource": clean(resource)}


def _people(r: dict[str, Any], key: str, ctx: MapContext) -> list[dict[str, Any]]:
    gender = (
        ctx.translate("administrative-gender", CS["jenis-kelamin"], r["sex"], expression="Patient.gender")
        if text(r.get("sex"))
        else None
    )
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": SYS["no_kartu"], "value": text(r.get("nokaPst"))}],
        "name": [{"text": text(r.get("nmPst"))}],
        "gender": gender.target if gender else None,
        "birthDate": iso_date(r.get("tglLahir")),
    }
    coverage = {
        "resourceType": "Coverage",
        "status": "active",
        "subscriberId": text(r.get("nokaPst")),
        "beneficiary": {"reference": full_url(key, "patient")},
        "payor": [{"display": "BPJS Kesehatan"}],
        "relationship": clean({"coding": [bpjs_coding("pisa", r.get("pisa"), r.get("ketPisa"))]}),
    }
    dokter = r.get("dokter") or {}
    doctor = {
        "resourceType": "Practitioner",
        "identifier": [{"system": SYS["dokter"], "value": text(dokter.get("kdDokter"))}],
        "name": [{"text": text(dokter.get("nmDokter"))}],
    }
    return [
        {"fullUrl": full_url(key, role), "resource": clean(res)}
        for role, res in (("patient", patient), ("coverage", coverage), ("dokter", doctor))
    ]


def pcare_rujukan_to_fhir(r: dict[str, Any], ctx: MapContext) -> dict[str, Any]:
    if not isinstance(r, dict) or not text(r.get("noRujukan")):
        raise MappingError("GW-2414", "a PCare rujukan needs noRujukan")
    key = f"pcare-rujukan|{r['noRujukan']}"
    diags: list[tuple[int, dict[str, Any]]] = [
        (slot, r[f"diag{slot}"]) for slot in (1, 2, 3) if isinstance(r.get(f"diag{slot}"), dict)
    ]
    poli = r.get("poli") or {}
    sr = {
        "resourceType": "ServiceRequest",
        "extension": [{"url": EXT + "empty", "valueString": p} for p in sorted(empty_pointers(r))]
        + [
            ext_group("tacc", {k: (r.get("tacc") or {}).get(k) for k in TACC}),
            ext("info-denda", valueString=text(r.get("infoDenda"))),
            ext("jadwal", valueString=text(r.get("jadwal"))),
        ],
        "identifier": [{"system": SYS["no_rujukan"], "value": r["noRujukan"]}],
        "status": "active",
        "intent": "order",
        "subject": {"reference": full_url(key, "patient")},
        "occurrencePeriod": {"start": iso_date(r.get("tglEstRujuk")), "end": iso_date(r.get("tglAkhirRujuk"))},
        "authoredOn": iso_date(r.get("tglKunjungan")),
        "requester": {"reference": full_url(key, "dokter")},
        "performerType": coded_concept(
            "poli", poli.get("kdPoli"), poli.get("nmPoli"), ctx, "ServiceRequest.performerType"
        ),
        "performer": [{"reference": full_url(key, "ppk")}],
        "reasonReference": [{"reference": full_url(key, f"diag{slot}")} for slot, _ in diags],
        "insurance": [{"reference": full_url(key, "coverage")}],
        "note": [{"text": text(r.get("catatan"))}],
    }
    entries = [{"fullUrl": full_url(key, "servicerequest"), "resource": clean(sr)}, *_people(r, key, ctx)]
    entries += [_condition(key, slot, diag) for slot, diag in diags]
    entries += _organizations(r.get("ppk") or {}, key)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


# ---------------------------------------------------------------- FHIR -> PCare rujukan


def _contact(org: dict[str, Any]) -> dict[str, Any]:
    phones = {t.get("system"): t.get("value") for t in org.get("telecom") or []}
    return {
        "alamat": ((org.get("address") or [{}])[0]).get("text"),
        "telp": phones.get("phone"),
        "fax": phones.get("fax"),
    }


def _ppk(idx: BundleIndex, target: dict[str, Any]) -> dict[str, Any]:
    kc_org = idx.resolve(target.get("partOf"))
    kc = None
    if kc_org is not None:
        kr_org = idx.resolve(kc_org.get("partOf"))
        kr = (
            None
            if kr_org is None
            else {"kdKR": identifier_of(kr_org, SYS["kr"]), "nmKR": kr_org.get("name"), **_contact(kr_org)}
        )
        has_dati = any(e.get("url") == EXT + "dati" for e in kc_org.get("extension") or [])
        kc = {
            "kdKC": identifier_of(kc_org, SYS["kc"]),
            "nmKC": kc_org.get("name"),
            **_contact(kc_org),
            "kdKR": kr,
            "dati": read_group(kc_org, "dati", DATI) if has_dati else None,
        }
    return {
        "kdPPK": identifier_of(target, SYS["ppk"]),
        "nmPPK": target.get("name"),
        "alamat": _contact(target)["alamat"],
        "kc": kc,
    }


def _diag(condition: dict[str, Any] | None) -> dict[str, Any] | None:
    if condition is None:
        return None
    coding = coding_of(condition.get("code"), ICD10) or {}
    return {"kdDiag": coding.get("code"), "nmDiag": coding.get("display")}


def pcare_rujukan_from_fhir(resource: dict[str, Any], ctx: MapContext) -> dict[str, Any]:
    sr, idx = find_service_request(resource)
    patient = idx.resolve(sr.get("subject")) or {}
    coverage = idx.resolve((sr.get("insurance") or [None])[0]) or {}
    doctor = idx.resolve(sr.get("requester")) or {}
    conditions = [idx.resolve(ref) for ref in sr.get("reasonReference") or []][:3]
    conditions += [None] * (3 - len(conditions))
    pisa = coding_of(coverage.get("relationship"), CS["pisa"]) or {}
    period = sr.get("occurrencePeriod") or {}
    sex = None
    if patient.get("gender"):
        found = ctx.translate(
            "administrative-gender",
            GENDER,
            patient["gender"],
            expression="Patient.gender",
            reverse=True,
            target_system=CS["jenis-kelamin"],
        )
        sex = found.target if found else None
    poli = code_from_concept("poli", sr.get("performerType"), ctx, "ServiceRequest.performerType")
    has_tacc = any(e.get("url") == EXT + "tacc" for e in sr.get("extension") or [])
    r: dict[str, Any] = {
        "noRujukan": identifier_of(sr, SYS["no_rujukan"]),
        "ppk": _ppk(idx, idx.resolve((sr.get("performer") or [None])[0]) or {}),
        "tglKunjungan": pcare_date(sr.get("authoredOn")),
        "poli": {"kdPoli": poli[0], "nmPoli": poli[1]},
        "nokaPst": identifier_of(patient, SYS["no_kartu"]) or coverage.get("subscriberId"),
        "nmPst": ((patient.get("name") or [{}])[0]).get("text"),
        "tglLahir": pcare_date(patient.get("birthDate")),
        "pisa": pisa.get("code"),
        "ketPisa": pisa.get("display"),
        "sex": sex,
        "diag1": _diag(conditions[0]),
        "diag2": _diag(conditions[1]),
        "diag3": _diag(conditions[2]),
        "catatan": ((sr.get("note") or [{}])[0]).get("text"),
        "dokter": {
            "kdDokter": identifier_of(doctor, SYS["dokter"]),
            "nmDokter": ((doctor.get("name") or [{}])[0]).get("text"),
        },
        "tacc": read_group(sr, "tacc", TACC) if has_tacc else None,
        "infoDenda": ext_value(sr, "info-denda"),
    }
    optional = {
        "tglEstRujuk": pcare_date(period.get("start")),
        "tglAkhirRujuk": pcare_date(period.get("end")),
        "jadwal": ext_value(sr, "jadwal"),
    }
    r.update({k: v for k, v in optional.items() if v is not None})
    apply_empties(r, sr, "")
    return r
