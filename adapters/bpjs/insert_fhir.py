"""VClaim Rujukan 2.0 insert request ↔ FHIR, and the insert answer mapped back onto the FHIR referral.

Insert request ``{"request": {"t_rujukan": {...}}}`` ↔ Bundle:

* ServiceRequest — identifier SEP (``noSep``) and, once BPJS answered, the referral number;
  ``authoredOn`` = tglRujukan, ``occurrenceDateTime`` = tglRencanaKunjungan, ``category`` =
  jnsPelayanan, ``orderDetail`` = tipeRujukan (BPJS + ``referral-type`` through
  ``bpjs-tipe-rujukan``), ``performerType`` = poliRujukan, ``reasonCode`` = diagRujukan (ICD-10),
  ``note`` = catatan, ``performer`` → Organization (ppkDirujuk), ``encounter`` → Encounter (the SEP
  visit), extension ``bpjs-user`` = the operator.
* Encounter — identifier SEP; status/class ``unknown``/``UNK`` (the insert does not say).

:func:`apply_insert_response` records BPJS's answer (``response.rujukan``) on that Bundle: referral
number identifier, Task ``accepted`` with the validity period (``tglBerlakuKunjungan``), the
origin PPK as requester and the Patient/Coverage stub of the member BPJS names.
"""

from __future__ import annotations

import copy
from typing import Any

from adapters.base import MapContext
from adapters.bpjs.fhirutil import (
    EXT,
    ICD10,
    SYS,
    clean,
    coding_of,
    empty_pointers,
    ext,
    ext_value,
    full_url,
    identifier_of,
    text,
)
from adapters.bpjs.rujukan_fhir import (
    apply_empties,
    code_from_concept,
    coded_concept,
    find_service_request,
    organization,
)
from bridge.errors import MappingError

__all__ = ["apply_insert_response", "insert_from_fhir", "insert_to_fhir"]

ACT = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
ROOT = "/request/t_rujukan"


def _encounter(sep: str, key: str) -> dict[str, Any]:
    resource = {
        "resourceType": "Encounter",
        "identifier": [{"system": SYS["sep"], "value": sep}],
        "status": "unknown",
        "class": {"system": ACT, "code": "UNK"},
    }
    return {"fullUrl": full_url(key, "encounter"), "resource": resource}


def insert_to_fhir(data: dict[str, Any], ctx: MapContext) -> dict[str, Any]:
    t = ((data.get("request") or {}).get("t_rujukan")) if isinstance(data, dict) else None
    if not isinstance(t, dict) or not text(t.get("noSep")):
        raise MappingError("GW-2403", "a Rujukan insert needs request.t_rujukan.noSep")
    key = f"insert|{t['noSep']}|{t.get('tglRujukan')}"
    target = full_url(key, "ppkDirujuk")
    sr = {
        "resourceType": "ServiceRequest",
        "extension": [{"url": EXT + "empty", "valueString": p} for p in sorted(empty_pointers(t, ROOT))]
        + [ext("user", valueString=text(t.get("user")))],
        "identifier": [{"system": SYS["sep"], "value": t["noSep"]}],
        "status": "active",
        "intent": "order",
        "category": [coded_concept("jenis-pelayanan", t.get("jnsPelayanan"), None, ctx, "ServiceRequest.category")],
        "orderDetail": [coded_concept("tipe-rujukan", t.get("tipeRujukan"), None, ctx, "ServiceRequest.orderDetail")],
        "subject": {"display": f"BPJS member of SEP {t['noSep']}"},
        "encounter": {"reference": full_url(key, "encounter")},
        "occurrenceDateTime": text(t.get("tglRencanaKunjungan")),
        "authoredOn": text(t.get("tglRujukan")),
        "performerType": coded_concept("poli", t.get("poliRujukan"), None, ctx, "ServiceRequest.performerType"),
        "performer": [{"reference": target}] if text(t.get("ppkDirujuk")) else [],
        "reasonCode": [{"coding": [{"system": ICD10, "code": text(t.get("diagRujukan"))}]}],
        "note": [{"text": text(t.get("catatan"))}],
    }
    entries = [{"fullUrl": full_url(key, "servicerequest"), "resource": clean(sr)}, _encounter(t["noSep"], key)]
    if text(t.get("ppkDirujuk")):
        entries.append(organization(target, t.get("ppkDirujuk"), None))
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _diag(sr: dict[str, Any], idx: Any) -> Any:
    for concept in sr.get("reasonCode") or []:
        coding = coding_of(concept, ICD10)
        if coding:
            return coding.get("code")
    condition = idx.resolve((sr.get("reasonReference") or [None])[0]) or {}
    return (coding_of(condition.get("code"), ICD10) or {}).get("code")


