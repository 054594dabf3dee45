"""SATUSEHAT (Kemenkes FHIR R4): offline pre-flight profile and the profiled-output mapper."""

from __future__ import annotations

from adapters.satusehat.rules import RULES, Rule, check_payload
from adapters.satusehat.validator import SatusehatValidator

__all__ = ["RULES", "Rule", "SatusehatValidator", "check_payload", "register"]


def register(registry: object) -> None:
    registry.register_profile(  # type: ignore[attr-defined]
        "satusehat",
        "fhir+json",
        SatusehatValidator(),
        "SATUSEHAT pre-flight: Kemenkes profile constraints, business rules and code bindings",
    )
