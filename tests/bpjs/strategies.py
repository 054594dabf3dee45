"""Hypothesis strategies for schema-valid BPJS referrals (FKTP/PCare and RS/VClaim shapes).

hypothesis-jsonschema cannot read our schemas here (local ``$ref`` under a ``urn:`` id, and it
breaks on this Hypothesis version), so these are written by hand; ``test_bpjs_properties`` checks
that every generated payload passes its JSON Schema, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

_CHARS = st.characters(categories=("L", "N", "P", "Zs", "S"), exclude_characters="\u2028\u2029")
free_text = st.one_of(st.just(""), st.text(_CHARS, min_size=1, max_size=30).filter(lambda s: not s.isspace()))
some_text = st.text(_CHARS, min_size=1, max_size=30).filter(lambda s: not s.isspace())
dates = st.dates(dt.date(1930, 1, 1), dt.date(2060, 12, 31))
iso = dates.map(dt.date.isoformat)
pcare = dates.map(lambda d: d.strftime("%d-%m-%Y"))
icd10 = st.from_regex(r"[A-Z][0-9]{2}(\.[0-9]{1,2})?", fullmatch=True)
ppk_fktp = st.from_regex(r"[0-9]{8}|[0-9]{4}[UB][0-9]{3}", fullmatch=True)
ppk_rs = st.from_regex(r"[0-9]{4}R[0-9]{3}", fullmatch=True)
poli = st.one_of(
    st.sampled_from(["INT", "ANA", "OBG", "JAN", "SAR", "MAT", "HDL"]), st.from_regex(r"[A-Z]{3}", fullmatch=True)
)
digits = lambda n: st.from_regex(rf"[0-9]{{{n}}}", fullmatch=True)  # noqa: E731
nullable = lambda s: st.one_of(st.none(), s)  # noqa: E731


def kode_nama(kode: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({"kode": kode, "nama": free_text})


peserta = st.fixed_dictionaries(
    {
        "cob": st.fixed_dictionaries(
            {
                "nmAsuransi": nullable(free_text),
                "noAsuransi": nullable(free_text),
                "tglTAT": nullable(iso),
                "tglTMT": nullable(iso),
            }
        ),
        "hakKelas": st.fixed_dictionaries({"kode": st.sampled_from(["1", "2", "3"]), "keterangan": free_text}),
        "informasi": st.fixed_dictionaries(
            {k: nullable(free_text) for k in ("dinsos", "noSKTM", "prolanisPRB", "eSEP")}
        ),
        "jenisPeserta": st.fixed_dictionaries(
            {"kode": st.from_regex(r"[0-9]{1,2}", fullmatch=True), "keterangan": free_text}
        ),
        "mr": st.fixed_dictionaries(
            {
                "noMR": nullable(st.from_regex(r"[0-9A-Za-z.-]{1,20}", fullmatch=True)),
                "noTelepon": nullable(st.from_regex(r"08[0-9]{8,11}", fullmatch=True)),
            }
        ),
        "nama": free_text,
        "nik": nullable(digits(16)),
        "noKartu": digits(13),
        "pisa": st.from_regex(r"[0-9]", fullmatch=True),
        "provUmum": st.fixed_dictionaries({"kdProvider": ppk_fktp, "nmProvider": free_text}),
        "sex": st.sampled_from(["L", "P"]),
        "statusPeserta": st.fixed_dictionaries(
            {"kode": st.from_regex(r"[0-9]{1,2}", fullmatch=True), "keterangan": free_text}
        ),
        "tglCetakKartu": iso,
        "tglLahir": iso,
        "tglTAT": iso,
        "tglTMT": iso,
        "umur": st.fixed_dictionaries({"umurSaatPelayanan": free_text, "umurSekarang": free_text}),
    }
)


def _rujukan(number: st.SearchStrategy[str], perujuk: st.SearchStrategy[str]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "rujukan": st.fixed_dictionaries(
                {
                    "noKunjungan": number,
                    "tglKunjungan": iso,
                    "keluhan": free_text,
                    "diagnosa": kode_nama(icd10),
                    "pelayanan": kode_nama(st.sampled_from(["1", "2"])),
                    "poliRujukan": st.one_of(kode_nama(poli), st.just({"kode": "", "nama": ""})),
                    "provPerujuk": kode_nama(perujuk),
                    "peserta": peserta,
                }
            )
        }
    )


#: referral issued by an FKTP through PCare (number with ``Y``/``P``, all-digit or klinik PPK)
rujukan_fktp = _rujukan(st.from_regex(r"[0-9]{12}[YP][0-9]{6}", fullmatch=True), ppk_fktp)
#: referral issued by a hospital through VClaim (number with ``B``, RS PPK)
rujukan_rs = _rujukan(st.from_regex(r"[0-9]{4}R[0-9]{7}B[0-9]{6}", fullmatch=True), ppk_rs)


@st.composite
def rujukan_insert(draw: st.DrawFn) -> dict:
    tipe = draw(st.sampled_from(["0", "1", "2"]))
    start = draw(dates)
    plan = start + dt.timedelta(days=draw(st.integers(0, 90)))
    t = {
        "noSep": draw(st.from_regex(r"[0-9]{4}R[0-9]{7}V[0-9]{6}", fullmatch=True)),
        "tglRujukan": start.isoformat(),
        "tglRencanaKunjungan": plan.isoformat(),
        "ppkDirujuk": draw(st.one_of(ppk_rs, ppk_fktp)),
        "jnsPelayanan": draw(st.sampled_from(["1", "2"])),
        "catatan": draw(free_text),
        "diagRujukan": draw(icd10),
        "tipeRujukan": tipe,
        "poliRujukan": "" if tipe == "2" else draw(poli),
        "user": draw(some_text),
    }
    return {"request": {"t_rujukan": t}}


_num = st.one_of(st.none(), st.from_regex(r"(0|[1-9][0-9]{0,2})(\.[0-9]?[1-9])?", fullmatch=True))
_kd = nullable(free_text)
_code = st.from_regex(r"[0-9A-Za-z]{1,8}", fullmatch=True)  # kd* fields: the codec trims codes
_kdc = nullable(_code)


@st.composite
def pcare_kunjungan(draw: st.DrawFn) -> dict:
    referred = draw(st.booleans())
    sub = st.fixed_dictionaries({"kdSubSpesialis1": _code, "kdSarana": _kdc})
    khusus = st.fixed_dictionaries({"kdKhusus": _code, "kdSubSpesialis": _kdc, "catatan": _kd})
    rujuk = st.fixed_dictionaries(
        {
            "tglEstRujuk": pcare,
            "kdppk": st.one_of(ppk_rs, ppk_fktp),
            "subSpesialis": nullable(sub),
            "khusus": nullable(khusus),
        }
    )
    doc = {
        "noKunjungan": draw(nullable(st.from_regex(r"[0-9]{12}Y[0-9]{6}", fullmatch=True))),
        "noKartu": draw(digits(13)),
        "tglDaftar": draw(pcare),
        "kdPoli": draw(_kdc),
        "keluhan": draw(_kd),
        "kdSadar": draw(digits(2)),
        **{
            f: draw(_num)
            for f in (
                "sistole",
                "diastole",
                "beratBadan",
                "tinggiBadan",
                "respRate",
                "heartRate",
                "lingkarPerut",
                "suhu",
            )
        },
        "kdStatusPulang": "4" if referred else draw(st.sampled_from(["0", "1", "3"])),
        "tglPulang": draw(pcare),
        "kdDokter": draw(_code),
        "kdDiag1": draw(icd10),
        "kdDiag2": draw(nullable(icd10)),
        "kdDiag3": draw(nullable(icd10)),
        "kdPoliRujukInternal": draw(_kdc),
        "rujukLanjut": draw(rujuk) if referred else None,
        **{
            f: draw(_kdc if f.startswith("kd") else _kd)
            for f in (
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
        },
    }
    return doc


@st.composite
def simrs_service_requests(draw: st.DrawFn) -> dict:
    """A SIMRS-made referral Bundle in standard codes only (ActCode, referral-type, SNOMED CT, ICD-10)."""
    kind = draw(st.sampled_from(["full", "partial", "back-referral"]))
    start = draw(dates)
    sr: dict = {
        "resourceType": "ServiceRequest",
        "identifier": [
            {
                "system": "urn:jembatan:identifier:bpjs-sep",
                "value": draw(st.from_regex(r"[0-9]{4}R[0-9]{7}V[0-9]{6}", fullmatch=True)),
            }
        ],
        "status": "active",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                        "code": draw(st.sampled_from(["AMB", "IMP"])),
                    }
                ]
            }
        ],
        "orderDetail": [{"coding": [{"system": "urn:jembatan:codesystem:referral-type", "code": kind}]}],
        "subject": {"reference": "Patient/p1"},
        "authoredOn": start.isoformat(),
        "occurrenceDateTime": (start + dt.timedelta(days=draw(st.integers(0, 60)))).isoformat(),
        "performer": [{"reference": "Organization/o1"}],
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": draw(icd10)}]}],
    }
    if kind != "back-referral":
        code = draw(st.sampled_from(["394802001", "394537008", "394579002", "394591006", "394594003"]))
        sr["performerType"] = {"coding": [{"system": "http://snomed.info/sct", "code": code}]}
    note = draw(st.one_of(st.none(), some_text))
    if note:
        sr["note"] = [{"text": note}]
    org = {
        "resourceType": "Organization",
        "id": "o1",
        "identifier": [{"system": "urn:jembatan:identifier:bpjs-ppk", "value": draw(ppk_rs)}],
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "ServiceRequest/s1", "resource": {**sr, "id": "s1"}},
            {"fullUrl": "Organization/o1", "resource": org},
        ],
    }


_ntext = nullable(free_text)
_diag = st.fixed_dictionaries({"kdDiag": icd10, "nmDiag": free_text})
_contact = {
    "alamat": _ntext,
    "telp": nullable(st.from_regex(r"0[0-9]{6,11}", fullmatch=True)),
    "fax": nullable(st.from_regex(r"0[0-9]{6,11}", fullmatch=True)),
}
_kr = st.fixed_dictionaries({"kdKR": _code, "nmKR": free_text, **_contact})
_dati = st.fixed_dictionaries({"kdProp": _code, "kdDati": _code, "nmDati": free_text})
_kc = st.fixed_dictionaries(
    {"kdKC": _code, "nmKC": free_text, **_contact, "kdKR": nullable(_kr), "dati": nullable(_dati)}
)


@st.composite
def pcare_rujukan(draw: st.DrawFn) -> dict:
    """The PCare ``kunjungan/rujukan`` answer (FKTP referral), diag3 only after diag2."""
    diag2 = draw(nullable(_diag))
    doc = {
        "noRujukan": draw(st.from_regex(r"[0-9]{12}Y[0-9]{6}", fullmatch=True)),
        "ppk": draw(
            st.fixed_dictionaries(
                {"kdPPK": st.one_of(ppk_rs, ppk_fktp), "nmPPK": free_text, "alamat": _ntext, "kc": nullable(_kc)}
            )
        ),
        "tglKunjungan": draw(pcare),
        "poli": {"kdPoli": draw(st.one_of(poli, _code)), "nmPoli": draw(free_text)},
        "nokaPst": draw(digits(13)),
        "nmPst": draw(free_text),
        "tglLahir": draw(pcare),
        "pisa": draw(st.from_regex(r"[0-9]", fullmatch=True)),
        "ketPisa": draw(free_text),
        "sex": draw(st.sampled_from(["L", "P"])),
        "diag1": draw(_diag),
        "diag2": diag2,
        "diag3": draw(nullable(_diag)) if diag2 else None,
        "catatan": draw(_ntext),
        "dokter": {"kdDokter": draw(_code), "nmDokter": draw(free_text)},
        "tacc": draw(nullable(st.fixed_dictionaries({"nmTacc": some_text, "alasanTacc": _ntext}))),
        "infoDenda": draw(_ntext),
    }
    for key, strategy in (("tglEstRujuk", pcare), ("tglAkhirRujuk", pcare), ("jadwal", free_text)):
        if draw(st.booleans()):
            doc[key] = draw(strategy)
    return doc
