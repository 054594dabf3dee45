"""PV1/PV2 → Encounter; AL1, DG1, PDA, PR1 → AllergyIntolerance, Condition, Procedure (v2-to-FHIR IG)."""

from __future__ import annotations

from adapters.base import MapContext
from adapters.hl7v2.builder import (
    CONDITION_VERIFICATION,
    EXT,
    PARTICIPANTS,
    PARTICIPATION,
    TEMPORARY_LOCATION,
    UCUM,
    BuilderBase,
    code_key,
    positive_int,
)
from adapters.hl7v2.codec import V2Message
from adapters.hl7v2.datatypes import (
    FHIR,
    V2_TABLE,
    Json,
    Rep,
    Seg,
    cwe,
    cx,
    dtm,
    ei,
    identifier_system,
    lookup,
    mapped_code,
    peek,
    prune,
    resource_id,
    table_code,
    table_display,
)

R5_ENCOUNTER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter."
SNOMED = "http://snomed.info/sct"
# PR1 field, the IG's performer.function SNOMED CT code (none for PR1-12), the field's name as function text
PROCEDURE_PERFORMERS = ((8, "88189002", "Anesthesiologist"), (11, "304292004", "Surgeon"),
                        (12, "", "Procedure Practitioner"))  # fmt: skip


