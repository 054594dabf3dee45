"""BPJS field rules beyond the schemas (profile ``bpjs``), as located issues GW-42xx.

| id | rule |
|---|---|
| GW-4201/4202 | JSON Schema violation / field not in the catalogue (warning) |
| GW-4210 | ``tipeRujukan`` is not 0 (penuh), 1 (partial) or 2 (rujuk balik) |
| GW-4211 | ``poliRujukan`` must be empty when ``tipeRujukan`` is 2 |
| GW-4212 | ``poliRujukan`` is mandatory when ``tipeRujukan`` is 0 or 1 |
| GW-4213 | a PPK (faskes) code is not 8 characters |
| GW-4214 | a BPJS card number is not 13 digits |
| GW-4215 | an ICD-10 code is unknown to the terminology server |
| GW-4216 | an ICD-10 code is malformed (used when no terminology server is wired in) |
| GW-4217 | a date is not in the service's format (VClaim yyyy-MM-dd, PCare dd-MM-yyyy) |
| GW-4218 | a NIK is not 16 digits |
| GW-4219 | ``tglRencanaKunjungan`` is before ``tglRujukan`` |
| GW-4220 | PCare ``kdStatusPulang`` 4 (dirujuk) without ``rujukLanjut`` |
| GW-4221 | the payload kind cannot be recognised |
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from adapters.base import MapContext
from adapters.bpjs.models import BpjsPayload, detect_kind
from adapters.bpjs.schemas import pointer, schema_issues
from conformance.outcome import Issue, Outcome

__all__ = ["ICD10_SYSTEM", "BpjsProfileValidator", "BpjsSchemaValidator", "field_issues"]

ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
VCLAIM_DATE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
PCARE_DATE = re.compile(r"^(0[1-9]|[12][0-9]|3[01])-(0[1-9]|1[0-2])-[0-9]{4}$")
PPK_KEYS = frozenset({"ppkDirujuk", "kdppk", "kdPPK", "kdProvider"})
CARD_KEYS = frozenset({"noKartu", "nokaPst", "nokapst"})
ICD_KEYS = frozenset({"diagRujukan", "kdDiag1", "kdDiag2", "kdDiag3", "kdDiag"})
DATE_KEYS = frozenset(
    {
        "tglRujukan",
        "tglRencanaKunjungan",
        "tglKunjungan",
        "tglLahir",
        "tglSep",
        "tglBerlakuKunjungan",
        "tglDaftar",
        "tglPulang",
        "tglEstRujuk",
        "tglTAT",
        "tglTMT",
        "tglCetakKartu",
    }
)


def _walk(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str, Any, Any]]:
    """(path, key, value, parent) for every dict entry, depth first."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield path + (key,), key, child, value
            yield from _walk(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, path + (index,))


def _err(message_id: str, path: tuple[Any, ...], message: str, code: str = "value") -> Issue:
    where = pointer(path)
    return Issue.error(code, f"{where}: {message}", location=where, message_id=message_id)


def _icd_issue(code: str, path: tuple[Any, ...], ctx: MapContext) -> Issue | None:
    if ctx.terminology is not None:
        verdict = _ask_terminology(ctx.terminology, code)
        if verdict is not None:
            known, detail = verdict
            return None if known else _err("GW-4215", path, f"ICD-10 code {code!r} is unknown{detail}", "code-invalid")
    if not ICD10.match(code):
        return _err("GW-4216", path, f"{code!r} is not an ICD-10 code (e.g. A09 or K35.8)", "code-invalid")
    return None


def _ask_terminology(service: Any, code: str) -> tuple[bool, str] | None:
    """Accepts a bool, ``None`` (not my system), an object with ``result``/``message`` or a dict."""
    answer = service.validate_code(ICD10_SYSTEM, code)
    if answer is None or isinstance(answer, bool):
        return None if answer is None else (answer, "")
    get = answer.get if isinstance(answer, dict) else lambda k, d=None: getattr(answer, k, d)
    result = get("result")
    if result is None:
        return None
    message = get("message")
    return bool(result), f" ({message})" if message else ""


def _diagnosa_codes(key: str, value: Any, parent: Any) -> str | None:
    """``diagnosa.kode`` in lookups, ``P;N18`` items of Rujukan Khusus, and the plain ICD keys."""
    if not isinstance(value, str) or not value:
        return None
    if key in ICD_KEYS:
        return value
    if key == "kode" and isinstance(parent, dict) and "nama" in parent and ICD10.match(value):
        return value
    if key == "kode" and re.match(r"^[PS];", value):
        return value[2:]
    return None


