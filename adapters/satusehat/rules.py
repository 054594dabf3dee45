"""Offline pre-flight rules for SATUSEHAT (Kemenkes FHIR R4), written as our own checks.

The Kemenkes StructureDefinitions are thin; what the platform really refuses is enforced by
server-side business rules and terminology checks. This module re-states the documented ones so a
payload can be checked *before* it is sent. Every finding is an :class:`~conformance.outcome.Issue`
with a FHIRPath ``expression`` and a stable ``message_id`` (``GW-41xx``); where SATUSEHAT publishes
a rule number, the message carries it (``RuleNumber: 10117``) and :data:`RULES` records it.

The input is one resource or a Bundle as a JSON dict (a ``fhir.resources`` model is dumped
first). Facility settings (``ctx.settings``) may give ``organization_id`` (the SATUSEHAT org id the
credentials belong to); without it the organization checks only require that one payload never
mixes two organization ids. Code bindings are checked with ``ctx.terminology.validate_code`` when a
terminology service is wired in, otherwise only the code formats are checked.

No I/O happens here apart from reading the bundled mapping files when the context has no registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from conformance.outcome import Issue, Severity

SYS_IDS = "http://sys-ids.kemkes.go.id/"
NATIONAL_IDS = "https://fhir.kemkes.go.id/id/"
EXT_BASE = "https://fhir.kemkes.go.id/r4/StructureDefinition/"
ADMIN_CODE_EXT = EXT_BASE + "administrativeCode"
KFA = SYS_IDS + "kfa"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
HL7_CS = "http://terminology.hl7.org/CodeSystem/"
VITAL_UNITS_MAP = "satusehat-vital-signs-units"
DATE_FLOOR = date(2014, 6, 3)
MAX_ISSUES = 500

#: sys-ids identifier types SATUSEHAT documents (reference §3.2); ``diagnostic`` is ``diagnostic/{org}/lab``.
SYS_ID_TYPES = frozenset(
    (
        "encounter condition observation procedure servicerequest specimen diagnostic prescription "
        "prescription-item medication medicationstatement medicationdispense allergy composition "
        "clinicalimpression episode-of-care location organization careteam accessionno claim-number "
        "claim-batch-number immunization careplan questionnaireresponse healthcareservice appointment "
        "slot imagingstudy"
    ).split()
)

DATETIME_FULL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")
DATETIME_ANY = re.compile(r"^\d{4}-\d{2}-\d{2}T")
DATE_ONLY = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NIK = re.compile(r"^\d{16}$")
CODE_FORMATS: dict[str, re.Pattern[str]] = {
    ICD10: re.compile(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$"),
    ICD9CM: re.compile(r"^\d{2}(\.\d{1,2})?$"),
    LOINC: re.compile(r"^(\d{1,8}-\d|LP\d{3,8}-\d|LA\d{3,8}-\d)$"),
    SNOMED: re.compile(r"^\d{6,18}$"),
    KFA: re.compile(r"^(9\d{7}|VG\d{1,4})$"),  # products 93…, ingredients 91…, vaccine groups VG…
}
ADMIN_CODE_LENGTHS = {"province": 2, "city": 4, "district": 6, "village": 10}
DATE_KEYS_EXEMPT_FROM_FLOOR = ("birthDate", "deceasedDateTime", "onsetDateTime", "abatementDateTime")
FLOOR_EXEMPT_TYPES = frozenset({"Patient", "Practitioner", "RelatedPerson", "Organization", "Location"})


@dataclass(frozen=True)
class Rule:
    """One documented rejection. ``satusehat_rule`` is the server's RuleNumber when one is published."""

    message_id: str
    summary: str
    source: str
    satusehat_rule: str | None = None


