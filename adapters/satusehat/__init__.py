"""SATUSEHAT (Kemenkes FHIR R4): offline pre-flight profile and the profiled-output mapper."""

from __future__ import annotations

from adapters.base import Format
from adapters.satusehat.profile import FORMAT_ID, SatusehatJsonCodec, SatusehatProfileMapper, build_bundle
from adapters.satusehat.rules import RULES, Rule, check_payload
from adapters.satusehat.validator import SatusehatValidator

__all__ = [
    "FORMAT_ID",
    "RULES",
    "Rule",
    "SatusehatJsonCodec",
    "SatusehatProfileMapper",
    "SatusehatValidator",
    "build_bundle",
    "check_payload",
    "register",
]


def register(registry: object) -> None:
    registry.register(  # type: ignore[attr-defined]
        Format(
            FORMAT_ID,
            SatusehatJsonCodec(),
            mapper=SatusehatProfileMapper(),
            validators=(SatusehatValidator(),),
            description="SATUSEHAT-profiled FHIR R4 transaction Bundle (outpatient flow)",
        )
    )
    registry.register_profile(  # type: ignore[attr-defined]
        "satusehat",
        "fhir+json",
        SatusehatValidator(),
        "SATUSEHAT pre-flight: Kemenkes profile constraints, business rules and code bindings",
    )
