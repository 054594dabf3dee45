"""HL7 v2 message → FHIR R4 transaction Bundle, following the HL7 v2-to-FHIR IG segment maps.

One :class:`BundleBuilder` per message walks the segments in order, keeping the current order
(ORC/OBR) and the current result so that OBX, NTE, SPM and TQ1 attach to the right parent. Each
resource gets a deterministic id (:func:`~adapters.hl7v2.datatypes.resource_id`) so re-sending a
message updates the same resources (``PUT Type/id``). Segments the mapper does not consume are
listed in ``ctx.unused``.
"""

from __future__ import annotations

from adapters.base import MapContext
from adapters.hl7v2.builder import HANDLED, BuilderBase
from adapters.hl7v2.codec import V2Message
from adapters.hl7v2.datatypes import Json, Seg
from adapters.hl7v2.encounter import EncounterMixin
from adapters.hl7v2.insurance import InsuranceMixin
from adapters.hl7v2.orders import OrderMixin
from adapters.hl7v2.patient import PatientMixin
from adapters.hl7v2.referral import ReferralMixin
from adapters.hl7v2.results import ResultMixin
from conformance.outcome import Issue


class BundleBuilder(PatientMixin, EncounterMixin, OrderMixin, ResultMixin, ReferralMixin, InsuranceMixin, BuilderBase):
    """Builds the Bundle entries for one message: each segment goes to its ``seg_<id>`` handler."""

    def seg_pid(self, seg: Seg) -> None:
        """PID → Patient (:class:`PatientMixin`), then its Account (IG PID[Account], :class:`InsuranceMixin`)."""
        super().seg_pid(seg)
        self.add_account(seg)

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
        self.finish_subjects()
        return list(self.entries.values())


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
