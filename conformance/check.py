"""Run a named conformance check (profile or format id) on raw bytes: the function behind
``POST /conformance/<name>/$validate`` and ``jembatan validate``.
"""

from __future__ import annotations

from typing import Any

from adapters.base import MapContext
from bridge.errors import CodecError
from bridge.gateway import Gateway
from conformance.outcome import Outcome, outcome_from_error


def check_payload(gateway: Gateway, name: str, raw: bytes, settings: dict[str, Any] | None = None) -> Outcome:
    """Decode ``raw`` with the check's input format and run its validators; bad input never raises.

    A codec may offer ``parse_for_validation(raw) -> (doc, issues)`` to keep going past structural
    errors (FHIR JSON does, so every structural issue is reported, not just the first).
    """
    fmt, validators = gateway.formats.checker(name)
    outcome = Outcome()
    lenient = getattr(fmt.codec, "parse_for_validation", None)
    try:
        if lenient is not None:
            doc, issues = lenient(raw)
            outcome.extend(issues)
        else:
            doc = fmt.codec.parse(raw)
    except CodecError as exc:
        return outcome.extend(outcome_from_error(exc).issues)
    ctx = MapContext(
        gateway.mappings,
        {},
        {**gateway.config.get("FACILITY", {}), **(settings or {})},
        terminology=gateway.terminology,
    )
    for validator in validators:
        outcome.extend(validator.validate(doc, ctx).issues)
    outcome.extend(i for i in ctx.outcome.issues if i not in outcome.issues)
    return outcome
