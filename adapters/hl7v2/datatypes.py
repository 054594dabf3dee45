"""HL7 v2 data types → FHIR R4 data types (plain dicts), per the v2-to-FHIR IG datatype sheets.

``Seg`` and ``Rep`` give unescaped, 1-based access to python-hl7 segments. Functions here take a
:class:`Scope` (context + settings) when they need a code map, an identifier system or the
facility time zone; they never raise on bad data, they report issues and leave the element out.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import hl7

from adapters.base import MapContext
from adapters.hl7v2.codec import component, repetitions, unescape_text
from conformance.outcome import Issue

V2_TABLE = "http://terminology.hl7.org/CodeSystem/v2-"
NAMESPACE = uuid.UUID("6f1d8a52-3b7e-5c1a-9d2e-4a6b8c0e1f23")
DTM = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$")
OID = re.compile(r"^[0-2](\.\d+)+$")
DEFAULT_TZ = "Asia/Jakarta"
# SATUSEHAT address extension (reference satusehat.md §3.4) and Kemendagri code lengths (§1.5)
ADMIN_CODE_EXT = "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"
ADMIN_CODE_PARTS = (("province", 2), ("city", 4), ("district", 6), ("village", 10))
KEMENDAGRI_VILLAGE = re.compile(r"^\d{10}$")
RT_RW = re.compile(r"^\s*(\d{1,3})\s*/\s*(\d{1,3})\s*$")

Json = dict[str, Any]


class Rep:
    """One repetition of a field: ``c(n)`` / ``c(n, s)`` give unescaped component text."""

    def __init__(self, node: object, esc: str, separators: str) -> None:
        self.node, self.esc, self.separators = node, esc, separators
        self._text: dict[tuple[int, int], str] = {}  # c() memo: handlers read the same components again

    def c(self, c: int = 1, s: int = 1) -> str:
        text = self._text.get((c, s))
        if text is None:
            text = self._text[c, s] = unescape_text(component(self.node, c, s), self.esc, self.separators).strip()
        return text

    def empty(self) -> bool:
        """No text in components 1–29 (a component past the end of the node is empty: not read)."""
        node = self.node
        count = len(node) if isinstance(node, list) and not isinstance(node, hl7.Field) else 1
        return not any(self.c(i) for i in range(1, min(count, 29) + 1))


class Seg:
    """A segment with 1-based, unescaped access (``v(3, 1)`` = first component of field 3)."""

    def __init__(self, segment: hl7.Segment, esc: str = "\\", separators: str = "\r|~^&", index: int = 0) -> None:
        self.segment, self.esc, self.separators, self.index = segment, esc, separators, index
        self.occurrence = 1
        self.id = str(segment[0])
        self._reps: dict[int, list[Rep]] = {}  # reps() memo: the segment is not changed while it is mapped

    def reps(self, f: int) -> list[Rep]:
        return list(self._field_reps(f))

    def _field_reps(self, f: int) -> list[Rep]:
        found = self._reps.get(f)
        if found is None:
            if self.id == "MSH" and f <= 2:
                found = [Rep(str(self.segment[f]), "", self.separators)]
            else:
                out = [Rep(node, self.esc, self.separators) for node in repetitions(self.segment, f)]
                found = [r for r in out if not r.empty()]
            self._reps[f] = found
        return found

    def rep(self, f: int) -> Rep | None:
        reps = self._field_reps(f)
        return reps[0] if reps else None

    def v(self, f: int, c: int = 1, s: int = 1) -> str:
        rep = self.rep(f)
        return rep.c(c, s) if rep else ""


@dataclass
class Scope:
    """What datatype conversions need: the map context, settings and the sender (for local systems)."""

    ctx: MapContext
    sender: str = ""
    reported: set[str] = field(default_factory=set)

    @property
    def settings(self) -> Any:
        return self.ctx.settings

    @property
    def tz(self) -> str:
        return str(self.settings.get("timezone") or DEFAULT_TZ)

    def info(self, message: str, where: str, message_id: str = "GW-1341") -> None:
        key = f"{message_id}:{message}"
        if key in self.reported:
            return
        self.reported.add(key)
        self.ctx.report(Issue("information", "informational", message, location=(where,), message_id=message_id))

    def warn(self, message: str, where: str, message_id: str = "GW-1342") -> None:
        self.ctx.report(Issue("warning", "value", message, location=(where,), message_id=message_id))


def resource_id(resource_type: str, system: str, value: str) -> str:
    """Deterministic id: uuid5 of type, identifier system and value (distinct systems never collide)."""
    return str(uuid.uuid5(NAMESPACE, f"{resource_type}|{system}|{value}"))


_NESTED = (dict, list)


def prune(obj: Any) -> Any:
    """Drop empty strings, lists and dicts recursively."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(v, _NESTED):
                v = prune(v)
            if v or (v is not None and v != "" and v != [] and v != {}):  # a falsy 0 or False stays
                out[k] = v
        return out
    if isinstance(obj, list):
        kept = []
        for v in obj:
            if isinstance(v, _NESTED):
                v = prune(v)
            if v or (v is not None and v != "" and v != [] and v != {}):
                kept.append(v)
        return kept
    return obj


