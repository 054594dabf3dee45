"""PID, PD1, NK1 and MRG → Patient and RelatedPerson (v2-to-FHIR IG segment maps).

Besides its own segments, a Patient takes the IG PV1[Patient] field (PV1-16 VIP indicator) and
the patient's own data that other segments of the same patient carry (IN2-61, DB1-3 of a disabled
patient, a GT1 whose guarantor is the patient); these are read ahead from ``seg_pid``.
"""

from __future__ import annotations

from adapters.hl7v2.builder import EXT, BuilderBase
from adapters.hl7v2.datatypes import (
    V2_TABLE,
    Json,
    Rep,
    Seg,
    cwe,
    cx,
    date_only,
    dtm,
    identifier_system,
    mapped_code,
    prune,
    resource_id,
    table_display,
    xad,
    xpn,
    xtn,
)
from conformance.outcome import Issue

GUARANTOR_IS_SELF = "SEL"  # GT1-11, table 0063 Relationship: the guarantor is the patient
DISABLED_IS_PATIENT = "PT"  # DB1-2, table 0334 Disabled Person Code: the disabled person is the patient
EMPLOYER = "E"  # table 0131 Contact Role
MOTHER = "MTH"  # table 0063 Relationship: the relationship of the PID-21 mother


def merge(resource: Json, key: str, items: list[Json | None]) -> None:
    """Append the non-empty ``items`` that ``resource[key]`` does not hold yet."""
    present = resource.setdefault(key, [])
    for item in items:
        if item and item not in present:
            present.append(item)