def _entry_issues(path: tuple[Any, ...], key: str, value: Any, parent: Any, ctx: MapContext) -> Iterator[Issue]:
    if not isinstance(value, str):
        return
    if key in PPK_KEYS and len(value) != 8:
        yield _err("GW-4213", path, f"PPK code {value!r} must have 8 characters")
    if key in CARD_KEYS and not re.fullmatch(r"[0-9]{13}", value):
        yield _err("GW-4214", path, f"card number {value!r} must be 13 digits")
    if key == "nik" and value and not re.fullmatch(r"[0-9]{16}", value):
        yield _err("GW-4218", path, f"NIK {value!r} must be 16 digits")
    icd = _diagnosa_codes(key, value, parent) if path[-2:-1] != ("poliRujukan",) else None
    if icd is not None:
        found = _icd_issue(icd, path, ctx)
        if found:
            yield found


def _date_issue(kind: str, path: tuple[Any, ...], value: Any) -> Issue | None:
    pcare = kind.startswith("pcare")
    pattern, shape = (PCARE_DATE, "dd-MM-yyyy") if pcare else (VCLAIM_DATE, "yyyy-MM-dd")
    if isinstance(value, str) and not pattern.match(value):
        return _err("GW-4217", path, f"date {value!r} must be {shape} for {'PCare' if pcare else 'VClaim'}")
    return None


def _referral_rules(t: dict[str, Any], base: tuple[Any, ...]) -> Iterator[Issue]:
    tipe, poli = t.get("tipeRujukan"), t.get("poliRujukan")
    if tipe is not None and tipe not in ("0", "1", "2"):
        yield _err(
            "GW-4210",
            base + ("tipeRujukan",),
            f"tipeRujukan {tipe!r} must be 0 (penuh), 1 (partial) or 2 (PRB)",
        )
    elif tipe == "2" and poli:
        yield _err("GW-4211", base + ("poliRujukan",), "poliRujukan must be empty for tipeRujukan 2 (rujuk balik)")
    elif tipe in ("0", "1") and not poli:
        yield _err("GW-4212", base + ("poliRujukan",), f"poliRujukan is mandatory for tipeRujukan {tipe}", "required")
    start, plan = t.get("tglRujukan"), t.get("tglRencanaKunjungan")
    if not (isinstance(start, str) and isinstance(plan, str)):
        return
    if VCLAIM_DATE.match(start) and VCLAIM_DATE.match(plan) and plan < start:
        yield _err("GW-4219", base + ("tglRencanaKunjungan",), "tglRencanaKunjungan is before tglRujukan")


def field_issues(payload: BpjsPayload, ctx: MapContext) -> Outcome:
    outcome = Outcome()
    data = payload.data
    for path, key, value, parent in _walk(data):
        outcome.extend(_entry_issues(path, key, value, parent, ctx))
        if key in DATE_KEYS and value is not None:
            found = _date_issue(payload.kind, path, value)
            if found:
                outcome.add(found)
        if key == "t_rujukan" and isinstance(value, dict):
            outcome.extend(_referral_rules(value, path))
    if payload.kind == "pcare-kunjungan" and isinstance(data, dict):
        if data.get("kdStatusPulang") == "4" and not data.get("rujukLanjut"):
            outcome.add(_err("GW-4220", ("rujukLanjut",), "kdStatusPulang 4 (dirujuk) needs rujukLanjut", "required"))
    return outcome


def _merge(rules: Outcome, schema: Outcome) -> Outcome:
    """Rule issues first; schema issues at a location a rule already explained are dropped."""
    explained = {loc for issue in rules for loc in issue.location}
    rules.extend(issue for issue in schema if not (set(issue.location) & explained))
    return rules


class BpjsSchemaValidator:
    """The JSON Schema of the payload's kind only."""

    def validate(self, doc: Any, ctx: MapContext) -> Outcome:
        payload = _as_payload(doc)
        if payload is None:
            return Outcome.of(Issue.error("not-supported", "unrecognised BPJS payload", message_id="GW-4221"))
        return schema_issues(payload.kind, payload.data)


class BpjsProfileValidator:
    """Schema + field rules (profile ``bpjs``; ``POST /conformance/bpjs/$validate``)."""

    def validate(self, doc: Any, ctx: MapContext) -> Outcome:
        payload = _as_payload(doc)
        if payload is None:
            return Outcome.of(Issue.error("not-supported", "unrecognised BPJS payload", message_id="GW-4221"))
        return _merge(field_issues(payload, ctx), schema_issues(payload.kind, payload.data))


def _as_payload(doc: Any) -> BpjsPayload | None:
    if isinstance(doc, BpjsPayload):
        return doc
    kind = detect_kind(doc)
    return BpjsPayload(kind, doc) if kind else None