# ---------------------------------------------------------------- date and time


def dtm(value: str, scope: Scope, where: str) -> str | None:
    """v2 DTM/TS → FHIR date or dateTime; a time without offset gets the facility zone."""
    value = value.strip()
    if not value:
        return None
    match = DTM.match(value)
    if not match:
        scope.warn(f"{value!r} is not a v2 date/time; left out", where, "GW-1343")
        return None
    y, mo, d, h, mi, s, frac, off = match.groups()
    try:
        moment = datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError:  # month 00, 30 February, hour 25…: FHIR has no such date
        scope.warn(f"{value!r} is not a valid calendar date/time; left out", where, "GW-1343")
        return None
    if h is None:
        return "-".join(p for p in (y, mo, d) if p)
    offset = f"{off[:3]}:{off[3:]}" if off else _zone_offset(moment, scope.tz)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (frac or "") + offset


def date_only(value: str, scope: Scope, where: str) -> str | None:
    out = dtm(value, scope, where)
    return out[:10] if out else None


def _zone_offset(moment: datetime, tz: str) -> str:
    """The zone's UTC offset at that moment as ``+hh:mm`` (historical second-level offsets truncated)."""
    delta = moment.replace(tzinfo=ZoneInfo(tz)).utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# ---------------------------------------------------------------- codes


def code_system(name: str, scope: Scope, where: str) -> str | None:
    """CWE-3 coding system name → URI: ``settings["coding_systems"][name]`` first (local systems such as a
    BPJS poli list), HL7nnnn by rule, others through v2-0396-to-code-system."""
    name = name.strip()
    if not name:
        return None
    configured = (scope.settings.get("coding_systems") or {}).get(name)
    if configured:
        return str(configured)
    if re.match(r"^HL7\d{4}$", name):
        return V2_TABLE + name[3:]
    if re.match(r"^[a-z][a-z0-9+.-]*:", name):
        return name
    if scope.ctx.mappings is not None:
        result = scope.ctx.translate("v2-0396-to-code-system", None, name, expression=where, severity="information")
        if result is not None and result.target:
            return result.target
    local = re.sub(r"[^a-z0-9-]+", "-", f"{scope.sender}-{name}".lower()).strip("-")
    scope.info(f"coding system {name!r} is local; using urn:jembatan:codesystem:{local}", where)
    return f"urn:jembatan:codesystem:{local}"


def cwe(rep: Rep | None, scope: Scope, where: str, default_system: str | None = None) -> Json | None:
    """CWE/CE → CodeableConcept (codings .1-.3/.7, .4-.6/.8, .10-.12/.13; text from .9 or .2)."""
    if rep is None:
        return None
    codings = []
    for base, version in ((1, 7), (4, 8), (10, 13)):
        code, display, system = _code(rep.c(base)), rep.c(base + 1), rep.c(base + 2)
        if code:
            uri = code_system(system, scope, where) if system else default_system
            codings.append(prune({"system": uri, "version": rep.c(version), "code": code, "display": display}))
    text = rep.c(9) or ("" if codings else rep.c(2))
    if not codings and not text:
        return None
    return prune({"coding": codings, "text": text})


def table_code(rep: Rep | None, table: str, scope: Scope | None = None) -> Json | None:
    """A code from an HL7 table (ID/IS or CWE.1) as a CodeableConcept in that v2 table's system.

    The display is CWE.2 when the sender gave one, else (given ``scope``) the table's own display
    from the versioned map ``v2-<table>-display`` when that map exists (:func:`table_display`).
    """
    if rep is None or not rep.c(1):
        return None
    code = _code(rep.c(1))
    display = rep.c(2) or (table_display(scope, table, code) if scope is not None else None)
    return prune({"coding": [{"system": V2_TABLE + table, "code": code, "display": display}]})


