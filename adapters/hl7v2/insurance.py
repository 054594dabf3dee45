"""IN1 / IN2 → Coverage (v2-to-FHIR IG IN1[Coverage]); PID-18 → Account (IG PID[Account]); GT1 → guarantors.

IG IN1[Coverage] fields: IN1-2 → ``identifier`` (CWE[Identifier]), IN1-4/-5 → ``payor`` Organization
(name, address), IN1-10 → ``policyHolder`` Organization identifier (an IN1-10 of type SN is a subscriber
id: extension ``subscriberId``), IN1-11 → ``policyHolder`` Organization, IN1-12/-13 → ``period``, IN1-15 →
``type``, IN1-16 → ``subscriber`` (the Patient when IN1-17 is ``SEL``, else a RelatedPerson), IN1-17 →
``relationship``, IN1-49 → extension ``subscriberId``. The message sheets make ``beneficiary`` the Patient.

Fields the IG leaves open, taken where FHIR has a clear place: IN1-3 (payer identifier), IN1-6/-7 (payer
contact and phone), IN1-2 / IN1-8..9 / IN1-35 as ``class`` plan / group / class (IN1-35 as in the FHIR
STU3 Coverage mappings), IN1-36 policy number and IN2-61 patient member number as ``identifier``, IN1-37
policy deductible as ``costToBeneficiary`` (type ``deductible``, coverage-copay-type), the
insured's data (IN1-18 birth date, -19 address, -43 sex, IN2-1/-2 identifiers, IN2-34 language, IN2-63
phone) on the subscriber RelatedPerson, IN1-44 and IN2-49/-50/-64 on the policy-holder (employer).

``relationship`` goes through ``v2-0063-to-subscriber-relationship`` (the R4 binding is extensible to
subscriber-relationship, and its direction is the inverse of IN1-17's); the subscriber RelatedPerson's
relationship goes through the IG Relationship map ``v2-0063-to-relationship``. US-realm IN2 numbers
(IN2-6 Medicare, IN2-8 Medicaid) are not mapped.

Indonesian convention (BPJS Kesehatan / JKN): the member's card number (noKartu, 13 digits) is IN2-61
Patient Member Number (a CX whose authority is configured in ``settings["identifier_systems"]`` to the
BPJS card system ``urn:jembatan:identifier:bpjs-no-kartu``), or IN1-49 when the insured is the patient. It
becomes ``identifier`` (and the Patient's, see :mod:`adapters.hl7v2.patient`) and ``subscriberId`` when
the patient is the subscriber, as the BPJS adapters expect; a card number that is not 13 digits is
reported (GW-1342). The entitled class (hak kelas 1/2/3) is IN1-35 Company Plan Code with a CWE-3 name
configured in ``settings["coding_systems"]`` to ``urn:jembatan:codesystem:bpjs-hak-kelas``: the code is
checked through the map ``bpjs-hak-kelas`` and becomes ``class`` of type ``class``.

Guarantors (the IG maps no GT1 field): a GT1 whose GT1-11 is not ``SEL`` becomes a RelatedPerson (GT1-2/-19
ids, -12 social security number, -3 name, -5 address, -6/-7 phones, -8 birth date, -9 sex, -11 relationship
through the IG Relationship map, -36 language); the patient's own GT1 (SEL) is merged into the Patient by
:mod:`adapters.hl7v2.patient` and not mapped again. The Account of PID-18 lists the patient's GT1s as
``guarantor`` (the Patient for SEL) with GT1-13/-14 as the period.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from adapters.bpjs.fhirutil import CS, SYS
from adapters.hl7v2.builder import BuilderBase, num
from adapters.hl7v2.datatypes import (
    V2_TABLE,
    Json,
    Rep,
    Seg,
    code_system,
    cwe,
    cx,
    date_only,
    identifier_system,
    mapped_code,
    prune,
    resource_id,
    table_display,
    xad,
    xpn,
    xtn,
)

COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
COPAY_TYPE = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
# IG IN1-10 / IN1-49: the FHIR R5 Coverage.subscriberId (an Identifier) as a cross-version extension
SUBSCRIBER_ID_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Coverage.subscriberId"
SELF = "SEL"  # table 0063: the insured is the patient
SUBSCRIBER_NUMBER = "SN"  # table 0203: IN1-10 of this type is a subscriber id (IG)
MEMBER_NUMBER = "MB"  # table 0203: IN2-61 patient member number
BPJS_CARD = re.compile(r"^\d{13}$")
# fixed assignments of Coverage.class.type (coverage-class codes plan, group, class; their displays)
PLAN, GROUP, CLASS = ("plan", "Plan"), ("group", "Group"), ("class", "Class")


class InsuranceMixin(BuilderBase):
    """IN1 (with its IN2) → Coverage; GT1 for someone other than the patient → RelatedPerson."""

    def seg_in1(self, seg: Seg) -> None:
        if not self.patient:
            self.ctx.unused.append(self.where(seg))
            return self.no_patient(seg)
        in2 = self.insurance_in2(seg)
        payer = self.payer(seg)
        if payer is None:
            self.scope.warn("IN1 names no insurance company (IN1-3, IN1-4); no Coverage", self.where(seg, 4))
            return
        identifiers = self.coverage_identifiers(seg, in2)
        subscriber_ids = self.subscriber_ids(seg)
        coverage: Json = {
            "resourceType": "Coverage",
            "id": resource_id("Coverage", self.patient, f"{seg.v(1)}|{seg.v(2)}|{seg.v(3)}|{seg.v(36)}"),
            "extension": [{"url": SUBSCRIBER_ID_EXT, "valueIdentifier": i} for i in subscriber_ids],
            "identifier": identifiers,
            "status": "active",  # required; IN1 carries no status of the policy (IN1-45 is a verification status)
            "type": cwe(seg.rep(15), self.scope, self.where(seg, 15), V2_TABLE + "0086"),
            "policyHolder": self.policy_holder(seg, in2),
            "subscriber": self.subscriber(seg, in2),
            "subscriberId": self.subscriber_id(seg, subscriber_ids, identifiers),
            "beneficiary": self.subject(),
            "relationship": self.subscriber_relationship(seg.rep(17), self.where(seg, 17)),
            "period": {
                "start": date_only(seg.v(12), self.scope, self.where(seg, 12)),
                "end": date_only(seg.v(13), self.scope, self.where(seg, 13)),
            },  # fmt: skip
            "payor": [payer],
            "class": self.coverage_classes(seg),
            "costToBeneficiary": self.deductible(seg),
        }
        self.add(coverage)

    def seg_in2(self, seg: Seg) -> None:
        """IN2 is read with the IN1 it follows (:meth:`seg_in1`)."""

    def add_account(self, pid: Seg) -> None:
        """PID-18 patient account number → Account (IG PID[Account]: identifier, status active, subject the
        Patient); the GT1 guarantors of this patient (until the next PID) are its ``guarantor``: the Patient
        for GT1-11 SEL, else the guarantor's RelatedPerson, with GT1-13/-14 as the period."""
        account = pid.rep(18)
        ident = self.typed(cx(account, self.scope, self.where(pid, 18))) if account is not None else None
        if ident is None or not self.patient:
            return
        guarantors = []
        for gt1 in self.segments[pid.index :]:
            if gt1.id == "PID":
                break
            if gt1.id == "GT1":
                guarantors.append(self.account_guarantor(gt1))
        self.add({"resourceType": "Account", "id": resource_id("Account", ident["system"], ident["value"]),
                  "identifier": [ident], "status": "active", "subject": [self.subject()],
                  "guarantor": [g for g in guarantors if g]})  # fmt: skip

    def account_guarantor(self, gt1: Seg) -> Json | None:
        if gt1.v(11) == SELF:
            party = self.subject()
        else:
            person = self.guarantor(gt1)
            party = {"reference": self.add(person)} if person else None
        if party is None:
            return None
        period = {"start": date_only(gt1.v(13), self.scope, self.where(gt1, 13)),
                  "end": date_only(gt1.v(14), self.scope, self.where(gt1, 14))}  # fmt: skip
        return {"party": party, "period": period}

    def seg_gt1(self, seg: Seg) -> None:
        """A guarantor who is not the patient (GT1-11 not SEL) → RelatedPerson; the patient's own GT1 is
        merged into the Patient by :mod:`adapters.hl7v2.patient` and is not mapped again here."""
        if not self.patient:
            return self.no_patient(seg)
        if seg.v(11) == SELF:
            return
        person = self.guarantor(seg)
        if person is not None:
            self.add(person)

    def guarantor(self, seg: Seg) -> Json | None:
        """GT1-2/-19 ids, -12 social security number, -3 name, -5 address, -6/-7 home/work phones,
        -8 birth date, -9 sex, -11 relationship (IG Relationship map), -36 language."""
        s, w = self.scope, self.where
        idents = [self.typed(cx(r, s, w(seg, f))) for f in (2, 19) for r in seg.reps(f)]
        idents += [self.social_security(seg.v(12), w(seg, 12))] if seg.v(12) else []
        names = [xpn(r, s, w(seg, 3)) for r in seg.reps(3)]

        def details() -> Json:
            return {
                "relationship": [self.insured_relationship(seg.rep(11), w(seg, 11))],
                "address": [xad(r, s, w(seg, 5)) for r in seg.reps(5)],
                "telecom": [xtn(r, use, s, w(seg, f)) for f, use in ((6, "home"), (7, "work")) for r in seg.reps(f)],
                "birthDate": date_only(seg.v(8), s, w(seg, 8)),
                "gender": mapped_code(s, "administrative-gender", "0001", seg.v(9), w(seg, 9))[0],
                **self.preferred_language(self.table_concept(seg.rep(36), "v2-0296-to-bcp47-language", "0296",
                                                             w(seg, 36))),
            }  # fmt: skip

        fallback = f"{seg.v(3)}|{seg.v(3, 2)}|{seg.v(8)}"
        return self.person_of_patient("guarantor", idents, names, fallback, details)

    def person_of_patient(self, role: str, idents: list[Json | None], names: list[Json | None], fallback: str,
                       details: Callable[[], Json]) -> Json | None:  # fmt: skip
        """A RelatedPerson of the patient (guarantor, insured) if it has an identifier or a name; its id comes
        from ``role`` and its first identifier (else ``fallback``: name and birth date). ``details`` is only
        evaluated for a person that is made, so an empty segment reports nothing."""
        found = [i for i in idents if i]
        if not self.patient or (not found and not any(names)):
            return None
        key = f"{found[0]['system']}|{found[0]['value']}" if found else fallback
        return {"resourceType": "RelatedPerson", "id": resource_id("RelatedPerson", self.patient, f"{role}|{key}"),
                "patient": self.subject(), "identifier": found, "name": names, **details()}  # fmt: skip

    @staticmethod
    def preferred_language(language: Json | None) -> Json:
        return {"communication": [{"language": language, "preferred": True}]} if language else {}

    def insurance_in2(self, in1: Seg) -> Seg | None:
        """The IN2 of this insurance group: the segment right after IN1 (INSURANCE = IN1 [IN2] [{IN3}])."""
        following = self.segments[in1.index] if in1.index < len(self.segments) else None
        return following if following is not None and following.id == "IN2" else None

    # ------------------------------------------------------------ identifiers

    def coverage_identifiers(self, seg: Seg, in2: Seg | None) -> list[Json]:
        """IN1-2 health plan id (IG CWE[Identifier]), IN1-36 policy number, IN2-61 patient member number."""
        out = []
        plan = seg.rep(2)
        if plan is not None and plan.c(1):
            system = identifier_system(plan.c(3) or "health-plan", "", "", "", self.scope, self.where(seg, 2))
            out.append({"system": system, "value": plan.c(1)})
        if seg.v(36):
            # the policy number is assigned by the insurer: its namespace is the insurance company id IN1-3.1
            authority = seg.v(3) or seg.v(4) or "policy-number"
            policy = {"system": identifier_system(authority, "", "", "", self.scope, self.where(seg, 36)),
                      "value": seg.v(36)}  # fmt: skip
            self.check_card(policy, self.where(seg, 36))
            out.append(policy)
        if in2 is not None:
            for rep in in2.reps(61):
                member = self.typed(cx(rep, self.scope, self.where(in2, 61)))
                if member is not None:
                    self.check_card(member, self.where(in2, 61))
                    out.append(member)
        return out

    def subscriber_ids(self, seg: Seg) -> list[Json]:
        """IN1-49 insured's id numbers and IN1-10 ids of type SN (IG: extension subscriberId)."""
        found = [cx(r, self.scope, self.where(seg, 49)) for r in seg.reps(49)]
        found += [cx(r, self.scope, self.where(seg, 10)) for r in seg.reps(10) if r.c(5) == SUBSCRIBER_NUMBER]
        out = [i for i in (self.typed(f) for f in found) if i]
        for ident in out:
            self.check_card(ident, self.where(seg, 49))
        return out

    def subscriber_id(self, seg: Seg, subscriber_ids: list[Json], identifiers: list[Json]) -> str | None:
        """R4 ``subscriberId`` (a string): the first insured's id; for a patient who is the insured, else
        their member number (IN2-61, e.g. a BPJS card number)."""
        if subscriber_ids:
            return str(subscriber_ids[0]["value"])
        if seg.v(17) == SELF or not seg.reps(16):
            member = next((i for i in identifiers if self.is_member_number(i)), None)
            return str(member["value"]) if member else None
        return None

    def is_member_number(self, ident: Json) -> bool:
        codes = [c.get("code") for c in ident.get("type", {}).get("coding", [])]
        return MEMBER_NUMBER in codes or ident.get("system") == SYS["no_kartu"]

    def check_card(self, ident: Json, where: str) -> None:
        """A number in the BPJS card system must be the 13-digit noKartu (reference bpjs.md, peserta.noKartu)."""
        if ident.get("system") == SYS["no_kartu"] and not BPJS_CARD.match(str(ident.get("value", ""))):
            self.scope.warn(f"BPJS card number {ident.get('value')!r} is not 13 digits", where)

    def typed(self, ident: Json | None) -> Json | None:
        """An identifier whose table 0203 type has no display gets the table's display."""
        for coding in (ident or {}).get("type", {}).get("coding", []):
            if coding.get("system") == V2_TABLE + "0203" and not coding.get("display"):
                display = table_display(self.scope, "0203", coding.get("code", ""))
                if display:
                    coding["display"] = display
        return ident

    # ------------------------------------------------------------ organizations

    def payer(self, seg: Seg) -> Json | None:
        """IN1-3 ids, IN1-4 name (XON), IN1-5 address, IN1-6 contact person, IN1-7 phone → Organization."""
        s, w = self.scope, self.where
        idents = [self.typed(cx(r, s, w(seg, 3))) for r in seg.reps(3)]
        idents += [self.xon_identifier(r, w(seg, 4)) for r in seg.reps(4)]
        names = [r.c(1) for r in seg.reps(4) if r.c(1)]
        org = self.organization_of(idents, names)
        if org is None:
            return None
        org["address"] = [xad(r, s, w(seg, 5)) for r in seg.reps(5)]
        org["telecom"] = [xtn(r, "", s, w(seg, 7)) for r in seg.reps(7)]
        org["contact"] = [{"name": xpn(r, s, w(seg, 6))} for r in seg.reps(6)]
        return {"reference": self.add(org)}

    def policy_holder(self, seg: Seg, in2: Seg | None) -> Json | None:
        """IN1-11 insured's group employer (XON) with IN1-10 ids (not SN) and IN1-44 address; IN2-49/-50
        employer contact, IN2-64 employer phone."""
        s, w = self.scope, self.where
        idents = [self.typed(cx(r, s, w(seg, 10))) for r in seg.reps(10) if r.c(5) != SUBSCRIBER_NUMBER]
        idents += [self.xon_identifier(r, w(seg, 11)) for r in seg.reps(11)]
        org = self.organization_of(idents, [r.c(1) for r in seg.reps(11) if r.c(1)])
        if org is None:
            return None
        org["address"] = [xad(r, s, w(seg, 44)) for r in seg.reps(44)]
        if in2 is not None:
            org["telecom"] = [xtn(r, "", s, w(in2, 64)) for r in in2.reps(64)]
            names = [xpn(r, s, w(in2, 49)) for r in in2.reps(49)]
            phones = [xtn(r, "", s, w(in2, 50)) for r in in2.reps(50)]
            org["contact"] = [{"name": next((n for n in names if n), None), "telecom": phones}]
        return {"reference": self.add(org)}

    def organization_of(self, idents: list[Json | None], names: list[str]) -> Json | None:
        """An Organization keyed by its first identifier, else its name (None when it has neither)."""
        found = [i for i in idents if i]
        if not found and not names:
            return None
        key = (found[0]["system"], found[0]["value"]) if found else ("name", names[0])
        return {"resourceType": "Organization", "id": resource_id("Organization", *key), "identifier": found,
                "name": names[0] if names else None, "alias": names[1:]}  # fmt: skip

    def xon_identifier(self, rep: Rep, where: str) -> Json | None:
        """XON-10 organization identifier (XON-3 before v2.5), XON-6 authority, XON-7 identifier type."""
        value = rep.c(10) or rep.c(3)
        if not value:
            return None
        type_code = rep.c(7)
        system = identifier_system(rep.c(6, 1), rep.c(6, 2), rep.c(6, 3), type_code, self.scope, where)
        kind = {"coding": [{"system": V2_TABLE + "0203", "code": type_code}]} if type_code else None
        return self.typed(prune({"system": system, "value": value, "type": kind}))

    # ------------------------------------------------------------ subscriber

    def subscriber(self, seg: Seg, in2: Seg | None) -> Json | None:
        """IN1-16 (IG): the Patient when IN1-17 is SEL, else the insured as a RelatedPerson."""
        if seg.v(17) == SELF:
            return self.subject()
        person = self.insured(seg, in2)
        return {"reference": self.add(person)} if person else None

    def insured(self, seg: Seg, in2: Seg | None) -> Json | None:
        """The insured who is not the patient: IN1-16 name, -17 relationship, -18 birth date, -19 address,
        -43 sex, -49 ids; IN2-1 employee id, IN2-2 social security number, IN2-34 language, IN2-63 phone."""
        s, w = self.scope, self.where
        idents = [self.typed(cx(r, s, w(seg, 49))) for r in seg.reps(49)]
        if in2 is not None:
            idents += [self.typed(cx(r, s, w(in2, 1))) for r in in2.reps(1)]
            idents += [self.social_security(in2.v(2), w(in2, 2))] if in2.v(2) else []
        names = [xpn(r, s, w(seg, 16)) for r in seg.reps(16)]

        def details() -> Json:
            return {
                "relationship": [self.insured_relationship(seg.rep(17), w(seg, 17))],
                "birthDate": date_only(seg.v(18), s, w(seg, 18)),
                "address": [xad(r, s, w(seg, 19)) for r in seg.reps(19)],
                "gender": mapped_code(s, "administrative-gender", "0001", seg.v(43), w(seg, 43))[0],
                "telecom": [xtn(r, "home", s, w(in2, 63)) for r in in2.reps(63)] if in2 is not None else [],
                **self.preferred_language(self.insured_language(in2)),
            }

        fallback = f"{seg.v(16)}|{seg.v(16, 2)}|{seg.v(18)}"
        return self.person_of_patient("insured", idents, names, fallback, details)

    def social_security(self, value: str, where: str) -> Json:
        """IN2-2: type SB outside the US (as PID-19), in the configured system."""
        system = identifier_system("", "", "", "SB", self.scope, where)
        return {"system": system, "value": value,
                "type": {"coding": [{"system": V2_TABLE + "0203", "code": "SB",
                                     "display": table_display(self.scope, "0203", "SB")}]}}  # fmt: skip

    def insured_language(self, in2: Seg | None) -> Json | None:
        """IN2-34 insured's primary language (table 0296) through ``v2-0296-to-bcp47-language``."""
        rep = in2.rep(34) if in2 is not None else None
        if rep is None or in2 is None:
            return None
        return self.table_concept(rep, "v2-0296-to-bcp47-language", "0296", self.where(in2, 34))

    def insured_relationship(self, rep: Rep | None, where: str) -> Json | None:
        """IN1-17 as the insured's RelatedPerson.relationship, through the IG Relationship map."""
        return self.table_concept(rep, "v2-0063-to-relationship", "0063", where)

    def subscriber_relationship(self, rep: Rep | None, where: str) -> Json | None:
        """IN1-17 as Coverage.relationship (subscriber-relationship, the patient's relation to the insured)."""
        concept = self.table_concept(rep, "v2-0063-to-subscriber-relationship", "0063", where)
        if concept is None and rep is not None and not rep.c(1) and rep.c(2):
            return {"text": rep.c(2)}
        return concept

    def table_concept(self, rep: Rep | None, map_id: str, table: str, where: str) -> Json | None:
        """A CWE in an HL7 table (CWE-3 empty or HL7nnnn) translated through ``map_id``; an unmapped code
        stays a coding of the v2 table and is reported (GW-2201, information)."""
        if rep is None or not rep.c(1):
            return None
        system = code_system(rep.c(3), self.scope, where) if rep.c(3) else V2_TABLE + table
        coding = prune({"system": system, "code": rep.c(1), "display": rep.c(2)})
        if system == V2_TABLE + table and self.ctx.mappings is not None:
            found = self.ctx.translate(map_id, system, rep.c(1), expression=where, severity="information")
            if found is not None and found.target:
                coding = prune({"system": found.target_system, "code": found.target, "display": found.display})
        return {"coding": [coding]}

    # ------------------------------------------------------------ classes and costs

    def deductible(self, seg: Seg) -> list[Json]:
        """IN1-37 policy deductible (CP: .1 money as MO quantity & currency) → costToBeneficiary of type
        ``deductible`` (coverage-copay-type, the R4 extensible binding); CP-2 is a price type, not a category."""
        rep = seg.rep(37)
        amount = num(rep.c(1, 1)) if rep is not None else None
        if rep is None or amount is None:
            return []
        kind = {"coding": [{"system": COPAY_TYPE, "code": "deductible", "display": "Deductible"}]}
        return [{"type": kind, "valueMoney": prune({"value": amount, "currency": rep.c(1, 2)})}]

    def coverage_classes(self, seg: Seg) -> list[Json]:
        """IN1-2 plan, IN1-8 group number (IN1-9 group name), IN1-35 company plan code as class."""
        out = []
        plan = seg.rep(2)
        if plan is not None and plan.c(1):
            out.append(self.coverage_class(PLAN, plan.c(1), plan.c(2)))
        if seg.v(8):
            out.append(self.coverage_class(GROUP, seg.v(8), seg.v(9)))
        company_plan = seg.rep(35)
        if company_plan is not None and company_plan.c(1):
            name = self.hak_kelas(company_plan, self.where(seg, 35)) or company_plan.c(2)
            out.append(self.coverage_class(CLASS, company_plan.c(1), name))
        return out

    def coverage_class(self, kind: tuple[str, str], value: str, name: str | None) -> Json:
        concept = {"coding": [{"system": COVERAGE_CLASS, "code": kind[0], "display": kind[1]}]}
        return prune({"type": concept, "value": value, "name": name})

    def hak_kelas(self, rep: Rep, where: str) -> str | None:
        """A BPJS hak kelas (IN1-35 whose CWE-3 is the configured BPJS class system) checked through
        ``bpjs-hak-kelas``; its display (e.g. ``Kelas 1``) names the class. Other codes give None."""
        if not rep.c(3) or code_system(rep.c(3), self.scope, where) != CS["hak-kelas"]:
            return None
        if self.ctx.mappings is None:
            return None
        found = self.ctx.translate("bpjs-hak-kelas", CS["hak-kelas"], rep.c(1), expression=where, severity="warning")
        return found.display if found is not None and found.target else None
