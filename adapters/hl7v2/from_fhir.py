"""FHIR R4 Bundle → HL7 v2.5 ADT^A04 / ADT^A08 / ORU^R01 (the reverse of :mod:`adapters.hl7v2.to_fhir`).

The event comes from ``MessageHeader.eventCoding`` when it is A04, A08 or R01; otherwise a Bundle
with Observations becomes ORU^R01 and one without becomes ADT^A04. Codes go back through the same
versioned maps (reverse translation); identifier systems go back to the assigning authority
configured in ``settings["identifier_systems"]`` (an ``urn:oid:`` becomes ``&oid&ISO``). Segment
order is fixed (MSH, EVN, PID, PV1 / MSH, PID, PV1, OBR, OBX…), so v2 → FHIR → v2 → FHIR is stable.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from adapters.base import MapContext
from adapters.hl7v2.codec import Hl7v2Codec, V2Message
from adapters.hl7v2.datatypes import ADMIN_CODE_EXT, DEFAULT_TZ, V2_TABLE, Json
from adapters.hl7v2.escape import escape
from bridge.errors import MappingError

VALUE_TYPES = {"valueQuantity": "NM", "valueString": "ST", "valueCodeableConcept": "CWE", "valueDateTime": "DTM",
               "valueTime": "TM", "valueRange": "NR", "valuePeriod": "DR"}  # fmt: skip
FHIR_DATETIME = re.compile(
    r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$"
)
EVENTS = {"A04": ("ADT", "A04", "ADT_A01"), "A08": ("ADT", "A08", "ADT_A01"), "R01": ("ORU", "R01", "ORU_R01")}


def _e(text: Any) -> str:
    return escape(str(text)) if text not in (None, "") else ""


def _join(sep: str, parts: list[str]) -> str:
    return sep.join(parts).rstrip(sep)


def v2_datetime(value: str | None) -> str:
    """FHIR date/dateTime → v2 DTM (``2024-01-01T08:00:00+07:00`` → ``20240101080000+0700``)."""
    if not value:
        return ""
    match = FHIR_DATETIME.match(value)
    if not match:
        return ""
    y, mo, d, h, mi, s, frac, off = match.groups()
    out = "".join(p for p in (y, mo, d, h, mi, s) if p) + (frac or "")
    if off:
        out += "+0000" if off == "Z" else off.replace(":", "")
    return out


class MessageWriter:
    """Writes the segments of one outgoing message from the resources of a Bundle."""

    def __init__(self, resources: list[Json], ctx: MapContext) -> None:
        self.ctx = ctx
        self.by_type: dict[str, list[Json]] = {}
        for resource in resources:
            self.by_type.setdefault(resource["resourceType"], []).append(resource)
        self.authorities = {str(v): k for k, v in (ctx.settings.get("identifier_systems") or {}).items()}
        self.coding_systems = {str(v): k for k, v in (ctx.settings.get("coding_systems") or {}).items()}

    def first(self, rtype: str) -> Json | None:
        found = self.by_type.get(rtype) or []
        return found[0] if found else None

    # ------------------------------------------------------------ datatypes

    def cx(self, ident: Json) -> str:
        system = ident.get("system", "")
        type_code = next((c.get("code", "") for c in (ident.get("type") or {}).get("coding", [])), "")
        authority = self.authority(system, type_code)
        return _join("^", [_e(ident.get("value")), "", "", authority, _e(type_code)])

    def authority(self, system: str, type_code: str) -> str:
        key = self.authorities.get(system)
        if key is not None:
            name = key.split("|")[0]
            return "" if name == type_code else _e(name)
        if system.startswith("urn:oid:"):
            return f"&{system[8:]}&ISO"
        if system.startswith("urn:jembatan:identifier:"):
            return _e(system.rsplit(":", 1)[1])
        return f"&{_e(system)}&URI" if system else ""

    def cwe(self, concept: Json | None) -> str:
        if not concept:
            return ""
        codings = concept.get("coding") or []
        parts: list[str] = []
        for coding in codings[:2]:
            parts += [_e(coding.get("code")), _e(coding.get("display")), self.system_name(coding.get("system", ""))]
        if not codings:
            parts = ["", "", ""]
        if concept.get("text") and (not codings or concept["text"] != codings[0].get("display")):
            parts += [""] * (8 - len(parts)) + [_e(concept["text"])]
        return _join("^", parts)

    def system_name(self, system: str) -> str:
        if not system:
            return ""
        if system in self.coding_systems:
            return _e(self.coding_systems[system])
        if system.startswith(V2_TABLE):
            return "HL7" + system[len(V2_TABLE) :]
        if self.ctx.mappings is not None:
            cmap = self.ctx.mappings.get("v2-0396-to-code-system", self.ctx.pins.get("v2-0396-to-code-system"))
            found = cmap.translate(None, system, reverse=True)
            if found.target:
                return found.target
        return _e(system)

    def reverse(self, map_id: str, table: str, code: str | None, where: str, severity: str = "error") -> str:
        if not code or self.ctx.mappings is None:
            return ""
        result = self.ctx.translate(map_id, None, code, expression=where, reverse=True, target_system=V2_TABLE + table,
                                    severity=severity)  # fmt: skip
        return _e(result.target) if result and result.target else ""

    def name(self, name: Json) -> str:
        given = list(name.get("given") or []) + ["", "", ""]
        use = self.reverse("v2-0200-to-name-use", "0200", name.get("use"), "HumanName.use", "warning")
        suffix = list(name.get("suffix") or []) + ["", "", ""]
        prefix = (name.get("prefix") or [""])[0]
        period = name.get("period") or {}
        parts = [_e(name.get("family")), _e(given[0]), _e(given[1]), _e(suffix[0]), _e(prefix), _e(suffix[1]), use,
                 "", "", "", "", v2_datetime(period.get("start")), v2_datetime(period.get("end")), _e(suffix[2]),
                 _e(given[2])]  # fmt: skip
        return _join("^", parts)

    def address(self, addr: Json) -> str:
        lines = list(addr.get("line") or []) + ["", ""]
        use = self.reverse("v2-0190-to-address-use", "0190", addr.get("use") or addr.get("type"), "Address.use",
                           "warning")  # fmt: skip
        parts = [lines[0], lines[1], addr.get("city"), addr.get("state"), addr.get("postalCode"), addr.get("country")]
        codes = administrative_parts(addr)
        village = codes.get("village") or addr.get("district")
        rt_rw = f"{codes['rt']}/{codes['rw']}" if codes.get("rt") and codes.get("rw") else ""
        return _join("^", [_e(p) for p in parts] + [use, "", _e(village), _e(rt_rw)])

    def telecom(self, point: Json) -> str:
        where = "ContactPoint"
        equipment = self.reverse("v2-0202-to-contact-point-system", "0202", point.get("system"), where, "warning")
        if point.get("use") == "mobile":
            equipment = self.reverse("v2-0201-to-contact-point-use", "0202", "mobile", where, "warning")
            use = ""
        else:
            use = self.reverse("v2-0201-to-contact-point-use", "0201", point.get("use"), where, "warning")
        value = _e(point.get("value"))
        if point.get("system") == "email":
            return _join("^", ["", use, equipment, value])
        return _join("^", ["", use, equipment] + [""] * 8 + [value])

    def xcn(self, ref: Json | None) -> str:
        practitioner = self.resolve(ref)
        if practitioner is None:
            return ""
        ident = (practitioner.get("identifier") or [{}])[0]
        type_code = next((c.get("code", "") for c in (ident.get("type") or {}).get("coding", [])), "")
        name = (practitioner.get("name") or [{}])[0]
        given = list(name.get("given") or []) + ["", ""]
        suffix = list(name.get("suffix") or []) + ["", "", ""]
        use = self.reverse("v2-0200-to-name-use", "0200", name.get("use"), "HumanName.use", "warning")
        period = name.get("period") or {}
        authority = self.authority(ident.get("system", ""), type_code)
        parts = [_e(ident.get("value")), _e(name.get("family")), _e(given[0]), _e(given[1]), _e(suffix[0]),
                 _e((name.get("prefix") or [""])[0]), _e(suffix[1]), "", authority, use, "", "", _e(type_code),
                 "", "", "", "", "", v2_datetime(period.get("start")), v2_datetime(period.get("end")),
                 _e(suffix[2])]  # fmt: skip
        return _join("^", parts)

    def resolve(self, ref: Json | None) -> Json | None:
        if not ref or "reference" not in ref:
            return None
        rtype, _, rid = ref["reference"].partition("/")
        return next((r for r in self.by_type.get(rtype, []) if r.get("id") == rid), None)

    # ------------------------------------------------------------ segments

    def msh(self, event: tuple[str, str, str], stamp: str) -> str:
        header = self.first("MessageHeader") or {}
        settings = self.ctx.settings
        app = (header.get("source") or {}).get("name") or settings.get("sending_application", "JEMBATAN")
        facility = self.hd(self.resolve(header.get("sender"))) or _e(settings.get("sending_facility", ""))
        dest = (header.get("destination") or [{}])[0]
        receiver = self.hd(self.resolve(dest.get("receiver")))
        control = self.control_id()
        return _join("|", ["MSH", "^~\\&", _e(app), facility, _e(dest.get("name")), receiver, stamp, "",
                           "^".join(event), control, "P", "2.5"])  # fmt: skip

    def hd(self, org: Json | None) -> str:
        """Organization → HD (``name^oid^ISO`` when its identifier is an OID)."""
        if not org:
            return ""
        ident = (org.get("identifier") or [{}])[0]
        value = str(ident.get("value") or "")
        if ident.get("system") == "urn:ietf:rfc:3986":
            oid = value[8:] if value.startswith("urn:oid:") else value
            return _join("^", [_e(org.get("name")), _e(oid), "ISO" if value.startswith("urn:oid:") else "URI"])
        return _e(org.get("name") or value)

    def pl(self, ref: Json | None) -> str:
        """Location → PL (point of care^room^bed^facility) from its identifier."""
        loc = self.resolve(ref)
        if not loc:
            return ""
        ident = (loc.get("identifier") or [{}])[0]
        parts = [_e(p) for p in str(ident.get("value") or loc.get("name") or "").split("/")][:3]
        parts += [""] * (3 - len(parts))
        facility = self.authority(str(ident.get("system") or ""), "")
        return _join(
            "^", [*parts, facility] + ([""] * 4 + [_e(loc.get("description"))] if loc.get("description") else [])
        )

    def control_id(self) -> str:
        basis = "|".join(sorted(f"{r['resourceType']}/{r.get('id')}" for rs in self.by_type.values() for r in rs))
        return hashlib.sha1(basis.encode()).hexdigest()[:20]

    def pid(self, patient: Json) -> str:
        idents = "~".join(self.cx(i) for i in patient.get("identifier") or [])
        names = "~".join(self.name(n) for n in patient.get("name") or [])
        sex = self.reverse("administrative-gender", "0001", patient.get("gender"), "Patient.gender")
        addresses = "~".join(self.address(a) for a in patient.get("address") or [])
        telecom = patient.get("telecom") or []
        home = "~".join(self.telecom(t) for t in telecom if t.get("use") != "work")
        work = "~".join(self.telecom(t) for t in telecom if t.get("use") == "work")
        fields = ["PID", "1", "", idents, "", names, "", v2_datetime(patient.get("birthDate")), sex, "", "",
                  addresses, "", home, work, "", self.cwe(patient.get("maritalStatus"))]  # fmt: skip
        return _join("|", fields)

    def pv1(self, encounter: Json | None) -> str:
        if encounter is None:
            return ""
        cls = self.reverse("v2-0004-to-encounter-class", "0004", (encounter.get("class") or {}).get("code"),
                           "Encounter.class")  # fmt: skip
        fields = ["PV1", "1", cls] + [""] * 43
        statuses = {"active": 3, "completed": 6, "planned": 42}
        for entry in encounter.get("location") or []:
            slot = statuses.get(entry.get("status", ""))
            if slot and not fields[slot]:
                fields[slot] = self.pl(entry.get("location"))
        attending = [p for p in encounter.get("participant") or [] if _has_code(p.get("type"), "ATND")]
        if attending:
            fields[7] = self.xcn(attending[0].get("individual"))
        idents = encounter.get("identifier") or []
        if idents:
            fields[19] = self.cx(idents[0])
        disposition = ((encounter.get("hospitalization") or {}).get("dischargeDisposition") or {}).get("coding") or []
        if disposition:
            fields[36] = self.reverse("v2-0112-to-discharge-disposition", "0112", disposition[0].get("code"),
                                      "Encounter.hospitalization.dischargeDisposition")  # fmt: skip
        period = encounter.get("period") or {}
        fields[44], fields[45] = v2_datetime(period.get("start")), v2_datetime(period.get("end"))
        return _join("|", fields)

    def obr(self, index: int, report: Json | None, first_obs: Json) -> str:
        report = report or {}
        placer = filler = ""
        for ident in report.get("identifier") or []:
            filler = filler or self.ei(ident)
        order = self.resolve((report.get("basedOn") or [None])[0])
        if order:
            for ident in order.get("identifier") or []:
                code = next((c.get("code") for c in (ident.get("type") or {}).get("coding", [])), "")
                if code == "PLAC":
                    placer = self.ei(ident)
                elif code == "FILL":
                    filler = self.ei(ident)
        code = self.cwe(report.get("code") or first_obs.get("code"))
        status = self.reverse("v2-0123-to-diagnostic-report-status", "0123", report.get("status"),
                              "DiagnosticReport.status") if report else ""  # fmt: skip
        fields = ["OBR", str(index), placer, filler, code, "", "", v2_datetime(report.get("effectiveDateTime"))]
        fields += [""] * 14 + [v2_datetime(report.get("issued")), "", "", status]
        return _join("|", fields)

    def ei(self, ident: Json) -> str:
        cx = self.cx({"system": ident.get("system"), "value": ident.get("value")}).split("^")
        authority = (cx + [""] * 4)[3].split("&")
        return _join("^", [cx[0], authority[0], *(authority[1:3] if len(authority) > 2 else [])])

    def obx(self, index: int, obs: Json) -> str:
        key = next((k for k in VALUE_TYPES if k in obs), None)
        value_type = VALUE_TYPES.get(key or "", "")
        value, units = self.obx_value(obs, key)
        ranges = obs.get("referenceRange") or []
        status = self.reverse("v2-0085-to-observation-status", "0085", obs.get("status"), "Observation.status")
        interp = "~".join(self.cwe(i) for i in obs.get("interpretation") or [])
        fields = ["OBX", str(index), value_type, self.cwe(obs.get("code")), "", value, units,
                  _range_text(ranges[0]) if ranges else "", interp, "", "", status, "", "",
                  v2_datetime(obs.get("effectiveDateTime"))]  # fmt: skip
        return _join("|", fields)

    def obx_value(self, obs: Json, key: str | None) -> tuple[str, str]:
        if key == "valueQuantity":
            q = obs[key]
            if q.get("code"):
                units = _join("^", [_e(q.get("code")), _e(q.get("unit")), self.system_name(q.get("system", ""))])
            else:
                units = _e(q.get("unit"))
            return _e(_number_text(q.get("value"))), units
        if key == "valueCodeableConcept":
            return self.cwe(obs[key]), ""
        if key in ("valueDateTime",):
            return v2_datetime(obs[key]), ""
        if key == "valueRange":
            r = obs[key]
            low, high = (r.get("low") or {}).get("value"), (r.get("high") or {}).get("value")
            return _join("^", [_e(_number_text(low)), _e(_number_text(high))]), ""
        if key == "valuePeriod":
            p = obs[key]
            return _join("^", [v2_datetime(p.get("start")), v2_datetime(p.get("end"))]), ""
        if key is not None:
            return _e(obs[key]), ""
        return "", ""


def _range_text(rng: Json) -> str:
    if rng.get("text"):
        return _e(rng["text"])
    low, high = (rng.get("low") or {}).get("value"), (rng.get("high") or {}).get("value")
    return _e(f"{_number_text(low)}-{_number_text(high)}") if low is not None or high is not None else ""


def _has_code(concepts: list[Json] | None, code: str) -> bool:
    return any(c.get("code") == code for concept in concepts or [] for c in concept.get("coding") or [])


def _number_text(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text[:-2] if text.endswith(".0") and isinstance(value, float) and value.is_integer() else text


def administrative_parts(addr: Json) -> dict[str, str]:
    """The SATUSEHAT administrativeCode sub-extensions of an Address (either URL casing) by name."""
    for ext in addr.get("extension") or []:
        if str(ext.get("url", "")).lower() == ADMIN_CODE_EXT.lower():
            return {str(p.get("url")): str(p.get("valueCode") or "") for p in ext.get("extension") or []}
    return {}


def choose_event(writer: MessageWriter) -> tuple[str, str, str]:
    header = writer.first("MessageHeader") or {}
    code = (header.get("eventCoding") or {}).get("code")
    if code in EVENTS:
        return EVENTS[code]
    return EVENTS["R01"] if writer.by_type.get("Observation") else EVENTS["A04"]


def message_from_bundle(resource: Any, ctx: MapContext) -> V2Message:
    data = (
        resource if isinstance(resource, dict) else resource.model_dump(mode="json", exclude_none=True, by_alias=True)
    )
    if data.get("resourceType") == "Bundle":
        resources = [e["resource"] for e in data.get("entry") or [] if "resource" in e]
    else:
        resources = [data]
    writer = MessageWriter(resources, ctx)
    patient = writer.first("Patient")
    if patient is None:
        raise MappingError("GW-1330", "a Bundle without a Patient cannot become ADT or ORU", location="Bundle.entry")
    event = choose_event(writer)
    tz = str(ctx.settings.get("timezone") or DEFAULT_TZ)
    stamp = str(ctx.settings.get("message_datetime") or datetime.now(ZoneInfo(tz)).strftime("%Y%m%d%H%M%S%z"))
    segments = [writer.msh(event, stamp)]
    if event[0] == "ADT":
        segments.append(f"EVN|{event[1]}|{stamp}")
    segments += [writer.pid(patient), writer.pv1(writer.first("Encounter"))]
    if event[0] == "ORU":
        segments += result_segments(writer)
    text = "\r".join(s for s in segments if s) + "\r"
    parsed = Hl7v2Codec().parse(text.encode("utf-8"))
    assert isinstance(parsed, V2Message)
    return parsed


def result_segments(writer: MessageWriter) -> list[str]:
    observations = list(writer.by_type.get("Observation") or [])
    out: list[str] = []
    reports = writer.by_type.get("DiagnosticReport") or []
    used: set[str] = set()
    for index, report in enumerate(reports, start=1):
        members = [writer.resolve(r) for r in report.get("result") or []]
        obs = [o for o in members if o is not None]
        if not obs:
            continue
        out.append(writer.obr(index, report, obs[0]))
        out += [writer.obx(i, o) for i, o in enumerate(obs, start=1)]
        used.update(str(o.get("id")) for o in obs)
    loose = [o for o in observations if str(o.get("id")) not in used]
    if loose:
        out.append(writer.obr(len(reports) + 1, None, loose[0]))
        out += [writer.obx(i, o) for i, o in enumerate(loose, start=1)]
    return out