def table_display(scope: Scope, table: str, code: str) -> str | None:
    """The HL7 table's display of ``code`` from map ``v2-<table>-display`` (table → itself, ``equal``).

    A table without such a map, or a code it lacks, gives None without an issue: a display is a
    convenience, the code stays what the sender sent. The map's version is recorded as used.
    """
    registry = scope.ctx.mappings
    map_id = f"v2-{table}-display"
    if not code or registry is None or map_id not in registry:
        return None
    cmap = registry.get(map_id, scope.ctx.pins.get(map_id))
    scope.ctx.used_mappings[cmap.map_id] = {"version": cmap.version, "digest": cmap.digest}
    return cmap.translate(V2_TABLE + table, code).display


def _code(text: str) -> str:
    """FHIR ``code`` allows no leading, trailing or repeated white space."""
    return " ".join(text.split())


def mapped_code(
    scope: Scope, map_id: str, table: str, code: str, where: str, severity: str = "error"
) -> tuple[str | None, str | None]:
    """(target code, target system) through a versioned map; unmapped codes are reported."""
    if not code or scope.ctx.mappings is None:
        return None, None
    result = scope.ctx.translate(map_id, V2_TABLE + table, code, expression=where, severity=severity)
    if result is None:
        return None, None
    return result.target, result.target_system


# ---------------------------------------------------------------- identifiers


def identifier_system(
    authority: str, universal: str, universal_type: str, type_code: str, scope: Scope, where: str
) -> str:
    """The system for a CX/EI: configured first, then OID/URI from the authority, else a derived URN."""
    systems = scope.settings.get("identifier_systems") or {}
    for key in (f"{authority}|{type_code}", authority, universal, type_code):
        if key and key in systems:
            return str(systems[key])
    if universal and (universal_type.upper() == "ISO" or OID.match(universal)):
        return f"urn:oid:{universal}"
    if universal and re.match(r"^[a-z][a-z0-9+.-]*:", universal):
        return universal
    label = authority or universal or type_code or "local"
    slug = re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-") or "local"
    system = f"urn:jembatan:identifier:{slug}"
    scope.info(
        f"no identifier system configured for {label!r}; using {system} "
        f"(set settings['identifier_systems'][{label!r}])",
        where,
        "GW-1340",
    )
    return system


def cx(rep: Rep, scope: Scope, where: str) -> Json | None:
    """CX → Identifier (.1 value, .4 authority → system, .5 type in table 0203, .7/.8 period)."""
    value = rep.c(1)
    if not value:
        return None
    type_code = rep.c(5)
    system = identifier_system(rep.c(4, 1), rep.c(4, 2), rep.c(4, 3), type_code, scope, where)
    ident: Json = {"system": system, "value": value}
    if type_code:
        ident["type"] = {"coding": [{"system": V2_TABLE + "0203", "code": type_code}]}
    period = {"start": date_only(rep.c(7), scope, where), "end": date_only(rep.c(8), scope, where)}
    ident["period"] = period
    return prune(ident)


def ei(rep: Rep | None, scope: Scope, where: str, type_code: str = "") -> Json | None:
    """EI (entity identifier: .1 id, .2 namespace, .3 universal id, .4 type) → Identifier."""
    if rep is None or not rep.c(1):
        return None
    system = identifier_system(rep.c(2), rep.c(3), rep.c(4), type_code, scope, where)
    ident: Json = {"system": system, "value": rep.c(1)}
    if type_code:
        ident["type"] = {"coding": [{"system": V2_TABLE + "0203", "code": type_code}]}
    return ident


# ---------------------------------------------------------------- people and places

FHIR = "http://hl7.org/fhir/"


def lookup(scope: Scope, map_id: str, table: str, code: str, where: str, *, target_system: str | None = None,
           severity: str = "warning") -> str | None:  # fmt: skip
    """Target code through a versioned map; a miss is reported with ``severity`` (warning by default)."""
    if not code or scope.ctx.mappings is None:
        return None
    result = scope.ctx.translate(map_id, V2_TABLE + table, code, expression=where, target_system=target_system,
                                 severity=severity)  # fmt: skip
    return result.target if result is not None else None


def peek(scope: Scope, map_id: str, table: str, code: str, target_system: str | None = None) -> str | None:
    """Like :func:`lookup` but a miss is not reported (for maps consulted to refine a default)."""
    if not code or scope.ctx.mappings is None:
        return None
    cmap = scope.ctx.mappings.get(map_id, scope.ctx.pins.get(map_id))
    scope.ctx.used_mappings[cmap.map_id] = {"version": cmap.version, "digest": cmap.digest}
    return cmap.translate(V2_TABLE + table, code, target_system=target_system).target


