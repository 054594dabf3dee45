"""OBX → Observation (values, units, ranges, interpretation) and DiagnosticReport presentedForm."""

from __future__ import annotations

from adapters.hl7v2.builder import (
    BASE64,
    INTERPRETATION,
    MIME_TOP_LEVEL,
    BuilderBase,
    code_key,
    num,
)
from adapters.hl7v2.datatypes import (
    V2_TABLE,
    Json,
    Rep,
    Seg,
    cwe,
    dtm,
    ei,
    lookup,
    mapped_code,
    prune,
    quantity,
    resource_id,
)

ATTACHMENT_TYPES = ("RP", "ED")  # OBX-2 types whose OBX-5 is an attachment (reference pointer, encapsulated)


class ResultMixin(BuilderBase):
    def seg_obx(self, seg: Seg) -> None:
        where = self.where(seg)
        code = cwe(seg.rep(3), self.scope, self.where(seg, 3))
        if code is None:
            code = {"text": seg.v(3, 2) or "unknown"}
        parent = self.report["id"] if self.report else (self.encounter or self.patient or "")
        oid = resource_id("Observation", parent, f"{code_key(code)}|{seg.v(4)}|{seg.v(1)}|{seg.index}")
        status = self.result_status(seg.v(11), self.where(seg, 11))
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
        self.presented_form(seg, obs)
        ref = self.add(obs)
        self.observation = self.entries[ref]
        self.supporting_info(ref)
        if self.report is not None:
            self.report.setdefault("result", []).append({"reference": ref})
            if self.report.get("effectiveDateTime") and not obs.get("effectiveDateTime"):
                self.entries[ref]["effectiveDateTime"] = self.report["effectiveDateTime"]

    def result_status(self, code: str, where: str) -> str:
        """OBX-11 through ``v2-0085-to-observation-status`` (the IG table: B, I, N, O, R, S, U, V have no
        FHIR target); an empty or unmapped status is ``unknown`` (Observation.status is 1..1), reported as a
        warning so the result itself is still delivered."""
        if not code:
            return "unknown"
        target, _ = mapped_code(self.scope, "v2-0085-to-observation-status", "0085", code, where, severity="warning")
        return target or "unknown"

    def supporting_info(self, ref: str) -> None:
        """In an order message (no report), an OBX is the order's ServiceRequest.supportingInfo (IG ORM_O01)."""
        order = self.order
        if self.report is None and order is not None and order is not self.referral:
            if self.entries.get(f"ServiceRequest/{order['id']}") is order:
                order.setdefault("supportingInfo", []).append({"reference": ref})

    def presented_form(self, seg: Seg, obs: Json) -> None:
        """OBX-5 of type RP (.1 pointer, .3 type, .4 subtype) or ED (.2 type, .3 subtype, .5 data) →
        DiagnosticReport.presentedForm (MIME type through ``v2-0191-to-mime-type``): of the OBR's report,
        or, with no report (an order message, an OBX before any OBR), of a report of its own."""
        rep, kind = seg.rep(5), seg.v(2)
        if rep is None or kind not in ATTACHMENT_TYPES:
            return
        attachment = self.attachment(rep, kind, seg)
        if not attachment:
            return
        if self.report is not None:
            self.report.setdefault("presentedForm", []).append(attachment)
        elif self.patient and ("url" in attachment or "data" in attachment):
            self.add(self.attachment_report(obs, attachment))

    def attachment_report(self, obs: Json, attachment: Json) -> Json:
        """A DiagnosticReport carrying one OBX attachment: the OBX code, time and identifier; its status is
        ``unknown`` (OBX-11 is a result status of table 0085, not a report status of table 0123)."""
        order = self.order if self.order is not None and self.order is not self.referral else None
        based_on = f"ServiceRequest/{order['id']}" if order is not None else None
        return {
            "resourceType": "DiagnosticReport", "id": resource_id("DiagnosticReport", str(obs["id"]), "presentedForm"),
            "identifier": obs.get("identifier"), "status": "unknown", "code": obs["code"], "subject": self.subject(),
            "basedOn": [{"reference": based_on}] if based_on and based_on in self.entries else None,
            "encounter": {"reference": self.encounter} if self.encounter else None,
            "effectiveDateTime": obs.get("effectiveDateTime"), "presentedForm": [attachment],
        }  # fmt: skip

    def attachment(self, rep: Rep, kind: str, seg: Seg) -> Json:
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
        return prune(attachment)  # type: ignore[no-any-return]

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
        if not reps or value_type in ATTACHMENT_TYPES:  # an attachment: see presented_form
            return
        where = self.where(seg, 5)
        # a value type without a FHIR value (FN, HD…) is reported and its value left out; the result stays
        kind, _ = mapped_code(self.scope, "v2-0125-to-observation-value-type", "0125", value_type, self.where(seg, 2),
                              severity="warning")  # fmt: skip
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
            rng = prune({"low": {"value": num(rep.c(1))}, "high": {"value": num(rep.c(2))}})
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
        if sep and num(low) is not None and num(high) is not None:
            unit = seg.rep(6)
            units = {"unit": unit.c(2) or unit.c(1)} if unit is not None and unit.c(1) else {}
            return [{"low": {"value": num(low), **units}, "high": {"value": num(high), **units}, "text": text}]
        return [{"text": text}]