def insert_from_fhir(resource: dict[str, Any], ctx: MapContext) -> dict[str, Any]:
    """Bundle or ServiceRequest JSON → ``{"request": {"t_rujukan": {...}}}``.

    ``ctx.settings["bpjs_user"]`` fills ``user`` when the FHIR side does not carry it.
    """
    sr, idx = find_service_request(resource)
    encounter = idx.resolve(sr.get("encounter"))
    occurrence = sr.get("occurrenceDateTime") or (sr.get("occurrencePeriod") or {}).get("start")
    t = {
        "noSep": identifier_of(sr, SYS["sep"]) or identifier_of(encounter, SYS["sep"]),
        "tglRujukan": (sr.get("authoredOn") or "")[:10] or None,
        "tglRencanaKunjungan": occurrence[:10] if isinstance(occurrence, str) else None,
        "ppkDirujuk": identifier_of(idx.resolve((sr.get("performer") or [None])[0]), SYS["ppk"]),
        "jnsPelayanan": code_from_concept(
            "jenis-pelayanan", (sr.get("category") or [None])[0], ctx, "ServiceRequest.category"
        )[0],
        "catatan": ((sr.get("note") or [{}])[0]).get("text") or "",  # BPJS wants a string, even empty
        "diagRujukan": _diag(sr, idx),
        "tipeRujukan": code_from_concept(
            "tipe-rujukan", (sr.get("orderDetail") or [None])[0], ctx, "ServiceRequest.orderDetail"
        )[0],
        "poliRujukan": code_from_concept("poli", sr.get("performerType"), ctx, "ServiceRequest.performerType")[0],
        "user": ext_value(sr, "user") or ctx.settings.get("bpjs_user"),
    }
    doc = {"request": {"t_rujukan": t}}
    apply_empties(doc, sr, ROOT)
    if t["tipeRujukan"] == "2" and t["poliRujukan"] is None:
        t["poliRujukan"] = ""  # rujuk balik: BPJS wants the empty string
    return doc


def _task(sr_url: str, key: str, answer: dict[str, Any], patient_url: str | None) -> dict[str, Any]:
    resource = clean(
        {
            "resourceType": "Task",
            "identifier": [{"system": SYS["no_rujukan"], "value": text(answer.get("noRujukan"))}],
            "status": "accepted",
            "intent": "order",
            "focus": {"reference": sr_url},
            "for": {"reference": patient_url} if patient_url else None,
            "authoredOn": text(answer.get("tglRujukan")),
            "restriction": {
                "period": {"start": text(answer.get("tglRujukan")), "end": text(answer.get("tglBerlakuKunjungan"))}
            },
            "description": "BPJS VClaim Rujukan 2.0 insert accepted",
        }
    )
    return {"fullUrl": full_url(key, "task"), "resource": resource}


def _member(key: str, peserta: dict[str, Any]) -> dict[str, Any] | None:
    if not text(peserta.get("noKartu")):
        return None
    resource = clean(
        {
            "resourceType": "Patient",
            "identifier": [
                {"system": SYS["no_kartu"], "value": peserta["noKartu"]},
                {"system": SYS["mr"], "value": text(peserta.get("noMr"))},
            ],
            "name": [{"text": text(peserta.get("nama"))}],
            "birthDate": text(peserta.get("tglLahir")),
        }
    )
    resource["identifier"] = [i for i in resource["identifier"] if i.get("value")]
    return {"fullUrl": full_url(key, "patient"), "resource": resource}


def _entry_url(bundle: dict[str, Any], resource: dict[str, Any]) -> str:
    for entry in bundle.get("entry") or []:
        if entry.get("resource") is resource:
            return str(entry.get("fullUrl") or f"ServiceRequest/{resource.get('id')}")
    return f"ServiceRequest/{resource.get('id')}"


def apply_insert_response(bundle: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """A new Bundle: the referral of ``bundle`` updated with BPJS's insert answer ``{"rujukan": {...}}``."""
    answer = (response or {}).get("rujukan")
    if not isinstance(answer, dict) or not text(answer.get("noRujukan")):
        raise MappingError("GW-2404", "the insert answer has no rujukan.noRujukan")
    out: dict[str, Any] = copy.deepcopy(
        bundle
        if bundle.get("resourceType") == "Bundle"
        else {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": bundle}]}
    )
    sr, _ = find_service_request(out)
    key = f"answer|{answer['noRujukan']}"
    idents = [i for i in sr.get("identifier") or [] if i.get("system") != SYS["no_rujukan"]]
    sr["identifier"] = [{"system": SYS["no_rujukan"], "value": answer["noRujukan"]}, *idents]
    origin = answer.get("AsalRujukan") or {}
    entries: list[dict[str, Any]] = out.setdefault("entry", [])
    if not sr.get("requester") and text(origin.get("kode")):
        entries.append(organization(full_url(key, "asal"), origin.get("kode"), origin.get("nama")))
        sr["requester"] = {"reference": full_url(key, "asal")}
    member = _member(key, answer.get("peserta") or {}) if not (sr.get("subject") or {}).get("reference") else None
    if member:
        entries.append(member)
        sr["subject"] = {"reference": member["fullUrl"]}
    patient_ref = (sr.get("subject") or {}).get("reference")
    entries.append(_task(_entry_url(out, sr), key, answer, patient_ref))
    return out