def xpn(rep: Rep, scope: Scope, where: str) -> Json | None:
    """XPN → HumanName (.1 family, .2/.3 given, .4 suffix, .5 prefix, .6 degree, .7 use, .12/.13 period)."""
    family = rep.c(1, 1)
    given = [g for g in (rep.c(2), rep.c(3), rep.c(15)) if g]
    if not family and not given:
        return None
    use = lookup(scope, "v2-0200-to-name-use", "0200", rep.c(7), where)
    suffix = [x for x in (rep.c(4), rep.c(6), rep.c(14)) if x]
    period = {"start": date_only(rep.c(12), scope, where), "end": date_only(rep.c(13), scope, where)}
    if rep.c(10, 1):
        period = {"start": date_only(rep.c(10, 1), scope, where), "end": date_only(rep.c(10, 2), scope, where)}
    name = {"use": use, "family": family, "given": given, "prefix": [rep.c(5)], "suffix": suffix, "period": period}
    return prune(name)


def xcn_name(rep: Rep, scope: Scope, where: str) -> Json | None:
    """The name part of an XCN (v2.5+ numbering): .2 family, .3/.4 given, .5 suffix, .6 prefix, .7 degree,
    .10 name type, .21 professional suffix, .19/.20 validity. (.8 is the source table, .13 the identifier
    type code: neither is part of the name.)"""
    family = rep.c(2, 1)
    given = [g for g in (rep.c(3), rep.c(4)) if g]
    if not family and not given:
        return None
    use = lookup(scope, "v2-0200-to-name-use", "0200", rep.c(10), where)
    suffix = [x for x in (rep.c(5), rep.c(7), rep.c(21)) if x]
    period = {"start": date_only(rep.c(19), scope, where), "end": date_only(rep.c(20), scope, where)}
    name = {"use": use, "family": family, "given": given, "prefix": [rep.c(6)], "suffix": suffix, "period": period}
    return prune(name)


def xad(rep: Rep, scope: Scope, where: str) -> Json | None:
    """XAD → Address (.1 street, .2 other, .3 city, .4 state, .5 postal code, .6 country, .7 type,
    .9 county/parish code, .10 census tract, .13/.14 period or the older .12 validity range).

    Indonesian convention: XAD-9 carries the 10-digit Kemendagri village (kelurahan/desa) code and
    XAD-10 the neighbourhood as ``RT/RW``; they become the SATUSEHAT ``administrativeCode``
    extension (see :func:`administrative_code`) instead of ``district``.
    """
    line = [x for x in (rep.c(1, 1), rep.c(1, 2), rep.c(1, 3), rep.c(2), rep.c(19)) if x]
    admin = administrative_code(rep.c(9), rep.c(10), scope, where)
    addr = prune({
        "extension": [admin] if admin else [],
        "line": line, "city": rep.c(3), "state": rep.c(4), "postalCode": rep.c(5), "country": rep.c(6),
        "district": None if admin else county(rep), **address_use_type(rep.c(7), scope, where),
        "period": {"start": date_only(rep.c(13) or rep.c(12, 1), scope, where),
                   "end": date_only(rep.c(14) or rep.c(12, 2), scope, where)},
    })  # fmt: skip
    return addr or None


def county(rep: Rep) -> str:
    """XAD-9 (a CWE) as the district text: its original text (.9), else its text (.2), else its code (.1)."""
    return rep.c(9, 9) or rep.c(9, 2) or rep.c(9)


def kemendagri_codes_on(scope: Scope) -> bool:
    """``settings["kemendagri_address_codes"]`` (default on): read XAD-9/10 as Kemendagri codes and RT/RW."""
    return bool(scope.settings.get("kemendagri_address_codes", True))


