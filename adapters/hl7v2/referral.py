"""REF^I12 referrals: RF1 → ServiceRequest, PRD → Practitioner / Organization (v2-to-FHIR IG).

The referral ServiceRequest has the shape the BPJS VClaim "Rujukan 2.0 insert" builder
(:func:`adapters.bpjs.insert_fhir.insert_from_fhir`) reads:

* ``category[0]`` — RF1-5 referral category through ``v2-0284-to-encounter-class`` (v3 ActCode
  ``IMP``/``AMB``/``EMER``; BPJS ``jnsPelayanan`` via ``bpjs-jenis-pelayanan``); RF1-5 is also
  ``locationCode`` and RF1-3 a further category (IG);
* ``orderDetail[0]`` — RF1-4 disposition through ``v2-0282-to-referral-type`` (full / partial;
  BPJS ``tipeRujukan``), or the sender's own coding when CWE-3 names another system;
* ``performerType`` — RF1-3 referral type (e.g. a BPJS poli code whose CWE-3 name is configured in
  ``settings["coding_systems"]``, or a SNOMED CT specialty);
* RF1-14 reason text → ``reasonCode.text``, RF1-24 comment → ``note``;
* ``occurrencePeriod`` RF1-7..8 (``tglRencanaKunjungan``), ``authoredOn`` RF1-9 or RF1-7
  (``tglRujukan``), ``reasonReference`` → the DG1 Conditions (``diagRujukan``, ICD-10),
  ``performer[0]`` → the referred-to Organization of PRD-10 (``ppkDirujuk``: its identifier system
  comes from ``settings["identifier_systems"]``), ``encounter`` → the PV1 visit (the SEP number is
  PV1-19 in the configured SEP system), ``note`` ← NTE after RF1 or PV1/PV2.

RF1 comes before PID and PV1 in REF_I12, so subject, encounter and diagnoses are linked in
:meth:`ReferralMixin.finish_referral` once the whole message has been read.
"""

from __future__ import annotations

from adapters.hl7v2.builder import BuilderBase
from adapters.hl7v2.datatypes import (
    V2_TABLE,
    Json,
    Rep,
    Seg,
    cwe,
    dtm,
    ei,
    identifier_system,
    lookup,
    prune,
    resource_id,
    xad,
    xpn,
    xtn,
)
from conformance.outcome import Issue

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
REFERRAL_TYPE = "urn:jembatan:codesystem:referral-type"
REQUESTER_ROLES = frozenset({"RP"})  # table 0286: referring provider
PERFORMER_ROLES = frozenset({"RT", "CP"})  # referred-to provider, consulting provider


