"""FHIR R4 JSON: the pivot's own wire format."""

from __future__ import annotations

from adapters.base import Format
from adapters.fhir.codec import FhirJsonCodec, FhirPassthroughMapper, FhirStructureValidator

__all__ = ["FhirJsonCodec", "FhirPassthroughMapper", "FhirStructureValidator", "register"]


def register(registry: object) -> None:
    codec = FhirJsonCodec()
    registry.register(  # type: ignore[attr-defined]
        Format(
            "fhir+json",
            codec,
            mapper=FhirPassthroughMapper(),
            validators=(FhirStructureValidator(),),
            description="FHIR R4 resource or Bundle as JSON (application/fhir+json)",
        )
    )
