"""Shared state and plumbing of the v2 → FHIR Bundle builder (see :mod:`adapters.hl7v2.to_fhir`)."""

from __future__ import annotations

import re

from adapters.base import MapContext
from adapters.hl7v2.codec import V2Message
from adapters.hl7v2.datatypes import (
    V2_TABLE,
    Json,
    Rep,
    Scope,
    Seg,
    identifier_system,
    prune,
    resource_id,
    xcn_practitioner,
)
from conformance.outcome import Issue

# PV1 field, v3 ParticipationType code, its display (IG: coding.display for ATND, type.text for the others)
PARTICIPANTS = ((7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"), (17, "ADM", "admitter"),
                (52, "PART", "Participation"))  # fmt: skip
EXT = "http://hl7.org/fhir/StructureDefinition/"
MARITAL_STATUS = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
RELIGION = "http://terminology.hl7.org/CodeSystem/v3-ReligiousAffiliation"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
UCUM = "http://unitsofmeasure.org"
BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
MIME_TOP_LEVEL = frozenset({"application", "audio", "font", "image", "message", "model", "multipart", "text", "video"})
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
TEMPORARY_LOCATION = "http://hl7.org/fhir/uv/v2mappings/StructureDefinition/temporary-location"
PERFORMER_FUNCTION = "http://terminology.hl7.org/CodeSystem/v2-0443"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
HANDLED = frozenset(
    "MSH EVN PID PD1 NK1 PV1 PV2 AL1 DG1 PR1 ORC OBR OBX NTE SPM RXA RXR RXE RXO TQ1 SCH TXA MRG SFT".split()
    + ["RF1", "PRD", "PDA"]
)


# the element through which each resource type points at the patient, where R4 makes it required (1..1)
PATIENT_REQUIRED = {"AllergyIntolerance": "patient", "ChargeItem": "subject", "Condition": "subject",
                    "Coverage": "beneficiary", "Immunization": "patient", "MedicationRequest": "subject",
                    "Procedure": "subject", "RelatedPerson": "patient", "ServiceRequest": "subject"}  # fmt: skip


class BuilderBase:
    """State of one message's walk and the plumbing every segment handler uses."""

    def __init__(self, message: V2Message, ctx: MapContext) -> None:
        self.message = message
        self.ctx = ctx
        esc, seps = message.message.esc, message.message.separators
        self.segments = [Seg(s, esc, seps, i) for i, s in enumerate(message.message, start=1)]
        seen: dict[str, int] = {}
        for seg in self.segments:  # locations use the occurrence of the segment id (ERR-2.2), ids the position
            seen[seg.id] = seen.get(seg.id, 0) + 1
            seg.occurrence = seen[seg.id]
        self.scope = Scope(ctx, sender=message.get("MSH-4.1") or message.get("MSH-3.1"))
        self.entries: dict[str, Json] = {}
        self.patient: str | None = None
        self.encounter: str | None = None
        self.order: Json | None = None
        self.report: Json | None = None
        self.observation: Json | None = None
        self.event = message.get("MSH-9.2")
        self.immunization: str | None = None
        self.referral: Json | None = None
        self.conditions: list[str] = []

    # ------------------------------------------------------------ plumbing

    def add(self, resource: Json) -> str:
        ref = f"{resource['resourceType']}/{resource['id']}"
        existing = self.entries.get(ref)
        if existing is None:
            self.entries[ref] = prune(resource)
        else:
            for key, value in prune(resource).items():
                existing.setdefault(key, value)
        return ref

    def where(self, seg: Seg, f: int | None = None) -> str:
        return f"{seg.id}[{seg.occurrence}]" + (f"-{f}" if f else "")

    def subject(self) -> Json | None:
        return {"reference": self.patient} if self.patient else None

    def no_patient(self, seg: Seg) -> None:
        """Warn (GW-1347) that ``seg`` is not mapped: its resource needs the patient and no PID came before it."""
        text = f"{seg.id} needs the patient, but no PID comes before it: not mapped"
        self.ctx.report(Issue("warning", "required", text, location=(self.where(seg),), message_id="GW-1347"))

    def finish_subjects(self) -> None:
        """Give the patient to every resource whose R4 patient element is required but still empty.

        A segment may come before the PID (an ORC, a DG1 in REF^I12); its resource gets the patient
        once the whole message is read. A message with no patient at all cannot carry such a
        resource: it is not produced, and a warning (GW-1347) says so.
        """
        for ref, resource in list(self.entries.items()):
            element = PATIENT_REQUIRED.get(resource["resourceType"])
            if element is None or resource.get(element):
                continue
            if self.patient:
                resource[element] = {"reference": self.patient}
                continue
            del self.entries[ref]
            text = f"no PID in the message: {resource['resourceType']} ({element} 1..1) not produced"
            self.ctx.report(Issue("warning", "required", text, location=("PID",), message_id="GW-1347"))

    def practitioner(self, rep: Rep | None, where: str) -> Json | None:
        if rep is None:
            return None
        made = xcn_practitioner(rep, self.scope, where)
        if made is None:
            return None
        return {"reference": self.add(made[1])}

    # ------------------------------------------------------------ header

    def seg_msh(self, seg: Seg) -> None:
        sender = self.organization(seg.rep(4), self.where(seg, 4))
        source = seg.rep(3)
        endpoint = self.endpoint(source, self.where(seg, 3))
        dest_rep = seg.rep(5)
        destination = None
        if dest_rep is not None:
            receiver = self.organization(seg.rep(6), self.where(seg, 6))
            destination = {"name": dest_rep.c(1), "endpoint": self.endpoint(dest_rep, self.where(seg, 5)),
                           "receiver": receiver}  # fmt: skip
        control = self.message.control_id
        header = {
            "resourceType": "MessageHeader",
            "id": resource_id("MessageHeader", f"{self.message.get('MSH-3.1')}|{self.message.get('MSH-4.1')}", control),
            "eventCoding": {"system": V2_TABLE + "0003", "code": self.event or seg.v(9, 1)},
            "source": {"name": source.c(1) if source else "", "endpoint": endpoint,
                       "software": self.message.get("SFT-3")},
            "destination": [destination] if destination else [],
            "sender": sender,
            "language": seg.v(19),
        }  # fmt: skip
        self.add(header)

    def endpoint(self, rep: Rep | None, where: str) -> str:
        if rep is None:
            return "urn:jembatan:endpoint:unknown"
        configured = (self.scope.settings.get("endpoints") or {}).get(rep.c(1))
        if configured:
            return str(configured)
        if rep.c(2) and rep.c(3).upper() == "ISO":
            return f"urn:oid:{rep.c(2)}"
        slug = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in (rep.c(1) or "unknown").lower())
        return f"urn:jembatan:endpoint:{slug}"

    def organization(self, rep: Rep | None, where: str) -> Json | None:
        """HD (MSH-4/6: .1 namespace, .2 universal id, .3 its type) → Organization."""
        if rep is None or not (rep.c(1) or rep.c(2)):
            return None
        name, oid = rep.c(1), rep.c(2)
        if oid:
            ident = {"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{oid}" if rep.c(3) == "ISO" else oid}
        else:
            ident = {"system": identifier_system(name, "", "", "", self.scope, where), "value": name}
        org = {
            "resourceType": "Organization",
            "id": resource_id("Organization", ident["system"], ident["value"]),
            "identifier": [ident],
            "name": name,
        }
        return {"reference": self.add(org)}

    def mapped_concept(self, rep: Rep | None, map_id: str, table: str, where: str) -> Json | None:
        """A CWE whose codings (.1 and .4, with versions .7/.8) are translated through ``map_id``."""
        if rep is None or self.ctx.mappings is None:
            return None
        codings = []
        for base, version in ((1, 7), (4, 8)):
            if rep.c(base):
                found = self.ctx.translate(map_id, V2_TABLE + table, rep.c(base), expression=where,
                                           severity="warning")  # fmt: skip
                if found is not None and found.target:
                    codings.append(prune({"system": found.target_system, "version": rep.c(version),
                                          "code": found.target, "display": found.display}))  # fmt: skip
        return {"coding": codings} if codings else None


def code_key(concept: Json) -> str:
    codings = concept.get("coding") or []
    if codings:
        return f"{codings[0].get('system', '')}|{codings[0].get('code', '')}"
    return str(concept.get("text", ""))


def positive_int(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) > 0 else None


def num(text: str) -> int | float | None:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None
