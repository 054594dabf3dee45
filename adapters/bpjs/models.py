"""Native model of BPJS payloads: the normalised JSON object plus the kind (= schema name).

BPJS payloads are plain JSON objects whose shape is fixed by the TrustMark catalogue, so the
native model keeps them as dictionaries (described by the JSON Schemas in
``conformance/schemas/bpjs/``) tagged with their kind. :func:`normalise` applies the defensive
clean-ups every consumer needs: numbers become strings (BPJS sends every value as a string, but
some services emit bare numbers) and whitespace around code values is removed (``"01 "``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "BpjsPayload", "detect_kind", "is_code_key", "normalise"]

#: kind -> (service, what it is)
KINDS: dict[str, str] = {
    "vclaim-rujukan": "VClaim rujukan lookup response",
    "vclaim-rujukan-list": "VClaim rujukan list response",
    "vclaim-rujukan-insert": "VClaim Rujukan 2.0 insert request",
    "vclaim-rujukan-update": "VClaim Rujukan 2.0 update request",
    "vclaim-rujukan-delete": "VClaim rujukan delete request",
    "vclaim-rujukan-insert-response": "VClaim Rujukan 2.0 insert response",
    "vclaim-rujukan-keluar": "VClaim outgoing referral detail",
    "vclaim-rujukan-keluar-list": "VClaim outgoing referral list",
    "vclaim-rujukan-khusus-insert": "VClaim Rujukan Khusus insert request",
    "vclaim-rujukan-khusus-response": "VClaim Rujukan Khusus insert response",
    "vclaim-prb-insert": "VClaim PRB insert request",
    "vclaim-jumlah-sep": "VClaim JumlahSEP response",
    "vclaim-list-spesialistik": "VClaim ListSpesialistik response",
    "vclaim-list-sarana": "VClaim ListSarana response",
    "vclaim-referensi": "VClaim referensi response",
    "pcare-kunjungan": "PCare kunjungan body",
    "pcare-rujukan": "PCare kunjungan rujukan response",
}

_CODE_KEYS = frozenset(
    {
        "kode",
        "code",
        "tipe",
        "tipeRujukan",
        "jnsPelayanan",
        "poliRujukan",
        "ppkDirujuk",
        "diagRujukan",
        "noKartu",
        "nik",
        "noSep",
        "noRujukan",
        "noKunjungan",
        "sex",
        "pisa",
        "programPRB",
        "nokaPst",
        "norujukan",
        "nokapst",
    }
)


@dataclass
class BpjsPayload:
    """One BPJS JSON payload of a known ``kind`` (a schema name in ``conformance/schemas/bpjs``)."""

    kind: str
    data: Any


def is_code_key(key: str) -> bool:
    return key in _CODE_KEYS or key.startswith(("kd", "kode"))


def normalise(value: Any, key: str = "") -> Any:
    """Numbers → strings, trimmed code values; dicts and lists recursively (a new object)."""
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, key) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        value = str(value)
    if isinstance(value, str) and is_code_key(key):
        return value.strip()
    return value


def _inner_keys(data: dict[str, Any]) -> set[str]:
    request = data.get("request")
    if isinstance(request, dict):
        return {f"request.{k}" for k in request} | {
            f"t_rujukan.{k}" for k in (request.get("t_rujukan") or {}) if isinstance(request.get("t_rujukan"), dict)
        }
    rujukan = data.get("rujukan")
    if isinstance(rujukan, dict):
        return {f"rujukan.{k}" for k in rujukan}
    if isinstance(rujukan, list):
        return {"rujukan[]"}
    return set(data)


def detect_kind(data: Any) -> str | None:
    """Guess the kind of a payload from its keys (``None`` when nothing fits)."""
    if not isinstance(data, dict):
        return None
    keys = _inner_keys(data)
    checks: list[tuple[str, bool]] = [
        ("vclaim-prb-insert", "request.t_prb" in keys),
        ("vclaim-rujukan-insert", "t_rujukan.noSep" in keys),
        ("vclaim-rujukan-update", "t_rujukan.ppkDirujuk" in keys),
        ("vclaim-rujukan-delete", "t_rujukan.noRujukan" in keys),
        ("vclaim-rujukan-list", "rujukan[]" in keys),
        ("vclaim-rujukan", "rujukan.noKunjungan" in keys),
        ("vclaim-rujukan-insert-response", "rujukan.AsalRujukan" in keys or "rujukan.tujuanRujukan" in keys),
        ("vclaim-rujukan-khusus-response", "rujukan.nokapst" in keys),
        ("vclaim-rujukan-keluar", "rujukan.noSep" in keys),
        ("vclaim-rujukan-khusus-insert", "diagnosa" in keys and "noRujukan" in keys),
        ("pcare-kunjungan", "tglDaftar" in keys),
        ("pcare-rujukan", "nokaPst" in keys),
        ("vclaim-jumlah-sep", "jumlahSEP" in keys),
    ]
    return next((kind for kind, hit in checks if hit), None)
