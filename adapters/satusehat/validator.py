"""The ``satusehat`` conformance profile: :mod:`adapters.satusehat.rules` behind the Validator protocol."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from adapters.base import MapContext
from adapters.satusehat.rules import VITAL_UNITS_MAP, RuleContext, check_payload
from conformance.outcome import Outcome


def organization_id(settings: Mapping[str, Any]) -> str | None:
    """The SATUSEHAT organization id from facility/channel settings (``organization_id`` or
    ``satusehat_organization_id``, or ``satusehat: {organization_id}``)."""
    nested = settings.get("satusehat")
    for value in (
        settings.get("organization_id"),
        settings.get("satusehat_organization_id"),
        nested.get("organization_id") if isinstance(nested, Mapping) else None,
    ):
        if value:
            return str(value)
    return None


@lru_cache(maxsize=1)
def _bundled_mappings() -> Any:
    from mappings.registry import MappingRegistry

    return MappingRegistry()


def vital_unit_lookup(ctx: MapContext) -> Any:
    """``loinc code -> (ucum code, unit text)`` through the pinned ``satusehat-vital-signs-units`` map."""
    registry = ctx.mappings if ctx.mappings is not None else _bundled_mappings()
    cmap = registry.get(VITAL_UNITS_MAP, ctx.pins.get(VITAL_UNITS_MAP))
    ctx.used_mappings[cmap.map_id] = {"version": cmap.version, "digest": cmap.digest}

    def lookup(code: str) -> tuple[str, str] | None:
        found = cmap.translate("http://loinc.org", code)
        return None if found.target is None else (found.target, found.display or found.target)

    return lookup


def code_checker(terminology: Any) -> Any:
    """Adapt a terminology service's ``validate_code`` to ``(system, code) -> True/False/None``."""
    if terminology is None or not hasattr(terminology, "validate_code"):
        return None

    def check(system: str, code: str) -> bool | None:
        result = terminology.validate_code(system, code)
        if result is None or isinstance(result, bool):
            return result
        if isinstance(result, Mapping):
            value = result.get("result", result.get("valid"))
        else:
            value = getattr(result, "result", getattr(result, "valid", None))
        return value if isinstance(value, bool) else None

    return check


def rule_context(ctx: MapContext) -> RuleContext:
    return RuleContext(organization_id(ctx.settings), code_checker(ctx.terminology), vital_unit_lookup(ctx))


def as_json(doc: Any) -> Any:
    """A dict stays a dict; a ``fhir.resources`` model is dumped to FHIR JSON."""
    if isinstance(doc, Mapping) or not hasattr(doc, "model_dump"):
        return doc
    return doc.model_dump(mode="json", exclude_none=True, by_alias=True)


class SatusehatValidator:
    """Offline pre-flight check of a resource or transaction Bundle against SATUSEHAT's documented rules."""

    name = "satusehat"

    def validate(self, doc: Any, ctx: MapContext) -> Outcome:
        return Outcome(check_payload(as_json(doc), rule_context(ctx)))
