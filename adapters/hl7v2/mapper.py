"""The ``hl7v2`` mapper: v2 → FHIR R4 transaction Bundle, and FHIR → v2 for ADT A04/A08 and ORU R01."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from adapters.base import MapContext
from adapters.hl7v2.codec import V2Batch, V2Message
from adapters.hl7v2.to_fhir import bundle_for
from bridge.errors import MappingError
from conformance.outcome import Issue

# message types the v2 -> FHIR map covers (MSH-9.1, or "type^event" for a single event);
# a channel may narrow or widen this with settings["accepted_message_types"]
SUPPORTED_TYPES = ("ADT", "ORU^R01", "ORM^O01", "OML^O21", "VXU^V04", "MDM^T02", "SIU^S12", "REF^I12", "DFT^P03",
                   "RDE^O11")  # fmt: skip


def check_supported(message: V2Message, ctx: MapContext) -> None:
    """An unsupported MSH-9 is reported as error GW-1312 (answered with AR: do not resend unchanged)."""
    kind, event, _ = message.message_type
    accepted = tuple(ctx.settings.get("accepted_message_types") or SUPPORTED_TYPES)
    if kind in accepted or f"{kind}^{event}" in accepted:
        return
    text = f"message type {kind}^{event} is not accepted on this channel (accepted: {', '.join(accepted)})"
    ctx.report(Issue.error("not-supported", text, location=("MSH-9",), message_id="GW-1312"))


class Hl7v2Mapper:
    format_id = "hl7v2"

    def to_fhir(self, model: V2Message | V2Batch, ctx: MapContext) -> Bundle:
        messages = model.messages if isinstance(model, V2Batch) else [model]
        for message in messages:
            check_supported(message, ctx)
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for message in messages:
            for entry in bundle_for(message, ctx)["entry"]:
                if entry["request"]["url"] not in seen:
                    seen.add(entry["request"]["url"])
                    entries.append(entry)
        try:
            return Bundle.model_validate({"resourceType": "Bundle", "type": "transaction", "entry": entries})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ()))
            raise MappingError(
                "GW-1350", f"mapped Bundle is not valid FHIR R4: {err.get('msg')}", location=where
            ) from exc

    def from_fhir(self, resource: Any, ctx: MapContext) -> V2Message:
        from adapters.hl7v2.from_fhir import message_from_bundle

        return message_from_bundle(resource, ctx)