class ReferralMixin(BuilderBase):
    """RF1 / PRD handlers for :class:`adapters.hl7v2.to_fhir.BundleBuilder`."""

    def seg_rf1(self, seg: Seg) -> None:
        origin = ei(seg.rep(6), self.scope, self.where(seg, 6))
        external = [ei(r, self.scope, self.where(seg, 11)) for r in seg.reps(11)]
        key = origin or next((e for e in external if e), None)
        sid = resource_id("ServiceRequest", key["system"], key["value"]) if key else resource_id(
            "ServiceRequest", self.scope.sender, f"RF1|{seg.v(7)}|{seg.index}")  # fmt: skip
        referral_type = cwe(seg.rep(3), self.scope, self.where(seg, 3), V2_TABLE + "0281")
        referral: Json = {
            "resourceType": "ServiceRequest", "id": sid, "identifier": [origin, *external],
            "status": self.referral_status(seg), "intent": "order",
            "priority": lookup(self.scope, "v2-0280-to-request-priority", "0280", seg.v(2), self.where(seg, 2)),
            "category": [self.referral_setting(seg), referral_type],
            "orderDetail": [self.referral_disposition(r, self.where(seg, 4)) for r in seg.reps(4)],
            "performerType": referral_type,
            "locationCode": [cwe(seg.rep(5), self.scope, self.where(seg, 5), V2_TABLE + "0284")],
            "occurrencePeriod": {"start": dtm(seg.v(7), self.scope, self.where(seg, 7)),
                                 "end": dtm(seg.v(8), self.scope, self.where(seg, 8))},
            "authoredOn": dtm(seg.v(9) or seg.v(7), self.scope, self.where(seg, 9 if seg.v(9) else 7)),
            "reasonCode": [cwe(r, self.scope, self.where(seg, 10), V2_TABLE + "0336") for r in seg.reps(10)]
            + [{"text": seg.v(14)}],
            "note": [{"text": seg.v(24)}],
        }  # fmt: skip
        ref = self.add(referral)
        self.referral = self.order = self.entries[ref]

    def referral_status(self, seg: Seg) -> str:
        if not seg.v(1):
            return "active"
        found = lookup(self.scope, "v2-0283-to-request-status", "0283", seg.v(1), self.where(seg, 1))
        return found or "unknown"

    def referral_setting(self, seg: Seg) -> Json | None:
        """RF1-5 (table 0284) → v3 ActCode encounter class, the first category of the referral."""
        rep = seg.rep(5)
        if rep is None or rep.c(3) not in ("", "HL70284") or self.scope.ctx.mappings is None:
            return None
        found = self.scope.ctx.translate("v2-0284-to-encounter-class", V2_TABLE + "0284", rep.c(1),
                                         expression=self.where(seg, 5), severity="warning")  # fmt: skip
        if found is None or not found.target:
            return None
        return prune({"coding": [{"system": found.target_system or ACT_CODE, "code": found.target,
                                  "display": found.display}]})  # fmt: skip

    def referral_disposition(self, rep: Rep, where: str) -> Json | None:
        """RF1-4 (table 0282) → referral type coding first, then the v2 coding; other systems as sent."""
        concept = cwe(rep, self.scope, where, V2_TABLE + "0282")
        if concept is None or rep.c(3) not in ("", "HL70282") or self.scope.ctx.mappings is None:
            return concept
        found = self.scope.ctx.translate("v2-0282-to-referral-type", V2_TABLE + "0282", rep.c(1),
                                         expression=where, severity="warning")  # fmt: skip
        if found is None or not found.target:
            return concept
        mapped = prune({"system": found.target_system or REFERRAL_TYPE, "code": found.target,
                        "display": found.display})  # fmt: skip
        return {**concept, "coding": [mapped, *concept.get("coding", [])]}

    # ------------------------------------------------------------ PRD

    def seg_prd(self, seg: Seg) -> None:
        roles = {r.c(1) for r in seg.reps(1)}
        practitioner = self.prd_practitioner(seg)
        organization = self.prd_organization(seg)
        referral = self.referral
        if referral is None:
            return
        actors = [{"reference": r} for r in (organization, practitioner) if r]
        if roles & PERFORMER_ROLES:
            referral.setdefault("performer", []).extend(actors)
        if roles & REQUESTER_ROLES and actors and "requester" not in referral:
            referral["requester"] = {"reference": practitioner or organization}

    def prd_practitioner(self, seg: Seg) -> str | None:
        """PRD-2 name, PRD-3 address, PRD-5 telecom, PRD-7 identifiers (PLN: .1 id, .2 type 0338)."""
        where = self.where(seg)
        names = [xpn(r, self.scope, self.where(seg, 2)) for r in seg.reps(2)]
        idents = [i for i in (self.pln(r, self.where(seg, 7)) for r in seg.reps(7)) if i is not None]
        if not idents and not any(names):
            return None
        key = (idents[0]["system"], idents[0]["value"]) if idents else ("name", repr(names))
        practitioner = {
            "resourceType": "Practitioner", "id": resource_id("Practitioner", *key), "identifier": idents,
            "name": names, "address": [xad(r, self.scope, self.where(seg, 3)) for r in seg.reps(3)],
            "telecom": [xtn(r, "work", self.scope, where) for r in seg.reps(5)],
        }  # fmt: skip
        return self.add(practitioner)

    def pln(self, rep: Rep, where: str) -> Json | None:
        if not rep.c(1):
            return None
        system = identifier_system(rep.c(2), "", "", rep.c(2), self.scope, where)
        period = {"end": dtm(rep.c(4), self.scope, where)}
        return prune({"system": system, "value": rep.c(1), "period": period})

    def prd_organization(self, seg: Seg) -> str | None:
        """PRD-10 (XON: .1 name, .6 authority, .7 type, .10 or .3 id), PRD-11 address, PRD-13 telecom."""
        rep = seg.rep(10)
        if rep is None:
            return None
        value = rep.c(10) or rep.c(3)
        ident = None
        if value:
            system = identifier_system(rep.c(6, 1), rep.c(6, 2), rep.c(6, 3), rep.c(7), self.scope, self.where(seg, 10))
            ident = {"system": system, "value": value}
        key: tuple[str, str] = (ident["system"], value) if ident else ("name", rep.c(1))
        org = {
            "resourceType": "Organization", "id": resource_id("Organization", *key), "identifier": [ident],
            "name": rep.c(1), "address": [xad(r, self.scope, self.where(seg, 11)) for r in seg.reps(11)],
            "telecom": [xtn(r, "work", self.scope, self.where(seg, 13)) for r in seg.reps(13)],
        }  # fmt: skip
        return self.add(org)

    # ------------------------------------------------------------ end of message

    def finish_referral(self) -> None:
        referral = self.referral
        if referral is None:
            return
        ref = f"ServiceRequest/{referral['id']}"
        if not self.patient:
            self.entries.pop(ref, None)
            self.scope.ctx.report(Issue("warning", "required", "no PID in the referral: ServiceRequest (subject "
                                        "1..1) not produced", location=("RF1[1]",), message_id="GW-1347"))  # fmt: skip
            return
        referral["subject"] = {"reference": self.patient}
        if self.encounter:
            referral["encounter"] = {"reference": self.encounter}
        if self.conditions:
            referral["reasonReference"] = [{"reference": c} for c in self.conditions]
        self.entries[ref] = prune(referral)
