"""VClaim rujukan (lookup response) ↔ FHIR R4 Bundle.

Layout of the Bundle (``type: collection``, deterministic ``urn:uuid`` fullUrls):

* ServiceRequest — identifier BPJS referral number (``noKunjungan``); ``authoredOn`` = tglKunjungan;
  ``category`` = pelayanan (BPJS coding + HL7 v3 ActCode through ``bpjs-jenis-pelayanan``);
  ``performerType`` = poliRujukan (BPJS coding + SNOMED CT through ``bpjs-poli``);
  ``reasonReference`` → Condition (ICD-10); ``requester`` → Organization (provPerujuk);
  ``note`` = keluhan; ``subject`` → Patient; ``insurance`` → Coverage.
* Patient — identifiers card number, NIK, MR number; name, gender (``administrative-gender``
  map, BPJS group), birthDate, phone, ``generalPractitioner`` → Organization (provUmum), age texts.
* Coverage — BPJS JKN membership: subscriberId, type = jenisPeserta, class = hakKelas
  (checked through ``bpjs-hak-kelas``), relationship = PISA, period TMT..TAT, status peserta,
  print date, ``informasi`` and COB details as extensions.
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
    set_pointer,
    text,
)
from bridge.errors import MappingError

__all__ = [
    "bpjs_coding",
    "code_from_concept",
    "coded_concept",
    "organization",
    "rujukan_from_fhir",
    "rujukan_to_fhir",
]

GENDER = "http://hl7.org/fhir/administrative-gender"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
INFORMASI = ("dinsos", "noSKTM", "prolanisPRB", "eSEP")
COB = ("nmAsuransi", "noAsuransi", "tglTAT", "tglTMT")
UMUR = ("umurSaatPelayanan", "umurSekarang")
MAPS = {"poli": "bpjs-poli", "jenis-pelayanan": "bpjs-jenis-pelayanan", "tipe-rujukan": "bpjs-tipe-rujukan"}


def bpjs_coding(name: str, code: Any, display: Any) -> dict[str, Any] | None:
    coding = clean({"system": CS[name], "code": text(code), "display": text(display)})
    return coding if len(coding) > 1 else None


def coded_concept(name: str, code: Any, display: Any, ctx: MapContext, expression: str) -> dict[str, Any] | None:
    """BPJS coding plus the translated standard coding (unmapped codes are reported on ctx)."""
    codings = [bpjs_coding(name, code, display)]
    if text(code) and name in MAPS:
        severity = "warning" if name == "poli" else "error"
        found = ctx.translate(MAPS[name], CS[name], code, expression=expression, severity=severity)
        if found is not None:
            codings.append(clean({"system": found.target_system, "code": found.target, "display": found.display}))
    concept = clean({"coding": codings})
    return concept or None


def code_from_concept(name: str, concept: dict[str, Any] | None, ctx: MapContext, expression: str) -> tuple[Any, Any]:
    """(code, display) from the BPJS coding, else reverse-translated from a standard coding."""
    own = coding_of(concept, CS[name])
    if own is not None:
        return own.get("code"), own.get("display")
    for coding in (concept or {}).get("coding") or []:
        if name in MAPS and coding.get("code"):
            found = ctx.translate(
                MAPS[name],
                coding.get("system"),
                coding["code"],
                expression=expression,
                reverse=True,
                target_system=CS[name],
            )
            if found is not None:
                return found.target, found.display
    return None, None


def organization(url: str, kode: Any, nama: Any) -> dict[str, Any]:
    org = clean(
        {
            "resourceType": "Organization",
            "identifier": [{"system": SYS["ppk"], "value": text(kode)}] if text(kode) else [],
            "name": text(nama),
        }
    )
    return {"fullUrl": url, "resource": org}


def _gender(sex: Any, ctx: MapContext) -> str | None:
    if not text(sex):
        return None
    found = ctx.translate("administrative-gender", CS["jenis-kelamin"], sex, expression="Patient.gender")
    return found.target if found else None


def _patient(p: dict[str, Any], key: str, ctx: MapContext) -> dict[str, Any]:
    mr = p.get("mr") or {}
    mr_system = ctx.settings.get("mr_system", SYS["mr"])
    idents = [(SYS["no_kartu"], p.get("noKartu")), (SYS["nik"], p.get("nik")), (mr_system, mr.get("noMR"))]
    resource = {
        "resourceType": "Patient",
        "extension": [ext_group("umur", {k: (p.get("umur") or {}).get(k) for k in UMUR})],
        "identifier": [{"system": s, "value": v} for s, v in idents if text(v)],
        "name": [{"text": text(p.get("nama"))}],
        "telecom": [{"system": "phone", "value": text(mr.get("noTelepon"))}],
        "gender": _gender(p.get("sex"), ctx),
        "birthDate": text(p.get("tglLahir")),
        "generalPractitioner": [{"reference": full_url(key, "provUmum")}],
    }
    return {"fullUrl": full_url(key, "patient"), "resource": clean(resource)}


def _coverage(p: dict[str, Any], key: str, ctx: MapContext) -> dict[str, Any]:
    kelas = p.get("hakKelas") or {}
    if text(kelas.get("kode")):
        ctx.translate("bpjs-hak-kelas", CS["hak-kelas"], kelas["kode"], expression="Coverage.class[0].value")
    status = p.get("statusPeserta") or {}
    jenis = p.get("jenisPeserta") or {}
    resource = {
        "resourceType": "Coverage",
        "extension": [
            ext(
                "status-peserta",
                valueCoding=bpjs_coding("status-peserta", status.get("kode"), status.get("keterangan")),
            ),
            ext("tgl-cetak-kartu", valueDate=text(p.get("tglCetakKartu"))),
            ext_group("informasi", {k: (p.get("informasi") or {}).get(k) for k in INFORMASI}),
            ext_group(
                "cob",
                {k: (p.get("cob") or {}).get(k) for k in COB},
                {"tglTAT": "valueDate", "tglTMT": "valueDate"},
            ),
        ],
        "status": "active",
        "type": clean({"coding": [bpjs_coding("jenis-peserta", jenis.get("kode"), jenis.get("keterangan"))]}),
        "subscriberId": text(p.get("noKartu")),
        "beneficiary": {"reference": full_url(key, "patient")},
        "relationship": clean({"coding": [bpjs_coding("pisa", p.get("pisa"), None)]}),
        "period": {"start": text(p.get("tglTMT")), "end": text(p.get("tglTAT"))},
        "payor": [{"display": "BPJS Kesehatan"}],
        "class": [
            {
                "type": {"coding": [{"system": COVERAGE_CLASS, "code": "class"}]},
                "value": text(kelas.get("kode")) or "-",
                "name": text(kelas.get("keterangan")),
            }
        ],
    }
    return {"fullUrl": full_url(key, "coverage"), "resource": clean(resource)}


def _condition(diag: dict[str, Any], key: str) -> dict[str, Any]:
    resource = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": ICD10, "code": text(diag.get("kode")), "display": text(diag.get("nama"))}]},
        "subject": {"reference": full_url(key, "patient")},
    }
    return {"fullUrl": full_url(key, "condition"), "resource": clean(resource)}


def _service_request(r: dict[str, Any], key: str, ctx: MapContext, root: str) -> dict[str, Any]:
    pel, poli = r.get("pelayanan") or {}, r.get("poliRujukan") or {}
    resource = {
        "resourceType": "ServiceRequest",
        "extension": [{"url": EXT + "empty", "valueString": ptr} for ptr in sorted(empty_pointers(r, root))],
        "identifier": [{"system": SYS["no_rujukan"], "value": text(r.get("noKunjungan"))}],
        "status": "active",
        "intent": "order",
        "category": [
            coded_concept("jenis-pelayanan", pel.get("kode"), pel.get("nama"), ctx, "ServiceRequest.category")
        ],
        "subject": {"reference": full_url(key, "patient")},
        "authoredOn": text(r.get("tglKunjungan")),
        "requester": {"reference": full_url(key, "provPerujuk")},
        "performerType": coded_concept("poli", poli.get("kode"), poli.get("nama"), ctx, "ServiceRequest.performerType"),
        "reasonReference": [{"reference": full_url(key, "condition")}],
        "insurance": [{"reference": full_url(key, "coverage")}],
        "note": [{"text": text(r.get("keluhan"))}],
    }
    return {"fullUrl": full_url(key, "servicerequest"), "resource": clean(resource)}


def rujukan_to_fhir(data: dict[str, Any], ctx: MapContext) -> dict[str, Any]:
    """``{"rujukan": {...}}`` → Bundle JSON (see the module docstring for the layout)."""
    r = data.get("rujukan")
    if not isinstance(r, dict) or not text(r.get("noKunjungan")):
        raise MappingError("GW-2401", "a rujukan needs rujukan.noKunjungan")
    key, p = r["noKunjungan"], r.get("peserta") or {}
    prov, umum = r.get("provPerujuk") or {}, p.get("provUmum") or {}
    entries = [
        _service_request(r, key, ctx, "/rujukan"),
        _patient(p, key, ctx),
        _coverage(p, key, ctx),
        _condition(r.get("diagnosa") or {}, key),
        organization(full_url(key, "provPerujuk"), prov.get("kode"), prov.get("nama")),
        organization(full_url(key, "provUmum"), umum.get("kdProvider"), umum.get("nmProvider")),
    ]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


# ---------------------------------------------------------------- FHIR -> rujukan


def _org_fields(org: dict[str, Any] | None) -> tuple[Any, Any]:
    return identifier_of(org, SYS["ppk"]), (org or {}).get("name")


def _peserta(patient: dict[str, Any], coverage: dict[str, Any], idx: BundleIndex, ctx: MapContext) -> dict[str, Any]:
    mr_system = ctx.settings.get("mr_system", SYS["mr"])
    phone = next((t.get("value") for t in patient.get("telecom") or [] if t.get("system") == "phone"), None)
    gp = idx.resolve((patient.get("generalPractitioner") or [None])[0])
    kelas = (coverage.get("class") or [{}])[0]
    jenis = coding_of(coverage.get("type"), CS["jenis-peserta"]) or {}
    status = ext_value(coverage, "status-peserta") or {}
    pisa = coding_of(coverage.get("relationship"), CS["pisa"]) or {}
    period = coverage.get("period") or {}
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
    return {
        "cob": read_group(coverage, "cob", COB),
        "hakKelas": {
            "kode": None if kelas.get("value") == "-" else kelas.get("value"),
            "keterangan": kelas.get("name"),
        },
        "informasi": read_group(coverage, "informasi", INFORMASI),
        "jenisPeserta": {"kode": jenis.get("code"), "keterangan": jenis.get("display")},
        "mr": {"noMR": identifier_of(patient, mr_system), "noTelepon": phone},
        "nama": ((patient.get("name") or [{}])[0]).get("text"),
        "nik": identifier_of(patient, SYS["nik"]),
        "noKartu": identifier_of(patient, SYS["no_kartu"]) or coverage.get("subscriberId"),
        "pisa": pisa.get("code"),
        "provUmum": dict(zip(("kdProvider", "nmProvider"), _org_fields(gp), strict=True)),
        "sex": sex,
        "statusPeserta": {"kode": status.get("code"), "keterangan": status.get("display")},
        "tglCetakKartu": ext_value(coverage, "tgl-cetak-kartu"),
        "tglLahir": patient.get("birthDate"),
        "tglTAT": period.get("end"),
        "tglTMT": period.get("start"),
        "umur": read_group(patient, "umur", UMUR),
    }


def _diagnosa(sr: dict[str, Any], idx: BundleIndex) -> dict[str, Any]:
    condition = idx.resolve((sr.get("reasonReference") or [None])[0]) or {}
    coding = coding_of(condition.get("code"), ICD10) or coding_of((sr.get("reasonCode") or [None])[0], ICD10) or {}
    return {"kode": coding.get("code"), "nama": coding.get("display")}


def find_service_request(bundle: dict[str, Any]) -> tuple[dict[str, Any], BundleIndex]:
    if bundle.get("resourceType") == "ServiceRequest":
        bundle = {"resourceType": "Bundle", "entry": [{"resource": bundle}]}
    idx = BundleIndex(bundle)
    sr = idx.first("ServiceRequest")
    if sr is None:
        raise MappingError("GW-2402", "no ServiceRequest (the referral) in the input")
    return sr, idx


def apply_empties(doc: dict[str, Any], sr: dict[str, Any], root: str) -> None:
    for item in sr.get("extension") or []:
        pointer = item.get("valueString") or ""
        if item.get("url") == EXT + "empty" and pointer.startswith(root + "/"):
            set_pointer(doc, pointer, "")


def rujukan_from_fhir(resource: dict[str, Any], ctx: MapContext) -> dict[str, Any]:
    """Bundle (or bare ServiceRequest) JSON → ``{"rujukan": {...}}`` with every catalogue key."""
    sr, idx = find_service_request(resource)
    patient = idx.resolve(sr.get("subject")) or {}
    coverage = idx.resolve((sr.get("insurance") or [None])[0]) or {}
    pel = code_from_concept("jenis-pelayanan", (sr.get("category") or [None])[0], ctx, "ServiceRequest.category")
    poli = code_from_concept("poli", sr.get("performerType"), ctx, "ServiceRequest.performerType")
    prov = _org_fields(idx.resolve(sr.get("requester")))
    rujukan = {
        "noKunjungan": identifier_of(sr, SYS["no_rujukan"]),
        "tglKunjungan": sr.get("authoredOn"),
        "keluhan": ((sr.get("note") or [{}])[0]).get("text"),
        "diagnosa": _diagnosa(sr, idx),
        "pelayanan": dict(zip(("kode", "nama"), pel, strict=True)),
        "poliRujukan": dict(zip(("kode", "nama"), poli, strict=True)),
        "provPerujuk": dict(zip(("kode", "nama"), prov, strict=True)),
        "peserta": _peserta(patient, coverage, idx, ctx),
    }
    doc = {"rujukan": rujukan}
    apply_empties(doc, sr, "/rujukan")
    return doc
