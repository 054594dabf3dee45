"""HL7 v2 message → FHIR R4 transaction Bundle, following the HL7 v2-to-FHIR IG segment maps.

One :class:`BundleBuilder` per message walks the segments in order, keeping the current order
(ORC/OBR) and the current result so that OBX, NTE, SPM and TQ1 attach to the right parent. Each
resource gets a deterministic id (:func:`~adapters.hl7v2.datatypes.resource_id`) so re-sending a
message updates the same resources (``PUT Type/id``). Segments the mapper does not consume are
listed in ``ctx.unused``.
"""

from __future__ import annotations

import re

from adapters.base import MapContext
from adapters.hl7v2.codec import V2Message
from adapters.hl7v2.datatypes import (
    FHIR,
    V2_TABLE,
    Json,
    Rep,
    Scope,
    Seg,
    cwe,
    cx,
    date_only,
    dtm,
    ei,
    identifier_system,
    lookup,
    mapped_code,
    peek,
    prune,
    quantity,
    resource_id,
    table_code,
    xad,
    xcn_practitioner,
    xpn,
    xtn,
)
from adapters.hl7v2.referral import ReferralMixin
from adapters.hl7v2.timing import apply_tq1
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


class BundleBuilder(ReferralMixin):
    """Builds the Bundle entries for one message."""

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

    def practitioner(self, rep: Rep | None, where: str) -> Json | None:
        if rep is None:
            return None
        made = xcn_practitioner(rep, self.scope, where)
        if made is None:
            return None
        return {"reference": self.add(made[1])}

    # ------------------------------------------------------------ run

    def build(self) -> list[Json]:
        for warning in self.message.warnings:
            self.ctx.report(Issue("information", "informational", warning, location=("MSH",), message_id="GW-1345"))
        for seg in self.segments:
            handler = getattr(self, f"seg_{seg.id.lower()}", None)
            if handler is None:
                if seg.id not in HANDLED:
                    self.ctx.unused.append(f"{seg.id}[{seg.occurrence}]")
                continue
            handler(seg)
        self.finish_referral()
        return list(self.entries.values())

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

    # ------------------------------------------------------------ patient

    def seg_pid(self, seg: Seg) -> None:
        where = self.where(seg)
        found = [cx(r, self.scope, self.where(seg, f)) for f in (3, 2, 4) for r in seg.reps(f)]
        identifiers = [i for i in found if i]
        identifiers += self.extra_identifiers(seg)
        if identifiers:
            pid = resource_id("Patient", identifiers[0]["system"], identifiers[0]["value"])
        else:
            self.ctx.report(Issue("warning", "required", "PID-3 has no identifier; Patient id derived from name and "
                                  "birth date", location=(self.where(seg, 3),), message_id="GW-1346"))  # fmt: skip
            pid = resource_id("Patient", "name+birth", f"{seg.v(5)}|{seg.v(5, 2)}|{seg.v(7)}")
        patient: Json = {
            "resourceType": "Patient",
            "id": pid,
            "identifier": identifiers,
            "name": [xpn(r, self.scope, where) for r in seg.reps(5)] + [xpn(r, self.scope, where) for r in seg.reps(9)],
            "birthDate": date_only(seg.v(7), self.scope, self.where(seg, 7)),
            "gender": self.gender(seg),
            "address": self.patient_addresses(seg),
            "telecom": [xtn(r, "home", self.scope, where) for r in seg.reps(13)]
            + [xtn(r, "work", self.scope, where) for r in seg.reps(14)]
            + [xtn(r, "", self.scope, self.where(seg, 40)) for r in seg.reps(40)],
            "communication": [
                {"language": lang, "preferred": True}
                for lang in (self.language(r, self.where(seg, 15)) for r in seg.reps(15))
                if lang
            ],
            "maritalStatus": cwe(seg.rep(16), self.scope, where, MARITAL_STATUS),
            "extension": self.patient_extensions(seg),
        }
        self.add_birth_time(patient, seg)
        self.add_deceased(patient, seg)
        if seg.v(24) in ("Y", "N"):
            patient["multipleBirthInteger" if seg.v(25) else "multipleBirthBoolean"] = (
                int(seg.v(25)) if seg.v(25).isdigit() else seg.v(24) == "Y"
            )
        self.patient = self.add(patient)

    def patient_addresses(self, seg: Seg) -> list[Json]:
        """PID-11, and PID-12 county code as the district of the only address (or an address of its own)."""
        addresses = [a for a in (xad(r, self.scope, self.where(seg, 11)) for r in seg.reps(11)) if a]
        county = seg.v(12)
        if county and not addresses:
            addresses = [{"district": county}]
        elif county and len(addresses) == 1 and "district" not in addresses[0] and "extension" not in addresses[0]:
            addresses[0]["district"] = county
        elif county and not any(a.get("district") == county for a in addresses):
            addresses.append({"district": county})
        return addresses

    def extra_identifiers(self, seg: Seg) -> list[Json]:
        """PID-19 (social security, type SB) and PID-20 (driver's licence, type DL)."""
        out = []
        for f, type_code in ((19, "SB"), (20, "DL")):
            value = seg.v(f)
            if value:
                system = identifier_system(seg.v(f, 2) if f == 20 else "", "", "", type_code, self.scope,
                                           self.where(seg, f))  # fmt: skip
                ident = {"system": system, "value": value,
                         "type": {"coding": [{"system": V2_TABLE + "0203", "code": type_code}]}}  # fmt: skip
                if f == 20 and seg.v(f, 3):
                    ident["period"] = {"end": date_only(seg.v(f, 3), self.scope, self.where(seg, f))}
                out.append(prune(ident))
        return out

    def language(self, rep: Rep, where: str) -> Json | None:
        """PID-15 (table 0296, ISO 639-2) → BCP-47 codings through ``v2-0296-to-bcp47-language``."""
        concept = cwe(rep, self.scope, where, V2_TABLE + "0296")
        if concept is None or self.ctx.mappings is None:
            return concept
        codings = []
        for coding in concept.get("coding", []):
            found = None
            if coding.get("system") == V2_TABLE + "0296":
                found = self.ctx.translate("v2-0296-to-bcp47-language", V2_TABLE + "0296", coding["code"],
                                           expression=where, severity="information")  # fmt: skip
            if found is not None and found.target:
                coding = prune({"system": found.target_system, "version": coding.get("version"),
                                "code": found.target, "display": found.display})  # fmt: skip
            codings.append(coding)
        return {**concept, "coding": codings}

    def patient_extensions(self, seg: Seg) -> list[Json]:
        where = self.where(seg)
        out: list[Json] = []
        mother = seg.rep(6)
        if mother is not None and mother.c(1):
            out.append({"url": EXT + "patient-mothersMaidenName", "valueString": mother.c(1)})
        religion = cwe(seg.rep(17), self.scope, where, RELIGION)
        if religion:
            out.append({"url": EXT + "patient-religion", "valueCodeableConcept": religion})
        if seg.v(23):
            out.append({"url": EXT + "patient-birthPlace", "valueAddress": {"text": seg.v(23)}})
        for r in seg.reps(26) + seg.reps(39):  # citizenship, tribal citizenship
            code = cwe(r, self.scope, where)
            if code:
                out.append({"url": EXT + "patient-citizenship",
                            "extension": [{"url": "code", "valueCodeableConcept": code}]})  # fmt: skip
        animal = [{"url": name, "valueCodeableConcept": cwe(seg.rep(f), self.scope, self.where(seg, f))}
                  for f, name in ((35, "species"), (36, "breed")) if seg.rep(f)]  # fmt: skip
        if animal:
            out.append({"url": EXT + "patient-animal", "extension": animal})
        nationality = cwe(seg.rep(28), self.scope, where)
        if nationality:
            out.append({"url": EXT + "patient-nationality",
                        "extension": [{"url": "code", "valueCodeableConcept": nationality}]})  # fmt: skip
        return out

    def gender(self, seg: Seg) -> str | None:
        code = seg.v(8)
        target, _ = mapped_code(self.scope, "administrative-gender", "0001", code, self.where(seg, 8))
        return target

    def add_birth_time(self, patient: Json, seg: Seg) -> None:
        value = seg.v(7)
        if len(value) > 8:
            stamp = dtm(value, self.scope, self.where(seg, 7))
            if stamp and "T" in stamp:
                url = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
                patient["_birthDate"] = {"extension": [{"url": url, "valueDateTime": stamp}]}

    def add_deceased(self, patient: Json, seg: Seg) -> None:
        when = dtm(seg.v(29), self.scope, self.where(seg, 29))
        if when:
            patient["deceasedDateTime"] = when
        elif seg.v(30) in ("Y", "N"):
            patient["deceasedBoolean"] = seg.v(30) == "Y"

    def seg_pd1(self, seg: Seg) -> None:
        if not self.patient:
            return
        gps = [self.practitioner(r, self.where(seg, 4)) for r in seg.reps(4)]
        self.entries[self.patient]["generalPractitioner"] = [g for g in gps if g] or None
        self.entries[self.patient] = prune(self.entries[self.patient])

    def seg_nk1(self, seg: Seg) -> None:
        if not self.patient:
            return
        where = self.where(seg)
        names = [xpn(r, self.scope, where) for r in seg.reps(2)]
        addresses = [xad(r, self.scope, self.where(seg, 4)) for r in seg.reps(4)]
        key = f"{self.patient}|{seg.v(1)}|{seg.v(2)}|{seg.v(2, 2)}"
        person = {
            "resourceType": "RelatedPerson",
            "id": resource_id("RelatedPerson", self.patient, key),
            "patient": self.subject(),
            "name": names,
            "relationship": [cwe(r, self.scope, where, V2_TABLE + "0063") for r in seg.reps(3)],
            "address": addresses,
            "telecom": [xtn(r, "home", self.scope, where) for r in seg.reps(5)]
            + [xtn(r, "work", self.scope, where) for r in seg.reps(6)],
        }
        self.add(person)
        self.add_contact(seg, names, addresses)

    def add_contact(self, seg: Seg, names: list[Json | None], addresses: list[Json | None]) -> None:
        """NK1 → Patient.contact as well (the IG maps NK1 to both RelatedPerson and contact)."""
        assert self.patient is not None
        where = self.where(seg)
        sex, _ = mapped_code(self.scope, "administrative-gender", "0001", seg.v(15), self.where(seg, 15))
        contact = prune({
            "name": next((n for n in names if n), None),
            "relationship": [cwe(r, self.scope, where, V2_TABLE + "0131") for r in seg.reps(7)],
            "address": next((a for a in addresses if a), None),
            "telecom": [xtn(r, "home", self.scope, where) for r in seg.reps(5)]
            + [xtn(r, "work", self.scope, where) for r in seg.reps(6)],
            "gender": sex,
            "period": {"start": date_only(seg.v(8), self.scope, where), "end": date_only(seg.v(9), self.scope, where)},
        })  # fmt: skip
        if contact:
            self.entries[self.patient].setdefault("contact", []).append(contact)

    def seg_mrg(self, seg: Seg) -> None:
        """A40 merge: the retired record is a Patient that points to the surviving one (replaced-by)."""
        found = [cx(r, self.scope, self.where(seg, 1)) for r in seg.reps(1)]
        olds = [o for o in found if o]
        if not olds or not self.patient:
            return
        old = {"resourceType": "Patient", "id": resource_id("Patient", olds[0]["system"], olds[0]["value"]),
               "identifier": olds, "active": False,
               "link": [{"other": {"reference": self.patient}, "type": "replaced-by"}]}  # fmt: skip
        ref = self.add(old)
        survivor = self.entries[self.patient]
        survivor.setdefault("link", []).append({"other": {"reference": ref}, "type": "replaces"})

    # ------------------------------------------------------------ visit

    def seg_pv1(self, seg: Seg) -> None:
        where = self.where(seg)
        visit = seg.rep(19)
        ident = cx(visit, self.scope, self.where(seg, 19)) if visit else None
        if ident:  # the IG types PV1-19 as a visit number whatever CX-5 says
            ident["type"] = {"coding": [{"system": V2_TABLE + "0203", "code": "VN"}], "text": "visit number"}
        if ident:
            eid = resource_id("Encounter", ident["system"], ident["value"])
        else:
            eid = resource_id("Encounter", self.patient or "", seg.v(44) or self.message.control_id)
        cls = None
        if seg.v(2) and self.ctx.mappings is not None:
            cls = self.ctx.translate(
                "v2-0004-to-encounter-class", V2_TABLE + "0004", seg.v(2), expression=self.where(seg, 2)
            )
        cls_code, cls_system = (cls.target, cls.target_system) if cls else (None, None)
        alternate = [cx(r, self.scope, self.where(seg, 50)) for r in seg.reps(50)]
        encounter: Json = {
            "resourceType": "Encounter",
            "id": eid,
            "identifier": [ident, *alternate],
            "status": self.encounter_status(seg),
            "class": {"system": cls_system, "code": cls_code, "display": cls.display if cls else None} if cls_code else
            {"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK"},
            "type": [table_code(seg.rep(4), "0007")],
            "serviceType": cwe(seg.rep(10), self.scope, where, V2_TABLE + "0069"),
            "subject": self.subject(),
            "period": {"start": dtm(seg.v(44), self.scope, self.where(seg, 44)),
                       "end": dtm(seg.v(45), self.scope, self.where(seg, 45))},
            "participant": self.participants(seg),
            "location": self.locations(seg),
            "hospitalization": self.hospitalization(seg),
        }  # fmt: skip
        self.encounter = self.add(encounter)

    def encounter_status(self, seg: Seg) -> str:
        by_event = peek(self.scope, "v2-0003-to-encounter-status", "0003", self.event)
        if by_event:
            return by_event
        if seg.v(2) == "P":
            return "planned"
        return "finished" if seg.v(45) else "in-progress"

    def participants(self, seg: Seg) -> list[Json]:
        out = []
        for f, code, display in PARTICIPANTS:
            for rep in seg.reps(f):
                ref = self.practitioner(rep, self.where(seg, f))
                if ref:
                    coding = {"system": PARTICIPATION, "code": code}
                    kind = {"coding": [{**coding, "display": display}]} if code == "ATND" else {
                        "coding": [coding], "text": display}  # fmt: skip
                    out.append({"type": [kind], "individual": ref})
        return out

    def locations(self, seg: Seg) -> list[Json]:
        out = []
        current = "planned" if seg.v(2) == "P" else "active"  # IG: a pre-admit's location is planned
        for f, status in ((3, current), (6, "completed"), (11, "active"), (42, "planned"), (43, "completed")):
            rep = seg.rep(f)
            if rep is None:
                continue
            loc = self.location(rep, self.where(seg, f))
            if loc is not None:
                entry: Json = {"location": {"reference": self.add(loc)}, "status": status}
                if f in (11, 43):  # temporary / prior temporary location (IG extension)
                    entry["extension"] = [{"url": TEMPORARY_LOCATION, "valueBoolean": True}]
                out.append(entry)
        return out

    def location(self, rep: Rep, where: str) -> Json | None:
        """PL → Location: identifier value ``point-of-care[/room[/bed]]`` in the facility's (PL.4) system."""
        parts = [rep.c(i) for i in (1, 2, 3)]
        while parts and not parts[-1]:
            parts.pop()
        if not parts:
            return None
        value = "/".join(parts)
        system = identifier_system(rep.c(4, 1) or self.scope.sender, rep.c(4, 2), rep.c(4, 3), "", self.scope, where)
        kind = "bd" if len(parts) == 3 else "ro" if len(parts) == 2 else "wa"
        return {
            "resourceType": "Location",
            "id": resource_id("Location", system, value),
            "identifier": [{"system": system, "value": value}],
            "name": " ".join(p for p in parts if p),
            "description": rep.c(9),
            "mode": "instance",
            "physicalType": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": kind}]
            },
        }

    def hospitalization(self, seg: Seg) -> Json:
        where = self.where(seg, 36)
        disposition = None
        if seg.v(36):
            code, system = mapped_code(self.scope, "v2-0112-to-discharge-disposition", "0112", seg.v(36), where)
            if code:
                disposition = {"coding": [{"system": system, "code": code}]}
        pre = seg.rep(5)
        return {
            "preAdmissionIdentifier": cx(pre, self.scope, self.where(seg, 5)) if pre else None,
            "reAdmission": table_code(seg.rep(13), "0092"),
            "admitSource": table_code(seg.rep(14), "0023"),
            "specialArrangement": [table_code(r, "0009") for r in seg.reps(15)],
            "specialCourtesy": [table_code(r, "0099") for r in seg.reps(16)],
            "dietPreference": [table_code(r, "0114") for r in seg.reps(38)],
            "dischargeDisposition": disposition,
        }

    def seg_pv2(self, seg: Seg) -> None:
        if not self.encounter:
            return
        encounter = self.entries[self.encounter]
        reason = cwe(seg.rep(3), self.scope, self.where(seg, 3))
        if reason:
            encounter.setdefault("reasonCode", []).append(reason)
        for rep in seg.reps(13):  # referral source → another referrer participant (IG PV2 map)
            ref = self.practitioner(rep, self.where(seg, 13))
            if ref:
                kind = {"coding": [{"system": PARTICIPATION, "code": "REF"}], "text": "referrer"}
                encounter.setdefault("participant", []).append({"type": [kind], "individual": ref})
        days = _positive_int(seg.v(11))
        if days:
            encounter["length"] = {"value": days, "unit": "d", "system": UCUM, "code": "d"}
        priority = self.mapped_concept(seg.rep(25), "v2-0217-to-act-priority", "0217", self.where(seg, 25))
        if priority:
            encounter["priority"] = priority
        if seg.v(38):
            coding = prune({"system": V2_TABLE + "0430", "code": seg.v(38), "display": seg.v(38, 2)})
            encounter.setdefault("extension", []).append({"url": EXT + "encounter-modeOfArrival",
                                                          "valueCoding": coding})  # fmt: skip

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

    # ------------------------------------------------------------ clinical

    def seg_al1(self, seg: Seg) -> None:
        where = self.where(seg)
        code = cwe(seg.rep(3), self.scope, self.where(seg, 3))
        if not code or not self.patient:
            return
        category = lookup(self.scope, "v2-0127-to-allergy-category", "0127", seg.v(2), self.where(seg, 2),
                          target_system=FHIR + "allergy-intolerance-category")  # fmt: skip
        kind = peek(self.scope, "v2-0127-to-allergy-category", "0127", seg.v(2), FHIR + "allergy-intolerance-type")
        reactions = [cwe(r, self.scope, where) if r.c(3) else {"text": r.c(1)} for r in seg.reps(5)]
        allergy = {
            "resourceType": "AllergyIntolerance",
            "id": resource_id("AllergyIntolerance", self.patient, f"{_code_key(code)}"),
            "patient": self.subject(),
            "code": code,
            "category": [category] if category else [],
            "type": kind,
            "criticality": lookup(self.scope, "v2-0128-to-allergy-criticality", "0128", seg.v(4), self.where(seg, 4)),
            "reaction": [{"manifestation": [r]} for r in reactions if r],
            "onsetDateTime": dtm(seg.v(6), self.scope, self.where(seg, 6)),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                           "code": "active", "display": "Active"}]},
        }  # fmt: skip
        self.add(allergy)

    def seg_dg1(self, seg: Seg) -> None:
        code = cwe(seg.rep(3), self.scope, self.where(seg, 3))
        if seg.v(4):
            code = {**(code or {}), "text": seg.v(4)}
        if code is None or not self.patient:
            return
        ident = ei(seg.rep(20), self.scope, self.where(seg, 20))
        asserted = dtm(seg.v(19), self.scope, self.where(seg, 19))
        cid = resource_id("Condition", ident["system"], ident["value"]) if ident else resource_id(
            "Condition", self.patient, f"{self.encounter}|{_code_key(code)}")  # fmt: skip
        condition = {
            "resourceType": "Condition",
            "id": cid,
            "identifier": [ident],
            "subject": self.subject(),
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "code": code,
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                      "code": "encounter-diagnosis"}]}],
            "onsetDateTime": dtm(seg.v(5), self.scope, self.where(seg, 5)),
            "recordedDate": dtm(seg.v(19), self.scope, self.where(seg, 19)),
            "extension": [{"url": EXT + "condition-assertedDate", "valueDateTime": asserted}] if asserted else [],
            "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION, "code": "entered-in-error"}]}
            if seg.v(21) == "D" else None,
            "asserter": self.practitioner(seg.rep(16), self.where(seg, 16)),
        }  # fmt: skip
        self.add_due_to(condition, seg)
        ref = self.add(condition)
        self.conditions.append(ref)
        if self.encounter:
            rank = seg.v(15)
            use = self.mapped_concept(seg.rep(6), "v2-0052-to-diagnosis-role", "0052", self.where(seg, 6))
            diagnosis = prune({"condition": {"reference": ref}, "use": use,
                               "rank": int(rank) if rank.isdigit() and int(rank) > 0 else None})  # fmt: skip
            self.entries[self.encounter].setdefault("diagnosis", []).append(diagnosis)

    def seg_pda(self, seg: Seg) -> None:
        """PDA-1 death cause codes → Conditions of the patient (the IG's PDA map)."""
        if not self.patient:
            return
        for rep in seg.reps(1):
            code = cwe(rep, self.scope, self.where(seg, 1))
            if code:
                cid = resource_id("Condition", self.patient, f"PDA|{_code_key(code)}")
                self.add({"resourceType": "Condition", "id": cid, "code": code, "subject": self.subject()})

    def add_due_to(self, condition: Json, seg: Seg) -> None:
        """DG1-22 parent diagnosis (EI) → condition-dueTo pointing at the Condition with that identifier."""
        parent = ei(seg.rep(22), self.scope, self.where(seg, 22))
        if parent is None:
            return
        pid = resource_id("Condition", parent["system"], parent["value"])
        ref = self.add({"resourceType": "Condition", "id": pid, "identifier": [parent], "subject": self.subject()})
        condition.setdefault("extension", []).append({"url": EXT + "condition-dueTo", "valueReference":
                                                      {"reference": ref}})  # fmt: skip

    def seg_pr1(self, seg: Seg) -> None:
        code = cwe(seg.rep(3), self.scope, self.where(seg, 3))
        if code is None or not self.patient:
            return
        proc = {
            "resourceType": "Procedure",
            "id": resource_id("Procedure", self.patient, f"{_code_key(code)}|{seg.v(5)}"),
            "status": "completed",
            "subject": self.subject(),
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "code": code,
            "performedDateTime": dtm(seg.v(5), self.scope, self.where(seg, 5)),
        }
        self.add(proc)

    # ------------------------------------------------------------ orders and results

    def seg_orc(self, seg: Seg) -> None:
        placer = ei(seg.rep(2), self.scope, self.where(seg, 2), "PLAC")
        filler = ei(seg.rep(3), self.scope, self.where(seg, 3), "FILL")
        key = placer or filler
        sid = resource_id("ServiceRequest", key["system"], key["value"]) if key else resource_id(
            "ServiceRequest", self.patient or "", f"{self.message.control_id}|ORC{seg.index}")  # fmt: skip
        status = "active"
        if seg.v(5):
            code, _ = mapped_code(self.scope, "v2-0038-to-request-status", "0038", seg.v(5), self.where(seg, 5))
            status = code or "unknown"
        group = ei(seg.rep(4), self.scope, self.where(seg, 4), "PGN")
        request: Json = {
            "resourceType": "ServiceRequest", "id": sid, "identifier": [placer, filler, group], "status": status,
            "intent": "order", "subject": self.subject(),
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "authoredOn": dtm(seg.v(9), self.scope, self.where(seg, 9)),
            "requester": self.practitioner(seg.rep(12), self.where(seg, 12)),
        }  # fmt: skip
        self.order = request
        self.report = None
        self.observation = None

    def seg_obr(self, seg: Seg) -> None:
        placer = ei(seg.rep(2), self.scope, self.where(seg, 2), "PLAC")
        filler = ei(seg.rep(3), self.scope, self.where(seg, 3), "FILL")
        code = cwe(seg.rep(4), self.scope, self.where(seg, 4)) or {"text": "unknown"}
        fresh = self.order is None or self.order is self.referral
        if not fresh and placer is None and filler is None:  # IG: ORC-2/3 stand for empty OBR-2/3
            placer, filler = self.order_identifier("PLAC"), self.order_identifier("FILL")
        if fresh or (placer and placer not in (self.order or {}).get("identifier", [])):
            self._order_from_obr(placer, filler, seg)
        order = self.order or {}
        order.setdefault("identifier", [])
        order["code"] = code
        order["reasonCode"] = [c for c in (cwe(r, self.scope, self.where(seg, 31)) for r in seg.reps(31)) if c] or None
        order.setdefault("requester", self.practitioner(seg.rep(16), self.where(seg, 16)))
        order_ref = f"ServiceRequest/{order['id']}"
        order["subject"] = order.get("subject") or self.subject()
        if self.patient:
            self.add(order)
            self.order = self.entries[order_ref]
        else:
            self.ctx.report(Issue("warning", "required", "no PID before the order: ServiceRequest (subject 1..1) "
                                  "not produced", location=(self.where(seg),), message_id="GW-1347"))  # fmt: skip
        key = filler or placer
        rid = resource_id("DiagnosticReport", key["system"], key["value"]) if key else resource_id(
            "DiagnosticReport", order_ref, str(seg.index))  # fmt: skip
        status = "unknown"
        if seg.v(25):
            target, _ = mapped_code(self.scope, "v2-0123-to-diagnostic-report-status", "0123", seg.v(25),
                                    self.where(seg, 25))  # fmt: skip
            status = target or "unknown"
        report = {
            "resourceType": "DiagnosticReport", "id": rid, "identifier": [filler, placer],
            "basedOn": [{"reference": order_ref}] if self.patient else [], "status": status, "code": code,
            "subject": self.subject(),
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "effectiveDateTime": dtm(seg.v(7), self.scope, self.where(seg, 7)),
            "issued": dtm(seg.v(22), self.scope, self.where(seg, 22)) if len(seg.v(22)) > 8 else None,
            "category": [table_code(seg.rep(24), "0074")],
        }  # fmt: skip
        self.add(report)
        self.report = self.entries[f"DiagnosticReport/{rid}"]
        self.observation = None

    def order_identifier(self, type_code: str) -> Json | None:
        for ident in (self.order or {}).get("identifier") or []:
            if ident and any(c.get("code") == type_code for c in (ident.get("type") or {}).get("coding", [])):
                return dict(ident)
        return None

    def _order_from_obr(self, placer: Json | None, filler: Json | None, seg: Seg) -> None:
        key = placer or filler
        sid = resource_id("ServiceRequest", key["system"], key["value"]) if key else resource_id(
            "ServiceRequest", self.patient or "", f"{self.message.control_id}|OBR{seg.index}")  # fmt: skip
        self.order = {"resourceType": "ServiceRequest", "id": sid, "identifier": [placer, filler],
                      "status": "active", "intent": "order", "subject": self.subject(),
                      "encounter": {"reference": self.encounter} if self.encounter else None}  # fmt: skip

    def seg_obx(self, seg: Seg) -> None:
        where = self.where(seg)
        code = cwe(seg.rep(3), self.scope, self.where(seg, 3))
        if code is None:
            code = {"text": seg.v(3, 2) or "unknown"}
        parent = self.report["id"] if self.report else (self.encounter or self.patient or "")
        oid = resource_id("Observation", parent, f"{_code_key(code)}|{seg.v(4)}|{seg.v(1)}|{seg.index}")
        status = "unknown"
        if seg.v(11):
            target, _ = mapped_code(self.scope, "v2-0085-to-observation-status", "0085", seg.v(11), self.where(seg, 11))
            status = target or "unknown"
        obs: Json = {
            "resourceType": "Observation", "id": oid, "status": status, "code": code,
            "identifier": [ei(seg.rep(21), self.scope, self.where(seg, 21), "FILL")],
            "subject": self.subject(),
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "effectiveDateTime": dtm(seg.v(14), self.scope, self.where(seg, 14)),
            "interpretation": [self.interpretation(r, self.where(seg, 8)) for r in seg.reps(8)],
            "referenceRange": self.reference_range(seg),
            "performer": [self.practitioner(r, self.where(seg, 16)) for r in seg.reps(16)],
            "method": cwe(seg.rep(17), self.scope, where),
            "bodySite": cwe(seg.rep(20), self.scope, self.where(seg, 20)),
        }  # fmt: skip
        if self.report is None and self.patient is None:
            obs.pop("subject")
        self.observation_value(obs, seg)
        self.presented_form(seg)
        ref = self.add(obs)
        self.observation = self.entries[ref]
        if self.report is not None:
            self.report.setdefault("result", []).append({"reference": ref})
            if self.report.get("effectiveDateTime") and not obs.get("effectiveDateTime"):
                self.entries[ref]["effectiveDateTime"] = self.report["effectiveDateTime"]

    def presented_form(self, seg: Seg) -> None:
        """OBX-5 of type RP (.1 pointer, .3 type, .4 subtype) or ED (.2 type, .3 subtype, .5 data) →
        DiagnosticReport.presentedForm (MIME type through ``v2-0191-to-mime-type``)."""
        rep, kind = seg.rep(5), seg.v(2)
        if self.report is None or rep is None or kind not in ("RP", "ED"):
            return
        main, sub = (rep.c(3), rep.c(4)) if kind == "RP" else (rep.c(2), rep.c(3))
        if main and main.lower() not in MIME_TOP_LEVEL:
            main = lookup(self.scope, "v2-0191-to-mime-type", "0191", main, self.where(seg, 5)) or ""
        attachment = {"contentType": f"{main.lower()}/{sub.lower()}" if main and sub else None}
        if kind == "RP":
            attachment["url"] = rep.c(1)
        elif rep.c(4).lower() == "base64" and rep.c(5):
            data = "".join(rep.c(5).split())
            if BASE64.match(data) and len(data) % 4 == 0:
                attachment["data"] = data
            else:
                self.scope.warn("OBX-5.5 is not Base64 data; left out", self.where(seg, 5), "GW-1344")
        attachment = prune(attachment)
        if attachment:
            self.report.setdefault("presentedForm", []).append(attachment)

    def interpretation(self, rep: Rep, where: str) -> Json | None:
        """OBX-8 through v2-0078-to-observation-interpretation (v3 system, table display)."""
        if self.ctx.mappings is None or not rep.c(1):
            return cwe(rep, self.scope, where, INTERPRETATION)
        found = self.ctx.translate("v2-0078-to-observation-interpretation", V2_TABLE + "0078", rep.c(1),
                                   expression=where, severity="warning")  # fmt: skip
        if found is None or not found.target:
            return cwe(rep, self.scope, where, INTERPRETATION)
        return prune({"coding": [{"system": found.target_system, "code": found.target, "display": found.display}]})

    def observation_value(self, obs: Json, seg: Seg) -> None:
        """OBX-5 by OBX-2 (``v2-0125-to-observation-value-type``); a repeated numeric, coded or date
        value becomes one component per repetition (same code and reference range), never dropped."""
        value_type = seg.v(2)
        reps = seg.reps(5)
        if not reps:
            return
        where = self.where(seg, 5)
        kind, _ = mapped_code(self.scope, "v2-0125-to-observation-value-type", "0125", value_type, self.where(seg, 2))
        if kind == "string":
            obs["valueString"] = "\n".join(r.c(1) for r in reps) if value_type != "ST" else reps[0].c(1)
            return
        values = [v for v in (self.one_value(kind, r, value_type, seg, where) for r in reps) if v]
        if len(values) == 1 or (values and len(reps) == 1):
            obs.update(values[0])
        elif values:
            obs["component"] = [{"code": obs["code"], **v, "referenceRange": obs.get("referenceRange")} for v in values]

    def one_value(self, kind: str | None, rep: Rep, value_type: str, seg: Seg, where: str) -> Json | None:
        if kind == "Quantity":
            q = self._numeric(rep, value_type, seg, where)
            return {"valueQuantity": q} if q is not None else None
        if kind == "CodeableConcept":
            concept = cwe(rep, self.scope, where)
            return {"valueCodeableConcept": concept} if concept else None
        if kind == "dateTime":
            moment = dtm(rep.c(1), self.scope, where)
            return {"valueDateTime": moment} if moment else None
        if kind == "time":
            return {"valueTime": rep.c(1)} if rep.c(1) else None
        if kind == "Range":
            rng = prune({"low": {"value": _num(rep.c(1))}, "high": {"value": _num(rep.c(2))}})
            return {"valueRange": rng} if rng else None
        if kind == "Period":
            period = prune({"start": dtm(rep.c(1), self.scope, where), "end": dtm(rep.c(2), self.scope, where)})
            return {"valuePeriod": period} if period else None
        return None

    def _numeric(self, rep: Rep, value_type: str, seg: Seg, where: str) -> Json | None:
        if value_type == "SN":
            comparator, number = rep.c(1), rep.c(2)
            if rep.c(3):  # a ratio or range: not a plain quantity
                self.scope.warn(
                    f"SN {comparator}{number}{rep.c(3)}{rep.c(4)} is not a plain quantity", where, "GW-1344"
                )
                return None
            q = quantity(number, seg.rep(6), self.scope, where)
            if q is not None and comparator in ("<", "<=", ">", ">="):
                q["comparator"] = comparator
            return q
        return quantity(rep.c(1), seg.rep(6), self.scope, where)

    def reference_range(self, seg: Seg) -> list[Json]:
        text = seg.v(7)
        if not text:
            return []
        low, sep, high = text.partition("-")
        if sep and _num(low) is not None and _num(high) is not None:
            unit = seg.rep(6)
            units = {"unit": unit.c(2) or unit.c(1)} if unit is not None and unit.c(1) else {}
            return [{"low": {"value": _num(low), **units}, "high": {"value": _num(high), **units}, "text": text}]
        return [{"text": text}]

    def seg_tq1(self, seg: Seg) -> None:
        if self.order is not None and self.order is not self.referral:
            apply_tq1(self.order, seg, self.scope, self.where(seg))
            if f"ServiceRequest/{self.order['id']}" in self.entries:
                self.entries[f"ServiceRequest/{self.order['id']}"] = self.order = prune(self.order)

    def seg_nte(self, seg: Seg) -> None:
        """NTE after OBX → Observation.note; after ORC/OBR → ServiceRequest.note (.3 text, .5 author, .6 time)."""
        text = "\n".join(r.c(1) for r in seg.reps(3))
        if not text:
            return
        note = prune({"text": text, "time": dtm(seg.v(6), self.scope, self.where(seg, 6)),
                      "authorReference": self.practitioner(seg.rep(5), self.where(seg, 5))})  # fmt: skip
        if self.observation is not None:
            self.observation.setdefault("note", []).append(note)
        elif self.order is not None:
            self.order.setdefault("note", []).append(note)

    def seg_spm(self, seg: Seg) -> None:
        ident = ei(seg.rep(2), self.scope, self.where(seg, 2))
        sid = resource_id("Specimen", ident["system"], ident["value"]) if ident else resource_id(
            "Specimen", self.report["id"] if self.report else self.patient or "", str(seg.index))  # fmt: skip
        specimen = {
            "resourceType": "Specimen", "id": sid, "identifier": [ident],
            "type": cwe(seg.rep(4), self.scope, self.where(seg, 4)),
            "subject": self.subject(),
            "collection": {"collectedDateTime": dtm(seg.v(17), self.scope, self.where(seg, 17)),
                           "bodySite": cwe(seg.rep(8), self.scope, self.where(seg, 8))},
            "receivedTime": dtm(seg.v(18), self.scope, self.where(seg, 18)),
        }  # fmt: skip
        ref = self.add(specimen)
        if self.report is not None:
            self.report.setdefault("specimen", []).append({"reference": ref})

    # ------------------------------------------------------------ pharmacy and immunization

    def seg_rxa(self, seg: Seg) -> None:
        vaccine = cwe(seg.rep(5), self.scope, self.where(seg, 5))
        if vaccine is None or not self.patient:
            return
        if self.order is not None and self.order is not self.referral:  # VXU: the ORC order has no OBR
            self.order = self.entries[self.add(self.order)]
        status = "completed"
        if seg.v(20):
            target, _ = mapped_code(
                self.scope, "v2-0322-to-immunization-status", "0322", seg.v(20), self.where(seg, 20)
            )
            status = target or "completed"
        dose = (
            quantity(seg.v(6), seg.rep(7), self.scope, self.where(seg, 6)) if seg.v(6) and seg.v(6) != "999" else None
        )
        imm: Json = {
            "resourceType": "Immunization",
            "id": resource_id("Immunization", self.patient, f"{_code_key(vaccine)}|{seg.v(3)}"),
            "status": status, "vaccineCode": vaccine, "patient": self.subject(),
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "occurrenceDateTime": dtm(seg.v(3), self.scope, self.where(seg, 3)),
            "doseQuantity": dose,
            "lotNumber": seg.v(15),
            "expirationDate": date_only(seg.v(16), self.scope, self.where(seg, 16)),
            "primarySource": True,
            "performer": self.immunization_performers(seg),
            "identifier": [i for i in (self.order or {}).get("identifier", []) if i],
            "statusReason": cwe(seg.rep(18), self.scope, self.where(seg, 18)),
        }  # fmt: skip
        if not imm["occurrenceDateTime"]:
            imm["occurrenceString"] = "unknown"
        self.observation = None
        self.add(imm)
        self.immunization = str(imm["id"])

    def immunization_performers(self, seg: Seg) -> list[Json]:
        """RXA-10 administering provider (function AP) and ORC-12 ordering provider (OP)."""
        out = []
        for rep in seg.reps(10):
            actor = self.practitioner(rep, self.where(seg, 10))
            if actor:
                out.append({"actor": actor, "function": {"coding": [{"system": PERFORMER_FUNCTION, "code": "AP"}]}})
        requester = (self.order or {}).get("requester")
        if requester:
            out.append({"actor": requester, "function": {"coding": [{"system": PERFORMER_FUNCTION, "code": "OP"}]}})
        return out

    def seg_rxr(self, seg: Seg) -> None:
        imm_id = getattr(self, "immunization", None)
        if imm_id and f"Immunization/{imm_id}" in self.entries:
            entry = self.entries[f"Immunization/{imm_id}"]
            entry["route"] = cwe(seg.rep(1), self.scope, self.where(seg, 1)) or entry.get("route")
            entry["site"] = cwe(seg.rep(2), self.scope, self.where(seg, 2)) or entry.get("site")
            self.entries[f"Immunization/{imm_id}"] = prune(entry)

    def seg_rxe(self, seg: Seg) -> None:
        med = cwe(seg.rep(2), self.scope, self.where(seg, 2))
        if med is None or not self.patient:
            return
        order_key = self.order["id"] if self.order else self.message.control_id
        request: Json = {
            "resourceType": "MedicationRequest",
            "id": resource_id("MedicationRequest", order_key, _code_key(med)),
            "status": "active", "intent": "order", "subject": self.subject(),
            "medicationCodeableConcept": med,
            "identifier": self.order.get("identifier") if self.order else [],
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "dispenseRequest": {"quantity": quantity(seg.v(10), seg.rep(11), self.scope, self.where(seg, 10))
                                if seg.v(10) else None, "numberOfRepeatsAllowed": _num(seg.v(12))},
        }  # fmt: skip
        self.add(request)

    def seg_sch(self, seg: Seg) -> None:
        ident = ei(seg.rep(1), self.scope, self.where(seg, 1), "PLAC") or ei(
            seg.rep(2), self.scope, self.where(seg, 2), "FILL"
        )
        if ident is None:
            return
        appt = {
            "resourceType": "Appointment", "id": resource_id("Appointment", ident["system"], ident["value"]),
            "identifier": [ident], "status": "booked",
            "appointmentType": cwe(seg.rep(8), self.scope, self.where(seg, 8)),
            "reasonCode": [cwe(seg.rep(7), self.scope, self.where(seg, 7))],
            "minutesDuration": _positive_int(seg.v(9)),
            "participant": [{"actor": self.subject(), "status": "accepted"}] if self.patient else
            [{"status": "needs-action"}],
        }  # fmt: skip
        self.add(appt)
        self.appointment = appt["id"]

    def seg_txa(self, seg: Seg) -> None:
        ident = ei(seg.rep(12), self.scope, self.where(seg, 12))
        did = resource_id("DocumentReference", ident["system"], ident["value"]) if ident else resource_id(
            "DocumentReference", self.patient or "", self.message.control_id)  # fmt: skip
        where = self.where(seg, 17)
        status = lookup(self.scope, "v2-0271-to-document-reference-status", "0271", seg.v(17), where) or "current"
        doc = {
            "resourceType": "DocumentReference", "id": did, "masterIdentifier": ident, "status": status,
            "type": cwe(seg.rep(2), self.scope, self.where(seg, 2)) or table_code(seg.rep(2), "0270"),
            "subject": self.subject(),
            "date": dtm(seg.v(4), self.scope, self.where(seg, 4)),
            "content": [{"attachment": {"contentType": seg.v(3) or "text/plain"}}],
        }  # fmt: skip
        self.add(doc)
        self.document = f"DocumentReference/{did}"


def _code_key(concept: Json) -> str:
    codings = concept.get("coding") or []
    if codings:
        return f"{codings[0].get('system', '')}|{codings[0].get('code', '')}"
    return str(concept.get("text", ""))


def _positive_int(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) > 0 else None


def _num(text: str) -> int | float | None:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def bundle_for(message: V2Message, ctx: MapContext) -> Json:
    entries = BundleBuilder(message, ctx).build()
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in entries
        ],
    }  # fmt: skip
