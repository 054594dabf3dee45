"""HL7 v2 (ER7 over MLLP or HTTP): codec, ACKs, and the v2 ↔ FHIR R4 mapper."""

from __future__ import annotations

from adapters.base import Format
from adapters.hl7v2.codec import Hl7v2Codec, V2Batch, V2Message, idempotency_key

__all__ = ["Hl7v2Codec", "V2Batch", "V2Message", "idempotency_key", "register"]


def register(registry: object) -> None:
    from adapters.hl7v2.mapper import Hl7v2Mapper

    registry.register(  # type: ignore[attr-defined]
        Format(
            "hl7v2",
            Hl7v2Codec(),
            mapper=Hl7v2Mapper(),
            description="HL7 v2.1-2.8 ER7 messages and batches (SIMRS/LIS), mapped per the HL7 v2-to-FHIR IG",
            idempotency_key=idempotency_key,
        )
    )
