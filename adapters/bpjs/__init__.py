"""BPJS Kesehatan bridging (VClaim / PCare): transport security, envelopes, payload formats, FHIR mapping.

Formats registered here:

* ``bpjs.vclaim.rujukan`` — decrypted VClaim rujukan lookup response ``{"rujukan": {...}}``
* ``bpjs.vclaim.rujukan-insert`` — Rujukan 2.0 insert request ``{"request": {"t_rujukan": {...}}}``
* ``bpjs.pcare.kunjungan`` — PCare kunjungan body with ``rujukLanjut``
* ``bpjs.pcare.rujukan`` — PCare referral, ``kunjungan/rujukan/{noKunjungan}`` response
* ``bpjs.json`` — any BPJS payload whose kind is recognised from its keys (validation only)

and the conformance profile ``bpjs`` (schema + field rules, message ids GW-42xx).
"""

from __future__ import annotations

from typing import Any

from adapters.base import Format
from adapters.bpjs.codec import BpjsJsonCodec
from adapters.bpjs.crypto import Credentials, decrypt_response, encrypt_response, make_headers, signature
from adapters.bpjs.envelope import Envelope, parse_envelope
from adapters.bpjs.mapper import BpjsMapper
from adapters.bpjs.models import BpjsPayload
from adapters.bpjs.rules import BpjsProfileValidator, BpjsSchemaValidator

__all__ = [
    "BpjsJsonCodec",
    "BpjsMapper",
    "BpjsPayload",
    "BpjsProfileValidator",
    "BpjsSchemaValidator",
    "Credentials",
    "Envelope",
    "decrypt_response",
    "encrypt_response",
    "make_headers",
    "parse_envelope",
    "register",
    "signature",
]


def _referral_key(model: Any) -> str | None:
    data = getattr(model, "data", None) or {}
    t = (data.get("request") or {}).get("t_rujukan") or {}
    parts = [t.get("noSep"), t.get("tglRujukan"), t.get("ppkDirujuk")]
    if not all(isinstance(p, str) and p for p in parts):
        return None
    return "|".join(str(p) for p in parts)


def _lookup_key(model: Any) -> str | None:
    data = getattr(model, "data", None) or {}
    number = (data.get("rujukan") or {}).get("noKunjungan") if isinstance(data.get("rujukan"), dict) else None
    return number if isinstance(number, str) and number else None


def _pcare_key(model: Any) -> str | None:
    number = (getattr(model, "data", None) or {}).get("noRujukan")
    return number if isinstance(number, str) and number else None


def register(registry: Any) -> None:
    from adapters.bpjs.insert_fhir import insert_from_fhir, insert_to_fhir
    from adapters.bpjs.pcare_fhir import kunjungan_from_fhir, kunjungan_to_fhir
    from adapters.bpjs.pcare_rujukan_fhir import pcare_rujukan_from_fhir, pcare_rujukan_to_fhir
    from adapters.bpjs.rujukan_fhir import rujukan_from_fhir, rujukan_to_fhir

    profile = BpjsProfileValidator()
    specs = [
        (
            "bpjs.vclaim.rujukan",
            "vclaim-rujukan",
            rujukan_to_fhir,
            rujukan_from_fhir,
            _lookup_key,
            'BPJS VClaim rujukan lookup response (decrypted response: {"rujukan": {...}})',
        ),
        (
            "bpjs.vclaim.rujukan-insert",
            "vclaim-rujukan-insert",
            insert_to_fhir,
            insert_from_fhir,
            _referral_key,
            'BPJS VClaim Rujukan 2.0 insert request ({"request": {"t_rujukan": {...}}})',
        ),
        (
            "bpjs.pcare.kunjungan",
            "pcare-kunjungan",
            kunjungan_to_fhir,
            kunjungan_from_fhir,
            None,
            "BPJS PCare kunjungan body with rujukLanjut (dates dd-MM-yyyy)",
        ),
        (
            "bpjs.pcare.rujukan",
            "pcare-rujukan",
            pcare_rujukan_to_fhir,
            pcare_rujukan_from_fhir,
            _pcare_key,
            "BPJS PCare referral (kunjungan/rujukan/{noKunjungan} response, dates dd-MM-yyyy)",
        ),
    ]
    for format_id, kind, to_fhir, from_fhir, key, description in specs:
        registry.register(
            Format(
                format_id,
                BpjsJsonCodec(format_id, kind),
                mapper=BpjsMapper(format_id, kind, to_fhir, from_fhir),
                validators=(profile,),
                description=description,
                idempotency_key=key,
            )
        )
    registry.register(
        Format(
            "bpjs.json",
            BpjsJsonCodec("bpjs.json", None),
            validators=(profile,),
            description="Any BPJS VClaim/PCare payload, kind detected from its keys (validation only)",
        )
    )
    registry.register_profile(
        "bpjs",
        "bpjs.json",
        profile,
        "BPJS payload JSON Schema + field rules (tipeRujukan/poliRujukan, PPK, card, NIK, dates, ICD-10)",
    )