class PatientMixin(BuilderBase):
    # ------------------------------------------------------------ patient

    def seg_pid(self, seg: Seg) -> None:
        where = self.where(seg)
        found = [cx(r, self.scope, self.where(seg, f)) for f in (3, 2, 4) for r in seg.reps(f)]
        identifiers = [i for i in found if i]
        identifiers += self.extra_identifiers(seg) + self.own_identifiers(seg)
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
            "maritalStatus": self.translated(seg.rep(16), "v2-0002-to-marital-status", "0002", self.where(seg, 16)),
            "extension": self.patient_extensions(seg) + self.visit_importance(seg),
        }
        self.add_guarantor_self(patient, seg)
        for ident in patient["identifier"]:
            self.add_type_display(ident)
        self.add_birth_time(patient, seg)
        self.add_deceased(patient, seg)
        if seg.v(24) in ("Y", "N"):
            patient["multipleBirthInteger" if seg.v(25) else "multipleBirthBoolean"] = (
                int(seg.v(25)) if seg.v(25).isdigit() else seg.v(24) == "Y"
            )
        self.patient = self.add(patient)
        self.add_mothers(seg)

    def add_mothers(self, seg: Seg) -> None:
        """PID-21 mother's identifier → a RelatedPerson for the mother (IG CX[RelatedPerson-Mother])."""
        for rep in seg.reps(21):
            ident = cx(rep, self.scope, self.where(seg, 21))
            if not ident:
                continue
            self.add_type_display(ident)
            rid = resource_id("RelatedPerson", ident["system"], ident["value"])
            relation = self.relationship(MOTHER, self.where(seg, 21))
            self.add({"resourceType": "RelatedPerson", "id": rid, "patient": self.subject(), "identifier": [ident],
                      "relationship": [relation]})  # fmt: skip

    def relationship(self, code: str, where: str) -> Json:
        """A table 0063 relationship code as RelatedPerson.relationship, through the IG Relationship map."""
        coding: Json = {"system": V2_TABLE + "0063", "code": code}
        found = None
        if self.ctx.mappings is not None:
            found = self.ctx.translate("v2-0063-to-relationship", V2_TABLE + "0063", code, expression=where,
                                       severity="information")  # fmt: skip
        if found is not None and found.target:
            coding = prune({"system": found.target_system, "code": found.target, "display": found.display})
        return {"coding": [coding]}

    def patient_addresses(self, seg: Seg) -> list[Json]:
        """PID-11, and PID-12 county code as a district (IG PID sheet).

        PID-12 goes into the only address when that address has no XAD-9; otherwise (several
        addresses, or an XAD-9 that differs) it becomes an address of its own; alone it is the
        only address.
        """
        reps = seg.reps(11)
        addresses = [a for a in (xad(r, self.scope, self.where(seg, 11)) for r in reps) if a]
        county = seg.v(12)
        if not county:
            return addresses
        if not addresses:
            return [{"district": county}]
        if len(reps) == 1 and not reps[0].c(9) and not reps[0].c(9, 2) and "extension" not in addresses[0]:
            addresses[0]["district"] = county
        elif not any(a.get("district") == county for a in addresses):
            addresses.append({"district": county})
        return addresses

    def extra_identifiers(self, seg: Seg) -> list[Json]:
        """PID-19 (social security, type SB) and PID-20 (driver's licence, type DL)."""
        out = [self.social_beneficiary(seg.v(19), self.where(seg, 19))] if seg.v(19) else []
        if seg.v(20):
            system = identifier_system(seg.v(20, 2), "", "", "DL", self.scope, self.where(seg, 20))
            ident = {"system": system, "value": seg.v(20),
                     "type": {"coding": [{"system": V2_TABLE + "0203", "code": "DL"}]},
                     "period": {"end": date_only(seg.v(20, 3), self.scope, self.where(seg, 20))}}  # fmt: skip
            out.append(prune(ident))
        return out

    def social_beneficiary(self, value: str, where: str) -> Json:
        """A social security number (PID-19, GT1-12): type SB outside the US (IG PID sheet), configured system."""
        system = identifier_system("", "", "", "SB", self.scope, where)
        return {"system": system, "value": value, "type": {"coding": [{"system": V2_TABLE + "0203", "code": "SB"}]}}

    def following(self, seg: Seg, ids: tuple[str, ...]) -> list[Seg]:
        """The segments with one of ``ids`` after ``seg`` and before the next PID (this patient's)."""
        out = []
        for other in self.segments[seg.index :]:
            if other.id == "PID":
                break
            if other.id in ids:
                out.append(other)
        return out

    def own_identifiers(self, seg: Seg) -> list[Json]:
        """The patient's own identifiers carried outside PID (the IG leaves IN2 and DB1 unmapped).

        IN2-61 is the patient member number (assigned by the payer to the patient); DB1-3 identifies
        the disabled person, who is the patient when DB1-2 says so (table 0334). Identifiers of other
        people (IN2-6/8/10 belong to the insured, who need not be the patient) are not taken.
        """
        found = []
        for other in self.following(seg, ("IN2", "DB1")):
            field = 61 if other.id == "IN2" else 3
            if other.id == "DB1" and other.v(2) != DISABLED_IS_PATIENT:
                continue
            found += [cx(r, self.scope, self.where(other, field)) for r in other.reps(field)]
        return [i for i in found if i]

    def add_guarantor_self(self, patient: Json, seg: Seg) -> None:
        """A GT1 whose GT1-11 relationship is SEL (table 0063) describes the patient: its numbers
        (GT1-2, -12, -19), name (-3), address (-5) and phones (-6 home, -7 work) are the patient's,
        its employer (-16/-17/-18, hire dates -31/-32) and contact person (-45/-46) the patient's
        contacts. The IG maps no GT1 field to Patient; a GT1 for someone else is left alone."""
        for gt1 in self.following(seg, ("GT1",)):
            if gt1.v(11) != GUARANTOR_IS_SELF:
                continue
            s, w = self.scope, self.where
            idents = [cx(r, s, w(gt1, f)) for f in (2, 19) for r in gt1.reps(f)]
            idents += [self.social_beneficiary(gt1.v(12), w(gt1, 12))] if gt1.v(12) else []
            merge(patient, "identifier", idents)
            merge(patient, "name", [xpn(r, s, w(gt1, 3)) for r in gt1.reps(3)])
            merge(patient, "address", [xad(r, s, w(gt1, 5)) for r in gt1.reps(5)])
            merge(patient, "telecom", [xtn(r, use, s, w(gt1, f)) for f, use in ((6, "home"), (7, "work"))
                                       for r in gt1.reps(f)])  # fmt: skip
            merge(patient, "contact", [self.guarantor_employer(gt1), self.guarantor_contact_person(gt1)])

    def guarantor_employer(self, gt1: Seg) -> Json:
        s, w = self.scope, self.where
        name, address = gt1.rep(16), gt1.rep(17)
        role = {"system": V2_TABLE + "0131", "code": EMPLOYER, "display": table_display(s, "0131", EMPLOYER)}
        return prune({
            "name": xpn(name, s, w(gt1, 16)) if name else None,
            "address": xad(address, s, w(gt1, 17)) if address else None,
            "telecom": [xtn(r, "", s, w(gt1, 18)) for r in gt1.reps(18)],
            "relationship": [{"coding": [role]}] if name else [],
            "period": {"start": date_only(gt1.v(31), s, w(gt1, 31)), "end": date_only(gt1.v(32), s, w(gt1, 32))},
        })  # fmt: skip

    def guarantor_contact_person(self, gt1: Seg) -> Json:
        s, w, name = self.scope, self.where, gt1.rep(45)
        return prune({"name": xpn(name, s, w(gt1, 45)) if name else None,
                      "telecom": [xtn(r, "", s, w(gt1, 46)) for r in gt1.reps(46)]})  # fmt: skip

    def language(self, rep: Rep | None, where: str) -> Json | None:
        """PID-15 (table 0296, ISO 639-2) → BCP-47 codings through ``v2-0296-to-bcp47-language``."""
        return self.translated(rep, "v2-0296-to-bcp47-language", "0296", where)

    def translated(self, rep: Rep | None, map_id: str, table: str, where: str) -> Json | None:
        """A CWE whose codings in v2 table ``table`` (CWE-3 empty or HL7nnnn) go through ``map_id``.

        A mapped coding is replaced by its target (IG vocabulary maps: religion, marital status,
        language); an unmapped one stays a coding of the v2 table and is reported (GW-2201, information).
        """
        concept = cwe(rep, self.scope, where, V2_TABLE + table)
        if concept is None or self.ctx.mappings is None:
            return concept
        codings = []
        for coding in concept.get("coding", []):
            found = None
            if coding.get("system") == V2_TABLE + table:
                found = self.ctx.translate(map_id, V2_TABLE + table, coding["code"], expression=where,
                                           severity="information")  # fmt: skip
            if found is not None and found.target:
                coding = prune({"system": found.target_system, "version": coding.get("version"),
                                "code": found.target, "display": found.display})  # fmt: skip
            codings.append(coding)
        return {**concept, "coding": codings}

    def add_type_display(self, ident: Json) -> None:
        """Identifier.type coding of table 0203 without a display gets the table's display (``v2-0203-display``)."""
        for coding in ident.get("type", {}).get("coding", []):
            if coding.get("system") == V2_TABLE + "0203" and not coding.get("display"):
                display = table_display(self.scope, "0203", coding.get("code", ""))
                if display:
                    coding["display"] = display

    def patient_extensions(self, seg: Seg) -> list[Json]:
        where = self.where(seg)
        out: list[Json] = []
        mother = self.maiden_name(seg.rep(6))
        if mother:
            out.append({"url": EXT + "patient-mothersMaidenName", "valueString": mother})
        religion = self.translated(seg.rep(17), "v2-0006-to-religious-affiliation", "0006", self.where(seg, 17))
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

    @staticmethod
    def maiden_name(rep: Rep | None) -> str:
        """XPN[string] (IG): the name's parts joined in XPN-11 assembly order (table 0444).

        ``F`` (prefix family middle given suffix) puts the family name first; otherwise (``G`` or
        empty) the given names come first. Parts are joined with single spaces.
        """
        if rep is None:
            return ""
        family, given, middle = rep.c(1, 1), rep.c(2), rep.c(3)
        first = [family, middle, given] if rep.c(11) == "F" else [given, middle, family]
        return " ".join(p for p in (rep.c(5), *first, rep.c(4)) if p)

    def visit_importance(self, seg: Seg) -> list[Json]:
        """PV1-16 VIP indicator of this patient's visit → extension patient-importance (IG PV1[Patient])."""
        visit = next(iter(self.following(seg, ("PV1",))), None)
        vip = cwe(visit.rep(16), self.scope, self.where(visit, 16)) if visit else None
        return [{"url": EXT + "patient-importance", "valueCodeableConcept": vip}] if vip else []

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
        """PD1-4 primary care provider → generalPractitioner; PD1-14 place of worship → patient-congregation."""
        if not self.patient:
            return self.no_patient(seg)
        patient = self.entries[self.patient]
        gps = [self.practitioner(r, self.where(seg, 4)) for r in seg.reps(4)]
        patient["generalPractitioner"] = [g for g in gps if g] or None
        for rep in seg.reps(14):  # XON[string]: XON-1, else XON-10
            name = rep.c(1) or rep.c(10)
            if name:
                patient.setdefault("extension", []).append({"url": EXT + "patient-congregation", "valueString": name})
        self.entries[self.patient] = prune(patient)

    def seg_nk1(self, seg: Seg) -> None:
        if not self.patient:
            return self.no_patient(seg)
        where = self.where(seg)
        names = [xpn(r, self.scope, where) for r in seg.reps(2)]
        addresses = [xad(r, self.scope, self.where(seg, 4)) for r in seg.reps(4)]
        sex, _ = mapped_code(self.scope, "administrative-gender", "0001", seg.v(15), self.where(seg, 15))
        self.add(self.related_person(seg, names, addresses, sex))
        self.add_contact(seg, names, addresses, sex)

    def related_person(self, seg: Seg, names: list[Json | None], addresses: list[Json | None], sex: str | None) -> Json:
        """NK1 → RelatedPerson (IG NK1[RelatedPerson]): NK1-3 through the IG Relationship map, NK1-7 role,
        NK1-12/-33/-37 identifiers, NK1-30..32 contact person's name, phone and address, NK1-20 language."""
        assert self.patient is not None
        s, w = self.scope, self.where
        key = f"{self.patient}|{seg.v(1)}|{seg.v(2)}|{seg.v(2, 2)}"
        idents = [cx(r, s, w(seg, f)) for f in (12, 33) for r in seg.reps(f)]
        idents += [self.social_beneficiary(seg.v(37), w(seg, 37))] if seg.v(37) else []
        for ident in (i for i in idents if i):
            self.add_type_display(ident)
        language = self.language(seg.rep(20), w(seg, 20))
        return {
            "resourceType": "RelatedPerson",
            "id": resource_id("RelatedPerson", self.patient, key),
            "patient": self.subject(),
            "identifier": idents,
            "name": names + [xpn(r, s, w(seg, 30)) for r in seg.reps(30)],
            "relationship": [self.translated(r, "v2-0063-to-relationship", "0063", w(seg, 3)) for r in seg.reps(3)]
            + [self.role(r, w(seg, 7)) for r in seg.reps(7)],
            "address": addresses + [xad(r, s, w(seg, 32)) for r in seg.reps(32)],
            "telecom": [xtn(r, "home", s, w(seg, 5)) for r in seg.reps(5)]
            + [xtn(r, "work", s, w(seg, 6)) for r in seg.reps(6)]
            + [xtn(r, "", s, w(seg, f)) for f in (31, 40, 41) for r in seg.reps(f)],
            "gender": sex,
            "birthDate": date_only(seg.v(16), s, w(seg, 16)),
            "period": {"start": date_only(seg.v(8), s, w(seg, 8)), "end": date_only(seg.v(9), s, w(seg, 9))},
            "communication": [{"language": language}] if language else [],
        }

    def add_contact(self, seg: Seg, names: list[Json | None], addresses: list[Json | None], sex: str | None) -> None:
        """NK1 → Patient.contact (IG NK1[Patient]): NK1-5, -6 (work), -40 and -41 telecoms; NK1-7 role."""
        assert self.patient is not None
        where = self.where(seg)
        telecom = [xtn(r, "home", self.scope, where) for r in seg.reps(5)]
        telecom += [xtn(r, "work", self.scope, where) for r in seg.reps(6)]
        telecom += [xtn(r, "", self.scope, self.where(seg, f)) for f in (40, 41) for r in seg.reps(f)]
        contact = prune({
            "name": next((n for n in names if n), None),
            "relationship": [self.role(r, where) for r in seg.reps(7)],
            "address": next((a for a in addresses if a), None),
            "telecom": telecom,
            "gender": sex,
            "period": {"start": date_only(seg.v(8), self.scope, where), "end": date_only(seg.v(9), self.scope, where)},
        })  # fmt: skip
        if contact:
            self.entries[self.patient].setdefault("contact", []).append(contact)

    def role(self, rep: Rep, where: str) -> Json | None:
        """NK1-7 contact role (table 0131); the table's display when the sender gives none."""
        concept = cwe(rep, self.scope, where, V2_TABLE + "0131")
        for coding in (concept or {}).get("coding", []):
            if coding.get("system") == V2_TABLE + "0131" and not coding.get("display"):
                display = table_display(self.scope, "0131", coding.get("code", ""))
                if display:
                    coding["display"] = display
        return concept

    def seg_mrg(self, seg: Seg) -> None:
        """A40 merge: the retired record is a Patient that points to the surviving one (replaced-by)."""
        found = [cx(r, self.scope, self.where(seg, 1)) for r in seg.reps(1)]
        olds = [o for o in found if o]
        if not olds:
            return
        if not self.patient:
            return self.no_patient(seg)
        old = {"resourceType": "Patient", "id": resource_id("Patient", olds[0]["system"], olds[0]["value"]),
               "identifier": olds, "active": False,
               "link": [{"other": {"reference": self.patient}, "type": "replaced-by"}]}  # fmt: skip
        ref = self.add(old)
        survivor = self.entries[self.patient]
        survivor.setdefault("link", []).append({"other": {"reference": ref}, "type": "replaces"})