class EncounterMixin(BuilderBase):
    def __init__(self, message: V2Message, ctx: MapContext) -> None:
        super().__init__(message, ctx)
        # DG1 diagnoses seen before the PV1 (REF_I12 puts DG1 ahead of PV1): attached when the visit comes
        self.pending_diagnoses: list[Json] = []

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
        for identifier in (ident, *alternate):
            self.identifier_type_display(identifier)
        encounter: Json = {
            "resourceType": "Encounter",
            "id": eid,
            "identifier": [ident, *alternate],
            "status": self.encounter_status(seg),
            "class": {"system": cls_system, "code": cls_code, "display": cls.display if cls else None} if cls_code else
            {"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK"},
            "type": [table_code(seg.rep(4), "0007", self.scope)],
            "serviceType": cwe(seg.rep(10), self.scope, where, V2_TABLE + "0069"),
            "subject": self.subject(),
            "period": {"start": dtm(seg.v(44), self.scope, self.where(seg, 44)),
                       "end": dtm(seg.v(45), self.scope, self.where(seg, 45))},
            "participant": self.participants(seg),
            "location": self.locations(seg),
            "hospitalization": self.hospitalization(seg),
        }  # fmt: skip
        self.encounter = self.add(encounter)
        self.attach_pending_diagnoses()

    def identifier_type_display(self, identifier: Json | None) -> None:
        """A table 0203 identifier-type coding without display gets the table's (map ``v2-0203-display``)."""
        for coding in (identifier or {}).get("type", {}).get("coding", []):
            if coding.get("system") == V2_TABLE + "0203" and not coding.get("display"):
                display = table_display(self.scope, "0203", coding.get("code", ""))
                if display:
                    coding["display"] = display

    def encounter_status(self, seg: Seg) -> str:
        by_event = peek(self.scope, "v2-0003-to-encounter-status", "0003", self.event)
        if by_event:
            return by_event
        if seg.v(45):  # IG: a discharge date/time makes the visit finished, whatever the patient class
            return "finished"
        return "planned" if seg.v(2) == "P" else "in-progress"

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

    def discharge_disposition(self, rep: Rep | None, where: str) -> Json | None:
        """PV1-36: a table 0112 code goes through ``v2-0112-to-discharge-disposition`` (a miss is a warning:
        the visit is still worth storing); a code whose CWE-3 names another system is the sender's own coding."""
        if rep is None or not rep.c(1):
            return None
        if rep.c(3) and rep.c(3).upper() not in ("HL70112", "HL7112"):
            return cwe(rep, self.scope, where)
        code, system = mapped_code(self.scope, "v2-0112-to-discharge-disposition", "0112", rep.c(1), where,
                                   severity="warning")  # fmt: skip
        return {"coding": [{"system": system, "code": code}]} if code else None

    def hospitalization(self, seg: Seg) -> Json:
        where = self.where(seg, 36)
        disposition = self.discharge_disposition(seg.rep(36), where)
        pre = seg.rep(5)
        pre_admission = cx(pre, self.scope, self.where(seg, 5)) if pre else None
        self.identifier_type_display(pre_admission)
        return {
            "preAdmissionIdentifier": pre_admission,
            "reAdmission": table_code(seg.rep(13), "0092", self.scope),
            "admitSource": table_code(seg.rep(14), "0023", self.scope),
            "specialArrangement": [table_code(r, "0009", self.scope) for r in seg.reps(15)],
            "specialCourtesy": [table_code(r, "0099", self.scope) for r in seg.reps(16)],
            "dietPreference": [table_code(r, "0114", self.scope) for r in seg.reps(38)],
            "dischargeDisposition": disposition,
        }

    def seg_pv2(self, seg: Seg) -> None:
        if not self.encounter:
            return
        encounter = self.entries[self.encounter]
        prior_pending = seg.rep(1)
        loc = self.location(prior_pending, self.where(seg, 1)) if prior_pending else None
        if loc is not None:  # IG PV2 map: PV2-1 prior pending location, status "planned"
            entry = {"location": {"reference": self.add(loc)}, "status": "planned"}
            encounter.setdefault("location", []).append(entry)
        reason = cwe(seg.rep(3), self.scope, self.where(seg, 3))
        if reason:
            encounter.setdefault("reasonCode", []).append(reason)
        for rep in seg.reps(13):  # referral source → another referrer participant (IG PV2 map)
            ref = self.practitioner(rep, self.where(seg, 13))
            if ref:
                kind = {"coding": [{"system": PARTICIPATION, "code": "REF"}], "text": "referrer"}
                encounter.setdefault("participant", []).append({"type": [kind], "individual": ref})
        for f, element in ((8, "plannedStartDate"), (9, "plannedEndDate")):  # IG: R5 cross-version extensions
            planned = dtm(seg.v(f), self.scope, self.where(seg, f))
            if planned:
                encounter.setdefault("extension", []).append({"url": R5_ENCOUNTER + element, "valueDateTime": planned})
        days = positive_int(seg.v(11))
        if days:
            encounter["length"] = {"value": days, "unit": "d", "system": UCUM, "code": "d"}
        priority = self.mapped_concept(seg.rep(25), "v2-0217-to-act-priority", "0217", self.where(seg, 25))
        if priority:
            encounter["priority"] = priority
        if seg.v(38):
            display = seg.v(38, 2) or table_display(self.scope, "0430", seg.v(38))
            coding = prune({"system": V2_TABLE + "0430", "code": seg.v(38), "display": display})
            encounter.setdefault("extension", []).append({"url": EXT + "encounter-modeOfArrival",
                                                          "valueCoding": coding})  # fmt: skip

    # ------------------------------------------------------------ clinical

    def seg_al1(self, seg: Seg) -> None:
        where = self.where(seg)
        code = cwe(seg.rep(3), self.scope, self.where(seg, 3))
        if not code:
            return
        if not self.patient:
            return self.no_patient(seg)
        category = lookup(self.scope, "v2-0127-to-allergy-category", "0127", seg.v(2), self.where(seg, 2),
                          target_system=FHIR + "allergy-intolerance-category")  # fmt: skip
        kind = peek(self.scope, "v2-0127-to-allergy-category", "0127", seg.v(2), FHIR + "allergy-intolerance-type")
        reactions = [cwe(r, self.scope, where) if r.c(3) else {"text": r.c(1)} for r in seg.reps(5)]
        allergy = {
            "resourceType": "AllergyIntolerance",
            "id": resource_id("AllergyIntolerance", self.patient, f"{code_key(code)}"),
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
        if code is None:
            return
        if not self.patient:
            return self.no_patient(seg)
        ident = ei(seg.rep(20), self.scope, self.where(seg, 20))
        asserted = dtm(seg.v(19), self.scope, self.where(seg, 19))
        cid = resource_id("Condition", ident["system"], ident["value"]) if ident else resource_id(
            "Condition", self.patient, f"{self.encounter}|{code_key(code)}")  # fmt: skip
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
        rank = seg.v(15)
        use = self.mapped_concept(seg.rep(6), "v2-0052-to-diagnosis-role", "0052", self.where(seg, 6))
        diagnosis = prune({"condition": {"reference": ref}, "use": use,
                           "rank": int(rank) if rank.isdigit() and int(rank) > 0 else None})  # fmt: skip
        if self.encounter:
            self.entries[self.encounter].setdefault("diagnosis", []).append(diagnosis)
        else:
            self.pending_diagnoses.append(diagnosis)

    def attach_pending_diagnoses(self) -> None:
        """Diagnoses of DG1 segments that came before the PV1 go to this visit, and their Conditions point at it."""
        if not self.encounter:
            return
        for diagnosis in self.pending_diagnoses:
            self.entries[self.encounter].setdefault("diagnosis", []).append(diagnosis)
            self.entries[diagnosis["condition"]["reference"]].setdefault("encounter", {"reference": self.encounter})
        self.pending_diagnoses.clear()

    def seg_pda(self, seg: Seg) -> None:
        """PDA-1 death cause codes → Conditions of the patient (the IG's PDA map)."""
        if not self.patient:
            return self.no_patient(seg)
        for rep in seg.reps(1):
            code = cwe(rep, self.scope, self.where(seg, 1))
            if code:
                cid = resource_id("Condition", self.patient, f"PDA|{code_key(code)}")
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
        """PR1 → Procedure (IG PR1 map); the status is "unknown" as the IG says when the context does not tell."""
        code = cwe(seg.rep(3), self.scope, self.where(seg, 3))
        if code is None:
            return
        if not self.patient:
            return self.no_patient(seg)
        if seg.v(4) and not seg.v(3, 9):  # IG: PR1-4 is code.text when PR1-3.9 is empty
            code = {**code, "text": seg.v(4)}
        ident = ei(seg.rep(19), self.scope, self.where(seg, 19))
        pid = resource_id("Procedure", ident["system"], ident["value"]) if ident else resource_id(
            "Procedure", self.patient, f"{code_key(code)}|{seg.v(5)}")  # fmt: skip
        treating = seg.rep(23)
        location = self.location(treating, self.where(seg, 23)) if treating else None
        proc = {
            "resourceType": "Procedure",
            "id": pid,
            "identifier": [ident],
            "status": "unknown",
            "subject": self.subject(),
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "code": code,
            "category": cwe(seg.rep(6), self.scope, self.where(seg, 6)),
            "performedDateTime": dtm(seg.v(5), self.scope, self.where(seg, 5)),
            "performer": self.procedure_performers(seg),
            "reasonCode": [cwe(seg.rep(15), self.scope, self.where(seg, 15))],
            "location": {"reference": self.add(location)} if location is not None else None,
            "partOf": [self.parent_procedure(seg)],
        }
        self.add(proc)

    def procedure_performers(self, seg: Seg) -> list[Json]:
        """PR1-8 anesthesiologist, PR1-11 surgeon (IG: SNOMED CT function codes), PR1-12 procedure practitioner."""
        out = []
        for f, function_code, label in PROCEDURE_PERFORMERS:
            for rep in seg.reps(f):
                actor = self.practitioner(rep, self.where(seg, f))
                if actor is None:
                    continue
                coding = [{"system": SNOMED, "code": function_code, "display": label}] if function_code else []
                out.append({"actor": actor, "function": prune({"coding": coding, "text": label})})
        return out

    def parent_procedure(self, seg: Seg) -> Json | None:
        """PR1-25 parent procedure (EI) → partOf the Procedure with that identifier."""
        parent = ei(seg.rep(25), self.scope, self.where(seg, 25))
        if parent is None:
            return None
        stub = {"resourceType": "Procedure", "id": resource_id("Procedure", parent["system"], parent["value"]),
                "identifier": [parent], "status": "unknown", "subject": self.subject()}  # fmt: skip
        return {"reference": self.add(stub)}