def administrative_code(village: str, census_tract: str, scope: Scope, where: str) -> Json | None:
    """XAD-9 village code (and XAD-10 ``RT/RW``) → the SATUSEHAT administrativeCode extension.

    Province, city, district and village are the 2-, 4-, 6- and 10-digit prefixes of the village
    code (the lengths SATUSEHAT's Wilayah master data uses). A malformed code is a located warning
    (GW-1348) and gives no extension; a malformed RT/RW (GW-1349) only drops rt/rw.
    """
    if not village or not kemendagri_codes_on(scope):
        return None
    code = village.replace(".", "")
    if not KEMENDAGRI_VILLAGE.match(code):
        scope.warn(f"XAD-9 {village!r} is not a 10-digit Kemendagri village code; no administrativeCode",
                   f"{where}.9", "GW-1348")  # fmt: skip
        return None
    parts = [{"url": name, "valueCode": code[:n]} for name, n in ADMIN_CODE_PARTS]
    if census_tract:
        rt_rw = RT_RW.match(census_tract)
        if rt_rw:
            parts += [{"url": "rt", "valueCode": rt_rw.group(1)}, {"url": "rw", "valueCode": rt_rw.group(2)}]
        else:
            scope.warn(f"XAD-10 {census_tract!r} is not RT/RW (e.g. 001/002); rt and rw left out",
                       f"{where}.10", "GW-1349")  # fmt: skip
    return {"url": ADMIN_CODE_EXT, "extension": parts}


def address_use_type(code: str, scope: Scope, where: str) -> Json:
    """XAD-7 → Address.use and/or Address.type (table 0190); a code that is neither is reported."""
    use = peek(scope, "v2-0190-to-address-use", "0190", code, FHIR + "address-use")
    kind = peek(scope, "v2-0190-to-address-use", "0190", code, FHIR + "address-type")
    if code and not use and not kind:
        lookup(scope, "v2-0190-to-address-use", "0190", code, where)
    return {"use": use, "type": kind}


def xtn(rep: Rep, default_use: str, scope: Scope, where: str) -> Json | None:
    """XTN → ContactPoint (.1 or .12 or .4 email / .6+.7 number; .2 use; .3 equipment)."""
    equipment = rep.c(3)
    system = lookup(scope, "v2-0202-to-contact-point-system", "0202", equipment, where) or "phone"
    if system == "email":
        value = rep.c(4) or rep.c(1)
    else:
        value = rep.c(12) or "".join(p for p in (rep.c(5), rep.c(6), rep.c(7)) if p) or rep.c(1)
    if not value:
        return None
    use = lookup(scope, "v2-0201-to-contact-point-use", "0201", rep.c(2), where) if rep.c(2) else None
    use = use or default_use  # IG: PID-13 "home" / PID-14 "work" when XTN-2 is empty (XTN-3 CP stays system phone)
    rank = rep.c(18)
    period = {"start": date_only(rep.c(13), scope, where), "end": date_only(rep.c(14), scope, where)}
    point = {"system": system, "value": value, "use": use, "period": period,
             "rank": int(rank) if rank.isdigit() and int(rank) > 0 else None}  # fmt: skip
    return prune(point)


def xcn_practitioner(rep: Rep, scope: Scope, where: str) -> tuple[str, Json] | None:
    """XCN → (id, Practitioner): identifier .1 in the system of .9 authority / .13 type (e.g. ``NIK``
    → the configured NIK system, so SATUSEHAT can look the practitioner up), name from :func:`xcn_name`."""
    ident = None
    if rep.c(1):
        type_code = rep.c(13)
        system = identifier_system(rep.c(9, 1), rep.c(9, 2), rep.c(9, 3), type_code, scope, where)
        kind = {"coding": [{"system": V2_TABLE + "0203", "code": type_code}]} if type_code else None
        ident = prune({"system": system, "value": rep.c(1), "type": kind})
    name = xcn_name(rep, scope, where)
    if ident is None and name is None:
        return None
    key = (ident["system"], ident["value"]) if ident else ("name", repr(name))
    pid = resource_id("Practitioner", *key)
    return pid, prune({"resourceType": "Practitioner", "id": pid, "identifier": [ident], "name": [name]})


def quantity(value: str, unit_rep: Rep | None, scope: Scope, where: str) -> Json | None:
    number = _number(value)
    if number is None:
        scope.warn(f"{value!r} is not a number; value left out", where, "GW-1344")
        return None
    q: Json = {"value": number}
    if unit_rep is not None and unit_rep.c(1):
        q["unit"] = unit_rep.c(2) or unit_rep.c(1)
        if unit_rep.c(3):  # a coded unit; without CWE-3 the unit is only text (UCUM is not assumed)
            q["code"] = unit_rep.c(1)
            q["system"] = code_system(unit_rep.c(3), scope, where)
    return q


def _number(value: str) -> int | float | None:
    text = value.strip()
    if not re.match(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", text):
        return None
    return float(text) if "." in text else int(text)
