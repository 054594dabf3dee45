"""ORC/OBR/TQ1/NTE/SPM → ServiceRequest, Specimen; RXA/RXR/RXE → Immunization, MedicationRequest; SCH, TXA."""

from __future__ import annotations

from adapters.hl7v2.builder import (
    PERFORMER_FUNCTION,
    BuilderBase,
    code_key,
    num,
    positive_int,
)
from adapters.hl7v2.datatypes import (
    V2_TABLE,
    Json,
    Rep,
    Seg,
    cwe,
    cx,
    date_only,
    dtm,
    ei,
    identifier_system,
    lookup,
    mapped_code,
    prune,
    quantity,
    resource_id,
    table_code,
    table_display,
)
from adapters.hl7v2.order_timing import apply_tq
from adapters.hl7v2.timing import apply_tq1
from conformance.outcome import Issue

#: MSH-9.1 of the order messages whose OBR is a request only (the IG's ORM_O01 and OML_O21 maps make no
#: DiagnosticReport; their OBX are the order's supporting information)
ORDER_MESSAGES = frozenset({"ORM", "OML"})


class OrderMixin(BuilderBase):
    # ------------------------------------------------------------ orders and results

    def seg_orc(self, seg: Seg) -> None:
        """ORC → the order's ServiceRequest (IG ORC[ServiceRequest]); OBR, TQ1 and NTE complete it."""
        placer = ei(seg.rep(2), self.scope, self.where(seg, 2), "PLAC")
        filler = ei(seg.rep(3), self.scope, self.where(seg, 3), "FILL")
        key = placer or filler
        sid = resource_id("ServiceRequest", key["system"], key["value"]) if key else resource_id(
            "ServiceRequest", self.patient or "", f"{self.message.control_id}|ORC{seg.index}")  # fmt: skip
        group = ei(seg.rep(4), self.scope, self.where(seg, 4), "PGN")
        request: Json = {
            "resourceType": "ServiceRequest", "id": sid, "identifier": [placer, filler, group],
            "status": self.order_status(seg), "intent": "order", "subject": self.subject(),
            "encounter": {"reference": self.encounter} if self.encounter else None,
            # IG: ORC-9 is the authoring time only for a new order (ORC-1 NW)
            "authoredOn": dtm(seg.v(9), self.scope, self.where(seg, 9)) if seg.v(1) == "NW" else None,
            "requester": self.practitioner(seg.rep(12), self.where(seg, 12)),
            "locationCode": [self.mapped_concept(seg.rep(29), "v2-0482-to-role-code", "0482", self.where(seg, 29))],
        }  # fmt: skip
        apply_tq(request, seg.rep(7), self.scope, self.where(seg, 7))
        self.order = request
        self.report = None
        self.observation = None

    def order_status(self, seg: Seg) -> str:
        """ServiceRequest.status: ORC-5 through table 0038; when ORC-5 is empty, ORC-1 through the IG's
        order-control map (table 0119). A code either map leaves without target gives ``unknown``."""
        if seg.v(5):
            code, _ = mapped_code(self.scope, "v2-0038-to-request-status", "0038", seg.v(5), self.where(seg, 5))
            return code or "unknown"
        if seg.v(1):
            code, _ = mapped_code(self.scope, "v2-0119-to-request-status", "0119", seg.v(1), self.where(seg, 1),
                                  severity="warning")  # fmt: skip
            return code or "unknown"
        return "unknown"

    def seg_obr(self, seg: Seg) -> None:
        placer = ei(seg.rep(2), self.scope, self.where(seg, 2), "PLAC")
        filler = ei(seg.rep(3), self.scope, self.where(seg, 3), "FILL")
        code = cwe(seg.rep(4), self.scope, self.where(seg, 4)) or {"text": "unknown"}
        fresh = self.order is None or self.order is self.referral
        if fresh or not self._same_order(placer, filler):
            self._order_from_obr(placer, filler, seg)
        else:  # IG: ORC-2/3 stand for empty OBR-2/3, OBR-2/3 for empty ORC-2/3
            self._merge_identifiers(placer, filler)
            placer, filler = self.order_identifier("PLAC"), self.order_identifier("FILL")
        order = self.order or {}
        order.setdefault("identifier", [])
        self._obr_order_details(order, seg)
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
        self.observation = None
        if self.order_message():  # IG ORM_O01 / OML_O21: the OBR details the order; no report yet
            self.report = None
            return
        self._report_from_obr(seg, placer, filler, code, order_ref)

    def order_message(self) -> bool:
        """An order message (ORM, OML): its OBR is a request, its OBX supporting information (IG message maps)."""
        return self.message.get("MSH-9.1") in ORDER_MESSAGES

    def _report_from_obr(self, seg: Seg, placer: Json | None, filler: Json | None, code: Json, order_ref: str) -> None:
        key = filler or placer
        rid = resource_id("DiagnosticReport", key["system"], key["value"]) if key else resource_id(
            "DiagnosticReport", order_ref, str(seg.index))  # fmt: skip
        status = "unknown"
        if seg.v(25):
            target, _ = mapped_code(self.scope, "v2-0123-to-diagnostic-report-status", "0123", seg.v(25),
                                    self.where(seg, 25))  # fmt: skip
            status = target or "unknown"
        report = {
            "resourceType": "DiagnosticReport", "id": rid,
            "identifier": [filler, placer, self.order_identifier("PGN")],
            "basedOn": [{"reference": order_ref}] if self.patient else [], "status": status, "code": code,
            "subject": self.subject(),
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "effectiveDateTime": dtm(seg.v(7), self.scope, self.where(seg, 7)),
            "issued": dtm(seg.v(22), self.scope, self.where(seg, 22)) if len(seg.v(22)) > 8 else None,
            "category": [table_code(seg.rep(24), "0074")],
        }  # fmt: skip
        self.add(report)
        self.report = self.entries[f"DiagnosticReport/{rid}"]

    def order_identifier(self, type_code: str) -> Json | None:
        for ident in (self.order or {}).get("identifier") or []:
            if ident and any(c.get("code") == type_code for c in (ident.get("type") or {}).get("coding", [])):
                return dict(ident)
        return None

    def _same_order(self, placer: Json | None, filler: Json | None) -> bool:
        """Whether OBR-2/3 name the ORC's order: neither contradicts the ORC's placer / filler number."""
        for mine, type_code in ((placer, "PLAC"), (filler, "FILL")):
            theirs = self.order_identifier(type_code)
            if mine is not None and theirs is not None and mine["value"] != theirs["value"]:
                return False
        return True

    def _merge_identifiers(self, placer: Json | None, filler: Json | None) -> None:
        """OBR-2/3 added to the ORC's order when ORC-2/3 were empty."""
        idents = (self.order or {}).setdefault("identifier", [])
        for ident, type_code in ((placer, "PLAC"), (filler, "FILL")):
            if ident is not None and self.order_identifier(type_code) is None:
                idents.append(ident)

    def _obr_order_details(self, order: Json, seg: Seg) -> None:
        """OBR-53 alternate placer number, OBR-29 parent (basedOn by identifier), OBR-27 timing when the
        ORC gave none, OBR-6 requested time when no timing is known (IG OBR[ServiceRequest])."""
        for rep in seg.reps(53):
            alternate = cx(rep, self.scope, self.where(seg, 53))
            if alternate is not None:
                alternate["type"] = {"coding": [{"system": V2_TABLE + "0203", "code": "PLAC"}]}
                order["identifier"].append(alternate)
        parent = self.parent_reference(seg.rep(29), self.where(seg, 29))
        if parent is not None:
            order.setdefault("basedOn", []).append(parent)
        if "occurrenceTiming" not in order:
            apply_tq(order, seg.rep(27), self.scope, self.where(seg, 27))
        if "occurrenceTiming" not in order and seg.v(6):
            order["occurrenceDateTime"] = dtm(seg.v(6), self.scope, self.where(seg, 6))

    def parent_reference(self, rep: Rep | None, where: str) -> Json | None:
        """EIP (.1 placer, .2 filler assigned EI, as subcomponents) → a logical Reference(ServiceRequest)."""
        if rep is None:
            return None
        for part, type_code in ((1, "PLAC"), (2, "FILL")):
            if rep.c(part, 1):
                system = identifier_system(rep.c(part, 2), rep.c(part, 3), rep.c(part, 4), type_code, self.scope,
                                           where)  # fmt: skip
                ident = {"system": system, "value": rep.c(part, 1),
                         "type": {"coding": [{"system": V2_TABLE + "0203", "code": type_code}]}}  # fmt: skip
                return {"type": "ServiceRequest", "identifier": ident}
        return None

    def _order_from_obr(self, placer: Json | None, filler: Json | None, seg: Seg) -> None:
        key = placer or filler
        sid = resource_id("ServiceRequest", key["system"], key["value"]) if key else resource_id(
            "ServiceRequest", self.patient or "", f"{self.message.control_id}|OBR{seg.index}")  # fmt: skip
        self.order = {"resourceType": "ServiceRequest", "id": sid, "identifier": [placer, filler],
                      "status": "active", "intent": "order", "subject": self.subject(),
                      "encounter": {"reference": self.encounter} if self.encounter else None}  # fmt: skip

    def seg_tq1(self, seg: Seg) -> None:
        if self.order is not None and self.order is not self.referral:
            apply_tq1(self.order, seg, self.scope, self.where(seg))
            if "occurrenceTiming" in self.order:  # occurrence[x]: the timing replaces an OBR-6 time
                self.order.pop("occurrenceDateTime", None)
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
        if vaccine is None:
            return
        if not self.patient:
            return self.no_patient(seg)
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
            "id": resource_id("Immunization", self.patient, f"{code_key(vaccine)}|{seg.v(3)}"),
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
        """RXA-10 administering provider (function AP) and ORC-12 ordering provider (OP), with the table 0443
        display from ``v2-0443-display``."""
        out = []
        for rep in seg.reps(10):
            actor = self.practitioner(rep, self.where(seg, 10))
            if actor:
                out.append({"actor": actor, "function": self.provider_role("AP")})
        requester = (self.order or {}).get("requester")
        if requester:
            out.append({"actor": requester, "function": self.provider_role("OP")})
        return out

    def provider_role(self, code: str) -> Json:
        display = table_display(self.scope, "0443", code)
        return {"coding": [prune({"system": PERFORMER_FUNCTION, "code": code, "display": display})]}

    def seg_rxr(self, seg: Seg) -> None:
        imm_id = getattr(self, "immunization", None)
        if imm_id and f"Immunization/{imm_id}" in self.entries:
            entry = self.entries[f"Immunization/{imm_id}"]
            entry["route"] = cwe(seg.rep(1), self.scope, self.where(seg, 1)) or entry.get("route")
            entry["site"] = cwe(seg.rep(2), self.scope, self.where(seg, 2)) or entry.get("site")
            self.entries[f"Immunization/{imm_id}"] = prune(entry)

    def seg_rxe(self, seg: Seg) -> None:
        med = cwe(seg.rep(2), self.scope, self.where(seg, 2))
        if med is None:
            return
        if not self.patient:
            return self.no_patient(seg)
        order_key = self.order["id"] if self.order else self.message.control_id
        request: Json = {
            "resourceType": "MedicationRequest",
            "id": resource_id("MedicationRequest", order_key, code_key(med)),
            "status": "active", "intent": "order", "subject": self.subject(),
            "medicationCodeableConcept": med,
            "identifier": self.order.get("identifier") if self.order else [],
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "dispenseRequest": {"quantity": quantity(seg.v(10), seg.rep(11), self.scope, self.where(seg, 10))
                                if seg.v(10) else None, "numberOfRepeatsAllowed": num(seg.v(12))},
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
            "minutesDuration": positive_int(seg.v(9)),
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