RULES: tuple[Rule, ...] = (
    Rule(
        "GW-4100",
        "payload is not a FHIR resource object, or the Bundle is not a transaction",
        "§2 Bundle shape",
    ),
    Rule(
        "GW-4101",
        "sys-ids identifier system names another organization than the credentials'",
        "§3.2, §5 [ISS#18]",
        "10117",
    ),
    Rule("GW-4102", "sys-ids identifier system malformed (https, missing organization, unknown type)", "§3.2"),
    Rule(
        "GW-4103",
        "Organization reference not the credentials' organization (business rule)",
        "§1.2 credential rules",
    ),
    Rule("GW-4104", "national identifier system misspelt (must be https://fhir.kemkes.go.id/id/...)", "§3.1"),
    Rule("GW-4105", "NIK / NIK ibu is not 16 digits", "§3.1"),
    Rule("GW-4106", "required element missing", "§3.5 required fields"),
    Rule(
        "GW-4107",
        "dateTime without seconds or explicit offset (YYYY-MM-DDThh:mm:ss+zz:zz)",
        "§3.5 time format",
    ),
    Rule("GW-4108", "dateTime not in UTC+00:00 (warning: normalise)", "§3.5 time format"),
    Rule("GW-4109", "date earlier than 2014-06-03", "§3.5 time format"),
    Rule("GW-4110", "date without a time where a dateTime is expected (warning)", "§3.5 time format"),
    Rule("GW-4111", "PUT without the resource id ('id is required')", "§1.3, §5 [ISS#55]"),
    Rule(
        "GW-4112",
        "Encounter.statusHistory missing or not starting with 'arrived'",
        "§3.5 Encounter lifecycle",
    ),
    Rule(
        "GW-4113",
        "Encounter.statusHistory periods not chronological / contiguous",
        "§3.5 Encounter lifecycle",
    ),
    Rule("GW-4114", "Encounter.status differs from the last statusHistory entry", "§3.5 Encounter lifecycle"),
    Rule("GW-4115", "finished Encounter without period.end or diagnosis", "§3.5 Encounter lifecycle"),
    Rule("GW-4116", "Encounter.diagnosis without use DD or ranks not 1..n", "§3.5 Encounter lifecycle"),
    Rule("GW-4117", "Encounter participant without ATND type or not a Practitioner", "§3.5 Encounter"),
    Rule("GW-4118", "Encounter.period does not match its statusHistory", "§3.5 Encounter lifecycle"),
    Rule("GW-4120", "diagnosis Condition does not carry exactly one ICD-10 code", "§3.5 Condition"),
    Rule("GW-4125", "Observation value[x] not Quantity or CodeableConcept", "§3.5 profiles"),
    Rule("GW-4126", "vital-sign Observation not LOINC + UCUM with the expected unit", "§3.5 vital signs"),
    Rule("GW-4127", "blood pressure sent as a panel, not two Observations (warning)", "§3.5 vital signs"),
    Rule("GW-4130", "Patient without a NIK or NIK ibu identifier", "§1.3 Patient minimum data"),
    Rule("GW-4131", "Patient.gender not male or female", "§1.3 Patient minimum data"),
    Rule("GW-4132", "address without administrativeCode extension (≥2 parts, including city)", "§1.3, §3.4"),
    Rule("GW-4133", "administrative code not digits or of unexpected length", "§1.5 Wilayah code lengths"),
    Rule("GW-4134", "Patient.birthDate not a full YYYY-MM-DD date", "§1.3 Patient minimum data"),
    Rule("GW-4135", "extension URL casing 'AdministrativeCode' (information)", "§3.4 casing trap"),
    Rule("GW-4140", "Medication.code not a KFA product code (93xxxxxx)", "§1.4, §3.5 Medication"),
    Rule("GW-4141", "Medication ingredient not a KFA ingredient code (91xxxxxx)", "§1.4, §3.5 Medication"),
    Rule("GW-4142", "Medication without the MedicationType extension (warning)", "§3.4"),
    Rule(
        "GW-4143",
        "MedicationRequest/Dispense without both prescription and prescription-item identifiers",
        "§3.2, §3.5",
    ),
    Rule("GW-4144", "MedicationRequest/Dispense without medicationReference", "§3.5 MedicationRequest"),
    Rule("GW-4145", "Procedure.code not ICD-9-CM", "§2 step 9, §3.3"),
    Rule("GW-4150", "Location.position latitude/longitude out of range (swapped?)", "§1.3 Location"),
    Rule("GW-4160", "Bundle entry without request, or fullUrl not unique", "§2 Bundle shape"),
    Rule("GW-4161", "urn:uuid reference does not resolve inside the Bundle", "§2 Bundle shape"),
    Rule("GW-4162", "reference points to the wrong resource type", "§3.5 required fields"),
    Rule("GW-4170", "code not valid in its code system (terminology server)", "§5 FHIR Processor"),
    Rule("GW-4171", "code does not have the format of its code system", "§5 FHIR Processor"),
)

RULES_BY_ID: dict[str, Rule] = {rule.message_id: rule for rule in RULES}


#: required elements per resource type; ``a|b`` = one of; ``x.y`` = nested.
REQUIRED: dict[str, tuple[str, ...]] = {
    "Patient": ("identifier", "name", "birthDate", "gender", "address"),
    "Encounter": (
        "identifier",
        "status",
        "class",
        "subject",
        "participant",
        "period.start",
        "location",
        "statusHistory",
        "serviceProvider",
    ),
    "Condition": ("clinicalStatus", "category", "code", "subject", "encounter"),
    "Observation": (
        "status",
        "category",
        "code",
        "subject",
        "encounter",
        "effectiveDateTime|effectivePeriod|effectiveInstant",
    ),
    "Procedure": ("status", "code", "subject", "encounter"),
    "Medication": ("code",),
    "MedicationRequest": (
        "identifier",
        "status",
        "intent",
        "subject",
        "encounter",
        "requester",
        "authoredOn",
    ),
    "MedicationDispense": ("identifier", "status", "subject", "context"),
    "ServiceRequest": ("identifier", "status", "intent", "code", "subject", "encounter", "requester"),
    "Specimen": ("type", "subject", "collection"),
    "DiagnosticReport": ("identifier", "status", "category", "code", "subject", "result"),
    "AllergyIntolerance": ("identifier", "code", "patient", "encounter"),
    "Composition": ("identifier", "status", "type", "subject", "encounter", "date", "author", "title"),
    "ClinicalImpression": ("identifier", "status", "subject", "encounter"),
    "Location": ("identifier", "name", "managingOrganization"),
    "Organization": ("identifier", "name"),
}

