"""The ``hl7v2`` mapper: v2 → FHIR R4 transaction Bundle, and FHIR → v2 for ADT A04/A08 and ORU R01.

``to_fhir`` hands the pipeline the Bundle as FHIR JSON (:class:`~adapters.fhir.codec.FhirJson`),
not as a ``fhir.resources`` model: validating the model costs more than building the Bundle, and
the pivot's consumers take JSON. That the builder's JSON is valid R4 is proven by tests over the
whole sample corpus and by Hypothesis properties; ``FhirJson.model()`` builds the model where a
step needs it.
"""

from __future__ import annotations

from typing import Any

from adapters.base import MapContext
from adapters.fhir.codec import FhirJson
from adapters.hl7v2.codec import V2Batch, V2Message
from adapters.hl7v2.to_fhir import bundle_for
from conformance.outcome import Issue

# message types the v2 -> FHIR map covers (MSH-9.1, or "type^event" for a single event);
# a channel may narrow or widen this with settings["accepted_message_types"]
SUPPORTED_TYPES = ("ADT", "ORU^R01", "ORM^O01", "OML^O21", "VXU^V04", "MDM^T02", "SIU^S12", "REF^I12", "DFT^P03",
                   "RDE^O11")  # fmt: skip


def check_supported(message: V2Message, ctx: MapContext) -> bool:
    """An unsupported MSH-9 is reported as error GW-1312 (answered with AR: do not resend unchanged)."""
    kind, event, _ = message.message_type
    accepted = tuple(ctx.settings.get("accepted_message_types") or SUPPORTED_TYPES)
    if kind in accepted or f"{kind}^{event}" in accepted:
        return True
    text = f"message type {kind}^{event} is not accepted on this channel (accepted: {', '.join(accepted)})"
    ctx.report(Issue.error("not-supported", text, location=("MSH-9",), message_id="GW-1312"))
    return False


def drop_empty(value: Any) -> bool:
    """Remove ``None``, ``""``, ``[]`` and ``{}`` from nested dicts and lists, in place; True if ``value`` is empty.

    The builder prunes each resource when it adds it, but a handler may still set an element on an
    added resource (``setdefault(key, None)``); FHIR JSON must not carry nulls or empty values.
    """
    if isinstance(value, dict):
        empty = [k for k, v in value.items() if (drop_empty(v) if isinstance(v, _NESTED) else v is None or v == "")]
        for key in empty:
            del value[key]
        return not value
    if isinstance(value, list):
        kept = [v for v in value if not (drop_empty(v) if isinstance(v, _NESTED) else v is None or v == "")]
        if len(kept) != len(value):
            value[:] = kept
        return not value
    return value is None or value == ""


_NESTED = (dict, list)


class Hl7v2Mapper:
    format_id = "hl7v2"

    def to_fhir(self, model: V2Message | V2Batch, ctx: MapContext) -> FhirJson:
        """The transaction Bundle of every message (an entry once per ``Type/id``); nothing is built when a
        message type is not accepted (the run is rejected anyway)."""
        messages = model.messages if isinstance(model, V2Batch) else [model]
        supported = [check_supported(message, ctx) for message in messages]
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for message in messages if all(supported) else []:
            for entry in bundle_for(message, ctx)["entry"]:
                if entry["request"]["url"] not in seen:
                    seen.add(entry["request"]["url"])
                    drop_empty(entry)
                    entries.append(entry)
        bundle = FhirJson(resourceType="Bundle", type="transaction")
        if entries:
            bundle["entry"] = entries
        return bundle

    def from_fhir(self, resource: Any, ctx: MapContext) -> V2Message:
        from adapters.hl7v2.from_fhir import message_from_bundle

        return message_from_bundle(resource, ctx)
