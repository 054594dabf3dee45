"""Pivot FHIR -> what SATUSEHAT accepts for the outpatient flow (and back), as a mapper.

``from_fhir(pivot, ctx)`` takes our pivot (a Bundle, or one resource, e.g. what the HL7 v2 channel
produces) and builds one SATUSEHAT transaction Bundle:

* business identifiers become ``http://sys-ids.kemkes.go.id/<type>/<organization id>`` with the
  organization id of the credentials (``ctx.settings["organization_id"]``);
* every dateTime is normalised to UTC as ``YYYY-MM-DDThh:mm:ss+00:00`` (a value without offset is
  read in ``ctx.settings["timezone"]``, default ``Asia/Jakarta``);
* the Encounter gets a contiguous ``statusHistory`` (arrived -> in-progress -> finished), the
  facility as ``serviceProvider``, an ATND participant and ``diagnosis[]`` (use DD, rank 1..n)
  from the encounter-diagnosis Conditions of the same Bundle;
* a Condition with several ICD-10 codes becomes one Condition per code;
* a vital-sign Observation with components (the blood-pressure panel) becomes one Observation per
  component; UCUM units are checked against the ``satusehat-vital-signs-units`` map;
* Patient entries become a lookup-or-create by NIK (``ifNoneExist``), Practitioner entries a
  lookup by NIK (``GET``); the delivery worker resolves both before sending.

Entries get deterministic ``urn:uuid:`` fullUrls (uuid5 of organization, type and business id), so
the same visit always produces the same Bundle and references inside it are rewritten to them.

``to_fhir(bundle, ctx)`` reads a SATUSEHAT Bundle back into a pivot ``collection`` Bundle; the
round trip keeps every clinical value (codes, quantities, instants, statuses).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from adapters.base import MapContext
from adapters.satusehat.rules import (
    DATETIME_ANY,
    HL7_CS,
    ICD10,
    LOINC,
    NATIONAL_IDS,
    SYS_IDS,
    UCUM,
    VITAL_UNITS_MAP,
    check_payload,
    codings,
    has_coding,
)
from adapters.satusehat.validator import as_json, organization_id, rule_context
from bridge.errors import ConfigError, MappingError
from conformance.outcome import Issue, Severity

FORMAT_ID = "satusehat+json"
NAMESPACE = uuid.UUID("6f1c2d8e-3b1a-5c55-9a57-5a7a05e4e7a1")
NIK_SYSTEMS = (NATIONAL_IDS + "nik", NATIONAL_IDS + "nik-ibu")
DEFAULT_TZ = "Asia/Jakarta"

#: resource type -> sys-ids identifier types (``{org}`` is substituted; MedicationRequest/Dispense carry two).
SYS_ID_KINDS: dict[str, tuple[str, ...]] = {
    "Encounter": ("encounter/{org}",),
    "Condition": ("condition/{org}",),
    "Observation": ("observation/{org}",),
    "Procedure": ("procedure/{org}",),
    "ServiceRequest": ("servicerequest/{org}",),
    "Specimen": ("specimen/{org}",),
    "DiagnosticReport": ("diagnostic/{org}/lab",),
    "Medication": ("medication/{org}",),
    "MedicationRequest": ("prescription/{org}", "prescription-item/{org}"),
    "MedicationDispense": ("prescription/{org}", "prescription-item/{org}"),
    "AllergyIntolerance": ("allergy/{org}",),
    "Composition": ("composition/{org}",),
    "ClinicalImpression": ("clinicalimpression/{org}",),
}

#: the order resources are sent in when delivered one by one (dependencies first).
DEPENDENCY_ORDER: tuple[str, ...] = (
    "Patient", "Practitioner", "Organization", "Location", "Encounter", "Condition", "AllergyIntolerance",
    "ServiceRequest", "Specimen", "Observation", "Procedure", "DiagnosticReport", "Medication",
    "MedicationRequest", "MedicationDispense", "Composition", "ClinicalImpression",
)  # fmt: skip


class SatusehatJsonCodec:
    """SATUSEHAT-profiled FHIR JSON: bytes <-> dict (the native model is the JSON itself)."""

    format_id = FORMAT_ID
    media_type = "application/fhir+json"
    max_bytes = 20 * 1024 * 1024

    def parse(self, data: bytes) -> Any:
        from adapters.fhir.codec import load_json
        from bridge.errors import DecodeError

        if len(data) > self.max_bytes:
            raise DecodeError("GW-1601", f"payload of {len(data)} bytes exceeds {self.max_bytes}")
        doc = load_json(data)
        if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
            raise DecodeError("GW-1602", "a SATUSEHAT payload is a FHIR resource object with resourceType")
        return doc

    def serialize(self, model: Any) -> bytes:
        import json

        return json.dumps(as_json(model), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------------------------------ helpers


class _Build:
    """State of one pivot -> SATUSEHAT conversion."""

    def __init__(self, ctx: MapContext) -> None:
        org = organization_id(ctx.settings)
        if not org:
            raise ConfigError("GW-1610", "SATUSEHAT profile needs settings['organization_id'] (the credentials' org)")
        self.org = org
        self.ctx = ctx
        self.tz = ZoneInfo(str(ctx.settings.get("timezone") or DEFAULT_TZ))
        self.entries: list[dict[str, Any]] = []
        self.refs: dict[str, list[str]] = {}  # pivot reference -> new fullUrl(s)

    def full_url(self, rtype: str, key: str) -> str:
        return "urn:uuid:" + str(uuid.uuid5(NAMESPACE, f"{self.org}|{rtype}|{key}"))

    def system(self, kind: str) -> str:
        return SYS_IDS + kind.format(org=self.org)

    def issue(self, message_id: str, expression: str, message: str, severity: Severity = "error") -> None:
        self.ctx.report(Issue(severity, "processing", message, expression=(expression,), message_id=message_id))


def to_utc(value: str, tz: Any) -> str:
    """``2024-06-14T09:00+07:00`` -> ``2024-06-14T02:00:00+00:00``; dates without time are left alone."""
    if not DATETIME_ANY.match(value):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def normalise_times(obj: Any, tz: Any) -> Any:
    if isinstance(obj, dict):
        return {k: normalise_times(v, tz) for k, v in obj.items()}
    if isinstance(obj, list):
        return [normalise_times(v, tz) for v in obj]
    if isinstance(obj, str):
        return to_utc(obj, tz)
    return obj


def pivot_resources(pivot: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """``(fullUrl, resource)`` pairs of a Bundle, or the one resource given."""
    doc = as_json(pivot)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("resourceType"), str):
        raise MappingError("GW-1620", "pivot must be a FHIR resource or Bundle")
    if doc["resourceType"] != "Bundle":
        return [(None, copy.deepcopy(dict(doc)))]
    out = []
    for entry in doc.get("entry") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("resource"), Mapping):
            out.append((entry.get("fullUrl"), copy.deepcopy(dict(entry["resource"]))))
    return out


def business_key(resource: Mapping[str, Any]) -> str | None:
    """The local business id: the first identifier value, else the resource id."""
    idents = resource.get("identifier")
    idents = [idents] if isinstance(idents, Mapping) else idents or []
    for ident in idents:
        if isinstance(ident, Mapping) and ident.get("value"):
            return str(ident["value"])
    return str(resource["id"]) if resource.get("id") else None


def nik_of(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") in NIK_SYSTEMS and ident.get("value"):
            return str(ident["system"]), str(ident["value"])
    return None


def _ref(value: Any) -> str | None:
    return value.get("reference") if isinstance(value, Mapping) and isinstance(value.get("reference"), str) else None


# ------------------------------------------------------------------------------------ per resource


def _entry(full_url: str, resource: dict[str, Any], method: str, url: str, **extra: str) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource, "request": {"method": method, "url": url, **extra}}


def _set_identifiers(b: _Build, res: dict[str, Any], key: str) -> None:
    kinds = SYS_ID_KINDS[res["resourceType"]]
    values = [key] if len(kinds) == 1 else [_prescription_number(res, key), key]
    if len(values) == 2 and values[0] == values[1]:
        values[1] = f"{key}-1"
    idents = [{"use": "official", "system": b.system(k), "value": v} for k, v in zip(kinds, values, strict=True)]
    res["identifier"] = idents[0] if res["resourceType"] == "Composition" else idents


def _prescription_number(res: Mapping[str, Any], key: str) -> str:
    group = res.get("groupIdentifier")
    return str(group["value"]) if isinstance(group, Mapping) and group.get("value") else key


def convert_patient(b: _Build, res: dict[str, Any], key: str) -> list[dict[str, Any]]:
    for name in res.get("name") or []:
        if isinstance(name, dict) and not name.get("text"):
            name["text"] = " ".join([*(name.get("given") or []), name.get("family") or ""]).strip()
    nik = nik_of(res)
    url = b.full_url("Patient", nik[1] if nik else key)
    if nik is None:
        b.issue("GW-1621", "Patient.identifier", "Patient has no NIK / NIK ibu; SATUSEHAT cannot identify it")
        return [_entry(url, res, "POST", "Patient")]
    return [_entry(url, res, "POST", "Patient", ifNoneExist=f"identifier={nik[0]}|{nik[1]}")]


def convert_practitioner(b: _Build, res: dict[str, Any], key: str) -> list[dict[str, Any]]:
    nik = nik_of(res)
    if nik is None:
        b.issue(
            "GW-1621",
            "Practitioner.identifier",
            "Practitioner has no NIK; its IHS number cannot be looked up",
        )
        return [_entry(b.full_url("Practitioner", key), res, "GET", f"Practitioner/{res.get('id', key)}")]
    url = b.full_url("Practitioner", nik[1])
    return [_entry(url, res, "GET", f"Practitioner?identifier={nik[0]}|{nik[1]}")]


def convert_location(b: _Build, res: dict[str, Any], key: str) -> list[dict[str, Any]]:
    system = b.system("location/{org}")
    res["identifier"] = [{"system": system, "value": key}]
    return [_entry(b.full_url("Location", key), res, "GET", f"Location?identifier={system}|{key}")]


def convert_encounter(b: _Build, res: dict[str, Any], key: str) -> list[dict[str, Any]]:
    _set_identifiers(b, res, key)
    res["serviceProvider"] = {"reference": f"Organization/{b.org}"}
    _ensure_attender(res)
    _status_history(b, res)
    return [_entry(b.full_url("Encounter", key), res, "POST", "Encounter")]


def _ensure_attender(res: dict[str, Any]) -> None:
    participants = [p for p in res.get("participant") or [] if isinstance(p, dict)]
    if participants and not any(
        has_coding(t, HL7_CS + "v3-ParticipationType", "ATND") for p in participants for t in p.get("type") or []
    ):
        participants[0]["type"] = [
            {"coding": [{"system": HL7_CS + "v3-ParticipationType", "code": "ATND", "display": "attender"}]}
        ]


def _status_history(b: _Build, res: dict[str, Any]) -> None:
    """Contiguous arrived -> in-progress -> finished history consistent with status and period."""
    period = res.setdefault("period", {})
    history = [h for h in res.get("statusHistory") or [] if isinstance(h, dict) and h.get("period", {}).get("start")]
    if not history:
        history = _synthesise_history(b, res.get("status"), period.get("start"), period.get("end"))
    elif history[0].get("status") != "arrived":
        history.insert(
            0,
            {"status": "arrived", "period": {"start": period.get("start") or history[0]["period"]["start"]}},
        )
    for current, following in zip(history, history[1:], strict=False):
        current["period"]["end"] = following["period"]["start"]
    if history and history[-1].get("status") != res.get("status"):
        b.issue(
            "GW-1622",
            "Encounter.status",
            f"status {res.get('status')!r} differs from the last status in history",
        )
    if history:
        period["start"] = history[0]["period"]["start"]
        if res.get("status") == "finished" and history[-1]["period"].get("end"):
            period["end"] = history[-1]["period"]["end"]
        res["statusHistory"] = history


def _synthesise_history(b: _Build, status: Any, start: Any, end: Any) -> list[dict[str, Any]]:
    if not start:
        b.issue("GW-1622", "Encounter.period.start", "Encounter without period.start; no statusHistory possible")
        return []
    if status == "arrived":
        return [{"status": "arrived", "period": {"start": start}}]
    if status == "finished" and not end:
        b.issue("GW-1622", "Encounter.period.end", "finished Encounter without period.end")
        return []
    history: list[dict[str, Any]] = [
        {"status": "arrived", "period": {"start": start, "end": start}},
        {"status": "in-progress", "period": {"start": start}},
    ]
    if status == "finished":
        history[1]["period"]["end"] = end
        history.append({"status": "finished", "period": {"start": end, "end": end}})
    return history


def convert_condition(b: _Build, res: dict[str, Any], key: str) -> list[dict[str, Any]]:
    res.setdefault("clinicalStatus", {"coding": [{"system": HL7_CS + "condition-clinical", "code": "active"}]})
    res.setdefault("category", [{"coding": [{"system": HL7_CS + "condition-category", "code": "encounter-diagnosis"}]}])
    icd = [c for c in codings(res.get("code")) if c.get("system") == ICD10]
    if len(icd) <= 1:
        _set_identifiers(b, res, key)
        return [_entry(b.full_url("Condition", key), res, "POST", "Condition")]
    out: list[dict[str, Any]] = []
    for i, coding in enumerate(icd):
        part = copy.deepcopy(res)
        part["code"] = {**res["code"], "coding": [coding]}
        part_key = key if i == 0 else f"{key}-{i + 1}"
        _set_identifiers(b, part, part_key)
        out.append(_entry(b.full_url("Condition", part_key), part, "POST", "Condition"))
    return out


CATEGORY_MAP = "satusehat-observation-category"


def _infer_category(b: _Build, res: dict[str, Any]) -> None:
    """SATUSEHAT requires Observation.category; v2 OBX has none. Take it from the code when the map knows it."""
    if res.get("category"):
        return
    loinc = next((str(c.get("code")) for c in codings(res.get("code")) if c.get("system") == LOINC), None)
    if loinc is None or b.ctx.mappings is None:
        return
    found = b.ctx.mappings.get(CATEGORY_MAP, b.ctx.pins.get(CATEGORY_MAP)).translate(LOINC, loinc)
    if found.target is None:
        return
    b.ctx.used_mappings[CATEGORY_MAP] = {"version": found.version, "digest": found.digest}
    res["category"] = [{"coding": [{"system": found.target_system, "code": found.target, "display": found.display}]}]


def convert_observation(b: _Build, res: dict[str, Any], key: str) -> list[dict[str, Any]]:
    _infer_category(b, res)
    is_vital = any(has_coding(c, HL7_CS + "observation-category", "vital-signs") for c in res.get("category") or [])
    parts = _split_components(res, key) if is_vital and res.get("component") else [(key, res)]
    out = []
    for part_key, part in parts:
        if is_vital:
            _vital_unit(b, part)
            if not part.get("issued") and isinstance(part.get("effectiveDateTime"), str):
                part["issued"] = part["effectiveDateTime"]
        _set_identifiers(b, part, part_key)
        out.append(_entry(b.full_url("Observation", part_key), part, "POST", "Observation"))
    return out


def _split_components(res: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
    """A panel (e.g. blood pressure) -> one Observation per component that carries its own value."""
    out: list[tuple[str, dict[str, Any]]] = []
    for comp in res.get("component") or []:
        if not isinstance(comp, Mapping) or not comp.get("code"):
            continue
        part = {k: copy.deepcopy(v) for k, v in res.items() if k != "component" and not k.startswith("value")}
        part["code"] = copy.deepcopy(comp["code"])
        for k, v in comp.items():
            if k.startswith("value") or k in ("interpretation", "referenceRange", "dataAbsentReason"):
                part[k] = copy.deepcopy(v)
        code = next((c.get("code") for c in codings(comp["code"])), None) or str(len(out) + 1)
        out.append((f"{key}-{code}", part))
    return out


def _vital_unit(b: _Build, obs: dict[str, Any]) -> None:
    quantity = obs.get("valueQuantity")
    loinc = next((str(c.get("code")) for c in codings(obs.get("code")) if c.get("system") == LOINC), None)
    if not isinstance(quantity, dict) or loinc is None:
        return
    found = b.ctx.translate(VITAL_UNITS_MAP, LOINC, loinc, expression="Observation.code", severity="warning")
    if found is None:
        return
    given = quantity.get("code") or quantity.get("unit")
    if given not in (found.target, found.display):
        b.issue(
            "GW-1623",
            "Observation.valueQuantity",
            f"LOINC {loinc} needs unit {found.target!r}, got {given!r}",
        )
        return
    quantity.update({"system": UCUM, "code": found.target, "unit": found.display or found.target})


def convert_generic(b: _Build, res: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rtype = res["resourceType"]
    if rtype in SYS_ID_KINDS:
        _set_identifiers(b, res, key)
    return [_entry(b.full_url(rtype, key), res, "POST", rtype)]


CONVERTERS = {
    "Patient": convert_patient,
    "Practitioner": convert_practitioner,
    "Location": convert_location,
    "Encounter": convert_encounter,
    "Condition": convert_condition,
    "Observation": convert_observation,
}


# ------------------------------------------------------------------------------------------ assembly


def build_bundle(pivot: Any, ctx: MapContext) -> dict[str, Any]:
    """Pivot resource/Bundle -> SATUSEHAT transaction Bundle (see the module docstring)."""
    b = _Build(ctx)
    for full_url, res in pivot_resources(pivot):
        res = normalise_times(res, b.tz)
        old_refs = _own_refs(full_url, res)
        if res["resourceType"] == "Organization":
            _point(b, old_refs, [f"Organization/{b.org}"])
            continue
        key = business_key(res) or str(len(b.entries) + 1)
        res.pop("id", None)
        res.pop("meta", None)
        made = CONVERTERS.get(res["resourceType"], convert_generic)(b, res, key)
        _point(b, old_refs, [e["fullUrl"] for e in made])
        b.entries.extend(made)
    for entry in b.entries:
        _rewrite_refs(entry["resource"], b.refs)
    _fill_diagnoses(b)
    b.entries.sort(key=lambda e: _order(e["resource"]["resourceType"]))
    return {"resourceType": "Bundle", "type": "transaction", "entry": b.entries}


def _own_refs(full_url: str | None, res: Mapping[str, Any]) -> list[str]:
    refs = [full_url] if full_url else []
    if res.get("id"):
        refs.append(f"{res['resourceType']}/{res['id']}")
    return refs


def _point(b: _Build, old: list[str], new: list[str]) -> None:
    for ref in old:
        b.refs[ref] = new


def _order(rtype: str) -> int:
    return DEPENDENCY_ORDER.index(rtype) if rtype in DEPENDENCY_ORDER else len(DEPENDENCY_ORDER)


def _rewrite_refs(obj: Any, refs: Mapping[str, list[str]]) -> None:
    """Rewrite ``reference`` values in place; a list item pointing to a split resource expands to all."""
    if isinstance(obj, dict):
        ref = obj.get("reference")
        if isinstance(ref, str) and ref in refs:
            obj["reference"] = refs[ref][0]
        for value in obj.values():
            _rewrite_refs(value, refs)
    elif isinstance(obj, list):
        expanded: list[Any] = []
        for item in obj:
            target = _ref(item)
            if target is not None and len(refs.get(target, ())) > 1:
                expanded.extend({**item, "reference": url} for url in refs[target])
            else:
                _rewrite_refs(item, refs)
                expanded.append(item)
        obj[:] = expanded


def _fill_diagnoses(b: _Build) -> None:
    """Encounter.diagnosis = its encounter-diagnosis Conditions, use DD, rank 1..n (pivot ranks first)."""
    for entry in b.entries:
        enc = entry["resource"]
        if enc["resourceType"] != "Encounter":
            continue
        ranked = sorted(
            (d for d in enc.get("diagnosis") or [] if isinstance(d, Mapping)),
            key=lambda d: d.get("rank") or 99,
        )
        order = [_ref(d.get("condition")) for d in ranked]
        mine = [e["fullUrl"] for e in b.entries if _is_diagnosis_of(e["resource"], entry["fullUrl"])]
        urls = [u for u in order if u in mine] + [u for u in mine if u not in order]
        if urls:
            enc["diagnosis"] = [_diagnosis(u, i + 1) for i, u in enumerate(urls)]


def _is_diagnosis_of(res: Mapping[str, Any], encounter_url: str) -> bool:
    return (
        res["resourceType"] == "Condition"
        and _ref(res.get("encounter")) == encounter_url
        and any(has_coding(c, HL7_CS + "condition-category", "encounter-diagnosis") for c in res.get("category") or [])
    )


def _diagnosis(url: str, rank: int) -> dict[str, Any]:
    use = {"coding": [{"system": HL7_CS + "diagnosis-role", "code": "DD", "display": "Discharge diagnosis"}]}
    return {"condition": {"reference": url}, "use": use, "rank": rank}


def read_bundle(bundle: Any) -> dict[str, Any]:
    """SATUSEHAT Bundle (or resource) -> pivot ``collection`` Bundle with the same resources."""
    entries = [{"fullUrl": url, "resource": res} if url else {"resource": res} for url, res in pivot_resources(bundle)]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def entries_in_dependency_order(bundle: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The entries of a transaction Bundle sorted for resource-by-resource delivery."""
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, Mapping)]
    yield from sorted(entries, key=lambda e: _order(str((e.get("resource") or {}).get("resourceType"))))


class SatusehatProfileMapper:
    """Mapper ``satusehat+json``: ``from_fhir`` builds the SATUSEHAT Bundle, ``to_fhir`` reads one back."""

    format_id = FORMAT_ID

    def from_fhir(self, resource: Any, ctx: MapContext) -> dict[str, Any]:
        """Build the Bundle and run the pre-flight rules on it: errors land on ``ctx.outcome``, so a
        pipeline stops before anything SATUSEHAT would refuse is enqueued."""
        bundle = build_bundle(resource, ctx)
        ctx.outcome.extend(check_payload(bundle, rule_context(ctx)))
        return bundle

    def to_fhir(self, model: Any, ctx: MapContext) -> dict[str, Any]:
        return read_bundle(model)