#: reference elements and the resource types they may point to.
REFERENCE_TARGETS: dict[str, tuple[str, ...]] = {
    "subject": ("Patient", "Group"),
    "patient": ("Patient",),
    "encounter": ("Encounter",),
    "context": ("Encounter", "EpisodeOfCare"),
    "serviceProvider": ("Organization",),
    "managingOrganization": ("Organization",),
    "medicationReference": ("Medication",),
    "requester": ("Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "Device"),
}


# --------------------------------------------------------------------------------------------- helpers


@dataclass
class Node:
    """A resource under check: its JSON and the FHIRPath prefix that locates it in the payload."""

    resource: Mapping[str, Any]
    path: str

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType", ""))

    def at(self, suffix: str) -> str:
        return f"{self.path}.{suffix}" if suffix else self.path


@dataclass
class RuleContext:
    """What the checks consult: the organization id, a code checker and the Bundle's fullUrls."""

    organization_id: str | None
    validate_code: Callable[[str, str], bool | None] | None
    vital_unit: Callable[[str], tuple[str, str] | None]
    full_urls: Mapping[str, str] = field(default_factory=dict)  # Bundle fullUrl -> resourceType
    methods: Mapping[str, str] | None = None


def issue(message_id: str, expression: str, message: str, severity: Severity = "error", code: str = "") -> Issue:
    """Build a located issue; the FHIR IssueType defaults by rule family."""
    code = code or _issue_type(message_id)
    rule = RULES_BY_ID.get(message_id)
    if rule and rule.satusehat_rule:
        message = f"{message} (RuleNumber: {rule.satusehat_rule})"
    return Issue(severity, code, message, expression=(expression,), message_id=message_id)


def _issue_type(message_id: str) -> str:
    if message_id == "GW-4106":
        return "required"
    if message_id in ("GW-4170", "GW-4171", "GW-4126", "GW-4120", "GW-4140", "GW-4141", "GW-4145"):
        return "code-invalid"
    if message_id in ("GW-4101", "GW-4103", "GW-4111", "GW-4112", "GW-4113", "GW-4114", "GW-4115"):
        return "business-rule"
    return "value"


def get_path(obj: Any, dotted: str) -> Any:
    """``period.start`` from a dict, ``None`` when any step is missing."""
    for part in dotted.split("."):
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def codings(concept: Any) -> list[Mapping[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, Mapping)]


def has_coding(concept: Any, system: str, code: str | None = None) -> bool:
    return any(c.get("system") == system and (code is None or c.get("code") == code) for c in codings(concept))


def target_type(reference: Any, rc: RuleContext) -> str | None:
    """Resource type a Reference points to, resolving ``urn:uuid:`` through the Bundle's fullUrls."""
    ref = reference.get("reference") if isinstance(reference, Mapping) else None
    if isinstance(ref, str) and ref in rc.full_urls:
        return rc.full_urls[ref]
    return ref_type(reference)


def ref_type(reference: Any) -> str | None:
    """``Patient/123`` -> ``Patient``; ``urn:uuid:..`` and absolute URLs resolve to the last type segment."""
    if not isinstance(reference, Mapping) or not isinstance(reference.get("reference"), str):
        return None
    parts = reference["reference"].split("/")
    return parts[-2] if len(parts) >= 2 else None


def walk(obj: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """Yield ``(fhirpath, key, value)`` for every element below ``obj`` (lists indexed)."""
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if key == "resource" or key == "contained":
                continue
            sub = f"{path}.{key}"
            if isinstance(value, list):
                for i, item in enumerate(value):
                    yield f"{sub}[{i}]", key, item
                    yield from walk(item, f"{sub}[{i}]")
            else:
                yield sub, key, value
                yield from walk(value, sub)


def sys_id_parts(system: str) -> tuple[str, str | None] | None:
    """``http://sys-ids.kemkes.go.id/encounter/100025753`` -> ``("encounter", "100025753")``."""
    if not system.startswith(SYS_IDS):
        return None
    parts = [p for p in system[len(SYS_IDS) :].split("/") if p]
    if not parts:
        return ("", None)
    return (parts[0], parts[1] if len(parts) > 1 else None)


# ------------------------------------------------------------------------------------- generic checks


def check_required(node: Node, rc: RuleContext) -> Iterator[Issue]:
    for spec in REQUIRED.get(node.type, ()):
        options = spec.split("|")
        if not any(_present(get_path(node.resource, option)) for option in options):
            name = " or ".join(options)
            yield issue("GW-4106", node.at(options[0]), f"{node.type}.{name} is required by SATUSEHAT")


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def check_references(node: Node, rc: RuleContext) -> Iterator[Issue]:
    for key, allowed in REFERENCE_TARGETS.items():
        value = node.resource.get(key)
        target = target_type(value, rc)
        if target is None or not isinstance(value, Mapping):
            continue
        if target not in allowed:
            yield issue(
                "GW-4162",
                node.at(f"{key}.reference"),
                f"{node.type}.{key} must reference {' or '.join(allowed)}, not {target}",
            )


def check_identifiers(node: Node, rc: RuleContext) -> Iterator[Issue]:
    for path, key, value in walk(node.resource, node.path):
        if key == "identifier" and isinstance(value, Mapping):  # list items and single identifiers alike
            system = value.get("system")
            if isinstance(system, str):
                yield from _check_identifier_system(f"{path}.system", system, rc)


def _check_identifier_system(path: str, system: str, rc: RuleContext) -> Iterator[Issue]:
    if system.startswith("https://sys-ids.kemkes.go.id/"):
        yield issue("GW-4102", path, f"sys-ids identifier systems use http, not https: {system}")
        return
    if system.startswith("http://fhir.kemkes.go.id/id/"):
        yield issue("GW-4104", path, f"national identifier systems use https://fhir.kemkes.go.id/id/...: {system}")
        return
    parts = sys_id_parts(system)
    if parts is None or system == KFA:
        return
    id_type, org = parts
    if id_type not in SYS_ID_TYPES:
        yield issue("GW-4102", path, f"unknown sys-ids identifier type {id_type!r} in {system}", "information")
        return
    if org is None:
        yield issue("GW-4102", path, f"sys-ids identifier system {system} lacks the organization id")
    elif rc.organization_id and org != rc.organization_id:
        yield issue(
            "GW-4101",
            path,
            f"Wrong organization ID provided by system URL: {system} "
            f"(credentials belong to organization {rc.organization_id})",
        )


def check_org_references(node: Node, rc: RuleContext) -> Iterator[Issue]:
    if not rc.organization_id:
        return
    expected = f"Organization/{rc.organization_id}"
    for key in ("serviceProvider", "managingOrganization", "custodian"):
        ref = get_path(node.resource, f"{key}.reference")
        if isinstance(ref, str) and ref.startswith("Organization/") and ref != expected:
            yield issue(
                "GW-4103",
                node.at(f"{key}.reference"),
                f"resource cannot be accessed due to business rule: {ref} is not {expected}",
            )


def check_national_ids(node: Node, rc: RuleContext) -> Iterator[Issue]:
    for i, ident in enumerate(_identifiers(node.resource)):
        system = ident.get("system")
        if system in (NATIONAL_IDS + "nik", NATIONAL_IDS + "nik-ibu"):
            value = str(ident.get("value", ""))
            if not NIK.match(value):
                yield issue(
                    "GW-4105",
                    node.at(f"identifier[{i}].value"),
                    f"{system.rsplit('/', 1)[-1].upper()} must be 16 digits, got {value!r}",
                )


def _identifiers(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = resource.get("identifier")
    if isinstance(value, Mapping):
        return [value]
    return [v for v in value or [] if isinstance(v, Mapping)]


def check_times(node: Node, rc: RuleContext) -> Iterator[Issue]:
    for path, key, value in walk(node.resource, node.path):
        if not isinstance(value, str) or key in (
            "div",
            "text",
            "value",
            "display",
            "reference",
            "system",
            "code",
        ):
            continue
        if DATETIME_ANY.match(value):
            yield from _check_datetime(node, path, key, value)
        elif DATE_ONLY.match(value) and _is_date_key(key):
            yield from _check_date(node, path, key, value)


def _is_date_key(key: str) -> bool:
    return key in (
        "start",
        "end",
        "date",
        "authoredOn",
        "recordedDate",
        "issued",
        "birthDate",
    ) or key.endswith(("DateTime", "Date", "Time"))


def _check_datetime(node: Node, path: str, key: str, value: str) -> Iterator[Issue]:
    if not DATETIME_FULL.match(value):
        yield issue("GW-4107", path, f"{value!r} must be YYYY-MM-DDThh:mm:ss+zz:zz (seconds and an explicit offset)")
        return
    if value.endswith("Z"):
        yield issue(
            "GW-4108",
            path,
            f"{value!r}: SATUSEHAT documents the offset as +00:00 rather than Z",
            "information",
        )
    elif not value.endswith("+00:00"):
        yield issue("GW-4108", path, f"{value!r} is not in UTC; SATUSEHAT asks for +00:00", "warning")
    yield from _check_floor(node, path, key, value[:10])


def _check_date(node: Node, path: str, key: str, value: str) -> Iterator[Issue]:
    if key != "birthDate" and key != "date" and (key.endswith("DateTime") or key in ("start", "end", "authoredOn")):
        yield issue("GW-4110", path, f"{value!r} has no time; send YYYY-MM-DDThh:mm:ss+00:00", "warning")
    yield from _check_floor(node, path, key, value)


def _check_floor(node: Node, path: str, key: str, value: str) -> Iterator[Issue]:
    if node.type in FLOOR_EXEMPT_TYPES or key in DATE_KEYS_EXEMPT_FROM_FLOOR:
        return
    padded = (value + "-01-01")[:10] if len(value) < 10 else value
    try:
        when = date.fromisoformat(padded)
    except ValueError:
        yield issue("GW-4107", path, f"{value!r} is not a valid date")
        return
    if when < DATE_FLOOR:
        yield issue("GW-4109", path, f"{value!r} is earlier than 2014-06-03, which SATUSEHAT refuses")


def check_codes(node: Node, rc: RuleContext) -> Iterator[Issue]:
    for path, key, value in walk(node.resource, node.path):
        if key != "coding" or not isinstance(value, Mapping):
            continue
        system, code = value.get("system"), value.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            continue
        pattern = CODE_FORMATS.get(system)
        if pattern is not None and not pattern.match(code):
            yield issue("GW-4171", f"{path}.code", f"{code!r} is not a well-formed code of {system}")
            continue
        if rc.validate_code is not None and rc.validate_code(system, code) is False:
            yield issue("GW-4170", f"{path}.code", f"{code!r} is not a valid code in {system}")


# ---------------------------------------------------------------------------------------- Encounter


def check_encounter(node: Node, rc: RuleContext) -> Iterator[Issue]:
    enc = node.resource
    yield from _check_participants(node, rc)
    history = [h for h in enc.get("statusHistory") or [] if isinstance(h, Mapping)]
    if not history:
        return  # GW-4106 already reports the missing statusHistory
    if history[0].get("status") != "arrived":
        yield issue("GW-4112", node.at("statusHistory[0].status"), "statusHistory must start with 'arrived'")
    yield from _check_history_periods(node, history)
    if enc.get("status") != history[-1].get("status"):
        yield issue(
            "GW-4114",
            node.at("status"),
            f"status {enc.get('status')!r} differs from the last statusHistory entry {history[-1].get('status')!r}",
        )
    yield from _check_period_matches(node, history)
    if enc.get("status") == "finished":
        yield from _check_finished(node)
    yield from _check_diagnosis(node, rc)


def _check_participants(node: Node, rc: RuleContext) -> Iterator[Issue]:
    participants = node.resource.get("participant") or []
    for i, part in enumerate(participants):
        if not isinstance(part, Mapping):
            continue
        if target_type(part.get("individual"), rc) != "Practitioner":
            yield issue(
                "GW-4117",
                node.at(f"participant[{i}].individual"),
                "participant.individual must be a Practitioner (IHS number)",
            )
    if participants and not any(
        has_coding(t, HL7_CS + "v3-ParticipationType", "ATND")
        for p in participants
        if isinstance(p, Mapping)
        for t in p.get("type") or []
    ):
        yield issue("GW-4117", node.at("participant"), "no participant of type ATND (attender)")


def _check_history_periods(node: Node, history: list[Mapping[str, Any]]) -> Iterator[Issue]:
    last = len(history) - 1
    for i, entry in enumerate(history):
        start, end = get_path(entry, "period.start"), get_path(entry, "period.end")
        where = node.at(f"statusHistory[{i}].period")
        if not start:
            yield issue("GW-4113", f"{where}.start", "every statusHistory entry needs period.start")
            continue
        if end and _instant(end) is not None and _instant(start) is not None and _instant(end) < _instant(start):
            yield issue("GW-4113", f"{where}.end", "statusHistory period ends before it starts")
        if i < last:
            following = get_path(history[i + 1], "period.start")
            if not end:
                yield issue("GW-4113", f"{where}.end", "a statusHistory entry followed by another must be closed")
            elif following and _instant(following) != _instant(end):
                yield issue(
                    "GW-4113",
                    node.at(f"statusHistory[{i + 1}].period.start"),
                    "statusHistory periods must be contiguous (each starts where the previous ends)",
                )


def _check_period_matches(node: Node, history: list[Mapping[str, Any]]) -> Iterator[Issue]:
    start = get_path(node.resource, "period.start")
    first = get_path(history[0], "period.start")
    if start and first and _instant(start) != _instant(first):
        yield issue("GW-4118", node.at("period.start"), "period.start must equal statusHistory[0].period.start")
    end = get_path(node.resource, "period.end")
    last_end = get_path(history[-1], "period.end")
    if end and last_end and _instant(end) != _instant(last_end):
        yield issue("GW-4118", node.at("period.end"), "period.end must equal the end of the last statusHistory entry")


def _check_finished(node: Node) -> Iterator[Issue]:
    if not get_path(node.resource, "period.end"):
        yield issue("GW-4115", node.at("period.end"), "a finished Encounter needs period.end")
    if not node.resource.get("diagnosis"):
        yield issue(
            "GW-4115",
            node.at("diagnosis"),
            "a finished Encounter needs diagnosis[] (Condition, use DD, rank)",
        )


def _check_diagnosis(node: Node, rc: RuleContext) -> Iterator[Issue]:
    diagnoses = [d for d in node.resource.get("diagnosis") or [] if isinstance(d, Mapping)]
    for i, diag in enumerate(diagnoses):
        if target_type(diag.get("condition"), rc) != "Condition":
            yield issue(
                "GW-4116",
                node.at(f"diagnosis[{i}].condition"),
                "diagnosis.condition must reference a Condition",
            )
        if not has_coding(diag.get("use"), HL7_CS + "diagnosis-role"):
            yield issue(
                "GW-4116",
                node.at(f"diagnosis[{i}].use"),
                "diagnosis.use must be coded (diagnosis-role, e.g. DD)",
            )
    ranks = [d.get("rank") for d in diagnoses]
    if diagnoses and sorted(r for r in ranks if isinstance(r, int)) != list(range(1, len(diagnoses) + 1)):
        yield issue("GW-4116", node.at("diagnosis"), f"diagnosis ranks must be 1..{len(diagnoses)}, got {ranks}")


def _instant(value: Any) -> Any:
    """Comparable instant for a FHIR dateTime (None when it can't be parsed; no offset is read as UTC,
    the missing offset itself being GW-4107)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ------------------------------------------------------------------------- Condition, Observation …


def check_condition(node: Node, rc: RuleContext) -> Iterator[Issue]:
    cond = node.resource
    is_diagnosis = any(
        has_coding(c, HL7_CS + "condition-category", "encounter-diagnosis") for c in cond.get("category") or []
    )
    icd = [c for c in codings(cond.get("code")) if c.get("system") == ICD10]
    if len(icd) > 1 or (is_diagnosis and not icd and not has_coding(cond.get("code"), SNOMED)):
        yield issue(
            "GW-4120",
            node.at("code.coding"),
            f"a diagnosis Condition carries exactly one ICD-10 code "
            f"(SNOMED for non-diagnosis conditions), found {len(icd)}; send one Condition per diagnosis",
        )


def check_observation(node: Node, rc: RuleContext) -> Iterator[Issue]:
    obs = node.resource
    values = [k for k in obs if k.startswith("value")]
    for key in values:
        if key not in ("valueQuantity", "valueCodeableConcept"):
            yield issue(
                "GW-4125",
                node.at(key),
                f"Observation.{key} is not allowed; use valueQuantity or valueCodeableConcept",
            )
    if any(has_coding(c, HL7_CS + "observation-category", "vital-signs") for c in obs.get("category") or []):
        yield from _check_vital_sign(node, rc)


def _check_vital_sign(node: Node, rc: RuleContext) -> Iterator[Issue]:
    obs = node.resource
    loinc = [c for c in codings(obs.get("code")) if c.get("system") == LOINC]
    if not loinc:
        yield issue("GW-4126", node.at("code.coding"), "a vital-sign Observation is coded in LOINC")
        return
    if obs.get("component") and not obs.get("valueQuantity"):
        yield issue(
            "GW-4127",
            node.at("component"),
            "send systolic (8480-6) and diastolic (8462-4) as two Observations, not one panel",
            "warning",
        )
        return
    if not obs.get("performer"):
        yield issue("GW-4106", node.at("performer"), "a vital-sign Observation needs performer")
    if not obs.get("issued"):
        yield issue("GW-4106", node.at("issued"), "a vital-sign Observation needs issued")
    yield from _check_vital_unit(node, rc, str(loinc[0].get("code")))


def _check_vital_unit(node: Node, rc: RuleContext, code: str) -> Iterator[Issue]:
    quantity = node.resource.get("valueQuantity")
    if not isinstance(quantity, Mapping):
        yield issue("GW-4126", node.at("valueQuantity"), "a vital-sign Observation needs valueQuantity")
        return
    if quantity.get("system") != UCUM or not quantity.get("code"):
        yield issue("GW-4126", node.at("valueQuantity.system"), "valueQuantity needs system UCUM and a code")
        return
    expected = rc.vital_unit(code)
    if expected is not None and quantity.get("code") != expected[0]:
        yield issue(
            "GW-4126",
            node.at("valueQuantity.code"),
            f"LOINC {code} is measured in {expected[0]!r}, got {quantity.get('code')!r}",
        )


def check_patient(node: Node, rc: RuleContext) -> Iterator[Issue]:
    pat = node.resource
    systems = {i.get("system") for i in _identifiers(pat)}
    if pat.get("identifier") and not systems & {NATIONAL_IDS + "nik", NATIONAL_IDS + "nik-ibu"}:
        yield issue("GW-4130", node.at("identifier"), "a Patient is created with a NIK or NIK ibu identifier")
    if "gender" in pat and pat["gender"] not in ("male", "female"):
        yield issue("GW-4131", node.at("gender"), f"gender must be male or female, got {pat['gender']!r}")
    birth = pat.get("birthDate")
    if isinstance(birth, str) and not FULL_DATE.match(birth):
        yield issue("GW-4134", node.at("birthDate"), f"birthDate must be YYYY-MM-DD, got {birth!r}")
    if not any(get_path(n, "text") for n in pat.get("name") or [] if isinstance(n, Mapping)) and pat.get("name"):
        yield issue("GW-4106", node.at("name[0].text"), "Patient.name.text (name as on the KTP) is required")
    yield from check_addresses(node, rc)


def check_addresses(node: Node, rc: RuleContext) -> Iterator[Issue]:
    raw = node.resource.get("address")
    addresses = [raw] if isinstance(raw, Mapping) else list(raw or [])
    suffix = "address" if isinstance(raw, Mapping) else "address[{}]"
    for i, addr in enumerate(addresses):
        if isinstance(addr, Mapping):
            yield from _check_address(node, suffix.format(i), addr)


def _check_address(node: Node, where: str, addr: Mapping[str, Any]) -> Iterator[Issue]:
    exts = [e for e in addr.get("extension") or [] if isinstance(e, Mapping)]
    for j, ext in enumerate(exts):
        if ext.get("url") == EXT_BASE + "AdministrativeCode":
            yield issue(
                "GW-4135",
                node.at(f"{where}.extension[{j}].url"),
                "current SATUSEHAT docs spell the extension 'administrativeCode' (lower-case a)",
                "information",
            )
    found = [(j, e) for j, e in enumerate(exts) if str(e.get("url", "")).lower() == ADMIN_CODE_EXT.lower()]
    if not found:
        yield issue(
            "GW-4132",
            node.at(f"{where}.extension"),
            "address needs the administrativeCode extension (Kemendagri province/city/district/village codes)",
        )
        return
    j, ext = found[0]
    parts = {
        p.get("url"): (k, p.get("valueCode"))
        for k, p in enumerate(ext.get("extension") or [])
        if isinstance(p, Mapping)
    }
    if len(parts) < 2 or "city" not in parts:
        yield issue(
            "GW-4132",
            node.at(f"{where}.extension[{j}]"),
            "administrativeCode needs at least two parts, including city",
        )
    for name, (k, value) in parts.items():
        yield from _check_admin_code(node.at(f"{where}.extension[{j}].extension[{k}].valueCode"), name, value)


def _check_admin_code(path: str, name: Any, value: Any) -> Iterator[Issue]:
    if not isinstance(value, str) or not value.isdigit():
        yield issue("GW-4133", path, f"administrative code {name} must be digits, got {value!r}")
        return
    expected = ADMIN_CODE_LENGTHS.get(str(name))
    if expected and len(value) != expected:
        yield issue("GW-4133", path, f"Kemendagri {name} codes have {expected} digits, got {value!r}", "warning")


def check_medication(node: Node, rc: RuleContext) -> Iterator[Issue]:
    med = node.resource
    kfa = [c for c in codings(med.get("code")) if c.get("system") == KFA]
    if med.get("code") and not any(str(c.get("code", "")).startswith("93") for c in kfa):
        yield issue(
            "GW-4140",
            node.at("code.coding"),
            f"Medication.code needs a KFA product code (93xxxxxx, system {KFA})",
        )
    for i, ing in enumerate(med.get("ingredient") or []):
        item = ing.get("itemCodeableConcept") if isinstance(ing, Mapping) else None
        if item is not None and not any(
            str(c.get("code", "")).startswith("91") for c in codings(item) if c.get("system") == KFA
        ):
            yield issue(
                "GW-4141",
                node.at(f"ingredient[{i}].itemCodeableConcept"),
                "ingredients use KFA active-ingredient codes (91xxxxxx)",
            )
    if not any(str(e.get("url", "")).endswith("/MedicationType") for e in med.get("extension") or []):
        yield issue("GW-4142", node.at("extension"), "Medication should carry the MedicationType extension", "warning")


def check_prescription(node: Node, rc: RuleContext) -> Iterator[Issue]:
    types = {(sys_id_parts(str(i.get("system", ""))) or ("", None))[0] for i in _identifiers(node.resource)}
    if not {"prescription", "prescription-item"} <= types:
        yield issue(
            "GW-4143",
            node.at("identifier"),
            "both the prescription and the prescription-item identifiers (sys-ids) are required",
        )
    if not node.resource.get("medicationReference"):
        yield issue(
            "GW-4144",
            node.at("medicationReference"),
            f"{node.type} references a Medication resource (medicationReference) coded in KFA",
        )


def check_procedure(node: Node, rc: RuleContext) -> Iterator[Issue]:
    code = node.resource.get("code")
    if code and not has_coding(code, ICD9CM):
        yield issue("GW-4145", node.at("code.coding"), f"Procedure.code must carry an ICD-9-CM coding ({ICD9CM})")


def check_location(node: Node, rc: RuleContext) -> Iterator[Issue]:
    pos = node.resource.get("position")
    if not isinstance(pos, Mapping):
        return
    lat, lon = pos.get("latitude"), pos.get("longitude")
    if isinstance(lat, int | float) and not -90 <= lat <= 90:
        yield issue(
            "GW-4150",
            node.at("position.latitude"),
            f"latitude {lat} is out of range (longitude and latitude swapped, as in the official sample?)",
        )
    if isinstance(lon, int | float) and not -180 <= lon <= 180:
        yield issue("GW-4150", node.at("position.longitude"), f"longitude {lon} is out of range")


# ---------------------------------------------------------------------------------- the whole payload

ALWAYS: tuple[Callable[[Node, RuleContext], Iterator[Issue]], ...] = (
    check_required,
    check_references,
    check_identifiers,
    check_org_references,
    check_national_ids,
    check_times,
    check_codes,
)
BY_TYPE: dict[str, tuple[Callable[[Node, RuleContext], Iterator[Issue]], ...]] = {
    "Encounter": (check_encounter,),
    "Condition": (check_condition,),
    "Observation": (check_observation,),
    "Patient": (check_patient,),
    "Medication": (check_medication,),
    "MedicationRequest": (check_prescription,),
    "MedicationDispense": (check_prescription,),
    "Procedure": (check_procedure,),
    "Location": (check_location, check_addresses),
    "Organization": (check_addresses,),
}


def check_resource(node: Node, rc: RuleContext) -> Iterator[Issue]:
    """Every rule that applies to one resource."""
    for check in ALWAYS + BY_TYPE.get(node.type, ()):
        yield from check(node, rc)
    method = (rc.methods or {}).get(node.path)
    if method == "PUT" and not node.resource.get("id"):
        yield issue("GW-4111", node.at("id"), "id is required: a PUT (update) must carry the resource id")


def check_payload(doc: Any, rc: RuleContext) -> list[Issue]:
    """All issues for a resource or a transaction Bundle (dict), capped at :data:`MAX_ISSUES`."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("resourceType"), str):
        return [
            issue(
                "GW-4100",
                "",
                "payload must be a FHIR resource (JSON object with resourceType)",
                code="structure",
            )
        ]
    if doc["resourceType"] != "Bundle":
        return _capped(check_resource(Node(doc, doc["resourceType"]), rc))
    return _capped(_check_bundle(doc, rc))


def _capped(issues: Iterator[Issue]) -> list[Issue]:
    out: list[Issue] = []
    for found in issues:
        out.append(found)
        if len(out) >= MAX_ISSUES:
            out.append(Issue.warning("too-costly", f"stopped after {MAX_ISSUES} issues", message_id="GW-4100"))
            break
    return out


def _check_bundle(bundle: Mapping[str, Any], rc: RuleContext) -> Iterator[Issue]:
    if bundle.get("type") != "transaction":
        yield issue("GW-4100", "Bundle.type", f"SATUSEHAT takes a transaction Bundle, got {bundle.get('type')!r}")
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, Mapping)]
    full_urls: list[str] = [str(e.get("fullUrl")) for e in entries if e.get("fullUrl")]
    for i, url in enumerate(full_urls):
        if url in full_urls[:i]:
            yield issue("GW-4160", f"Bundle.entry[{i}].fullUrl", f"fullUrl {url} is not unique")
    methods: dict[str, str] = {}
    for i, entry in enumerate(entries):
        request = entry.get("request")
        if not isinstance(request, Mapping) or not request.get("method") or not request.get("url"):
            yield issue("GW-4160", f"Bundle.entry[{i}].request", "each transaction entry needs request.method and url")
        else:
            methods[f"Bundle.entry[{i}].resource"] = str(request["method"]).upper()
    types = {
        str(e["fullUrl"]): str(e["resource"].get("resourceType"))
        for e in entries
        if e.get("fullUrl") and isinstance(e.get("resource"), Mapping)
    }
    scoped = RuleContext(rc.organization_id, rc.validate_code, rc.vital_unit, types, methods)
    for i, entry in enumerate(entries):
        resource = entry.get("resource")
        if methods.get(f"Bundle.entry[{i}].resource") == "GET":
            continue  # a lookup (Practitioner / Location by identifier): nothing is sent
        if isinstance(resource, Mapping):
            node = Node(resource, f"Bundle.entry[{i}].resource")
            yield from check_resource(node, scoped)
            yield from _check_internal_refs(node, scoped)


def _check_internal_refs(node: Node, rc: RuleContext) -> Iterator[Issue]:
    for path, key, value in walk(node.resource, node.path):
        if (
            key == "reference"
            and isinstance(value, str)
            and value.startswith("urn:uuid:")
            and value not in rc.full_urls
        ):
            yield issue("GW-4161", path, f"{value} does not match any fullUrl in this Bundle")
