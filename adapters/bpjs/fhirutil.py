"""Small helpers shared by the BPJS ↔ FHIR mappers: systems, deterministic ids, bundle lookups.

FHIR cannot carry an empty string, while BPJS payloads use ``""`` for "not filled" (for instance
``poliRujukan`` of a rujuk-balik referral). To keep round trips exact, the mappers record the JSON
pointer of every empty-string field in an ``urn:jembatan:extension:bpjs-empty`` extension on the
ServiceRequest; any other field missing from the FHIR side comes back as ``null``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

__all__ = [
    "CS",
    "EXT",
    "ICD10",
    "SYS",
    "BundleIndex",
    "clean",
    "coding_of",
    "empty_pointers",
    "ext",
    "ext_group",
    "ext_value",
    "full_url",
    "identifier_of",
    "read_group",
    "set_pointer",
    "text",
]

ICD10 = "http://hl7.org/fhir/sid/icd-10"
NIK = "https://fhir.kemkes.go.id/id/nik"
SYS = {
    "no_rujukan": "urn:jembatan:identifier:bpjs-no-rujukan",
    "sep": "urn:jembatan:identifier:bpjs-sep",
    "no_kartu": "urn:jembatan:identifier:bpjs-no-kartu",
    "ppk": "urn:jembatan:identifier:bpjs-ppk",
    "dokter": "urn:jembatan:identifier:bpjs-dokter",
    "kunjungan": "urn:jembatan:identifier:bpjs-pcare-kunjungan",
    "kc": "urn:jembatan:identifier:bpjs-kantor-cabang",
    "kr": "urn:jembatan:identifier:bpjs-kedeputian-wilayah",
    "nik": NIK,
    "mr": "urn:jembatan:identifier:mr",
}
CS = {
    name: f"urn:jembatan:codesystem:bpjs-{name}"
    for name in (
        "poli",
        "jenis-pelayanan",
        "tipe-rujukan",
        "hak-kelas",
        "jenis-kelamin",
        "jenis-peserta",
        "status-peserta",
        "pisa",
        "status-pulang",
        "poli-fktp",
        "subspesialis",
        "sarana",
    )
}
EXT = "urn:jembatan:extension:bpjs-"
_NAMESPACE = uuid.UUID("6f1c9a52-3b0e-5c4e-9d0a-b9b1a2c3d4e5")


def full_url(key: str, role: str) -> str:
    """A stable ``urn:uuid`` per (business key, role) so the same input always gives the same Bundle."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{key}|{role}')}"


def text(value: Any) -> str | None:
    """A value FHIR can hold: non-empty strings only."""
    return value if isinstance(value, str) and value != "" else None


_NO_DATA = frozenset({"system", "url"})


def clean(value: Any) -> Any:
    """Drop ``None``, empty lists and empty dicts recursively.

    A dict left with nothing but ``system``/``url`` (an identifier or coding without a
    value, a telecom without a number) carries no data and is dropped too.
    """
    if isinstance(value, dict):
        out = {k: clean(v) for k, v in value.items()}
        kept = {k: v for k, v in out.items() if v not in (None, [], {})}
        return {} if set(kept) <= _NO_DATA else kept
    if isinstance(value, list):
        items = [clean(v) for v in value]
        return [v for v in items if v not in (None, [], {})]
    return value


def empty_pointers(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from empty_pointers(child, f"{path}/{key}")
    elif value == "":
        yield path


def set_pointer(doc: Any, pointer: str, value: Any) -> None:
    """Set an existing dict path (created parents are dicts); silently ignores a non-dict parent."""
    parts = pointer.strip("/").split("/")
    node = doc
    for part in parts[:-1]:
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            if not isinstance(node, dict):
                return
            child = node[part] = {}
        node = child
    if isinstance(node, dict):
        node[parts[-1]] = value


def ext(name: str, **value: Any) -> dict[str, Any] | None:
    """``ext("user", valueString="x")``; ``None`` when the value is missing."""
    kind, val = next(iter(value.items()))
    return {"url": EXT + name, kind: val} if val not in (None, "") else None


def ext_group(name: str, fields: dict[str, Any], kinds: dict[str, str] | None = None) -> dict[str, Any] | None:
    """Complex extension with one sub-extension per non-empty field (``valueString`` unless told)."""
    kinds = kinds or {}
    subs = [{"url": k, kinds.get(k, "valueString"): v} for k, v in fields.items() if text(v)]
    return {"url": EXT + name, "extension": subs} if subs else None


def ext_value(resource: dict[str, Any], name: str) -> Any:
    for item in resource.get("extension") or []:
        if item.get("url") == EXT + name:
            return next((v for k, v in item.items() if k.startswith("value")), None)
    return None


def read_group(resource: dict[str, Any], name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in resource.get("extension") or []:
        if item.get("url") == EXT + name:
            for sub in item.get("extension") or []:
                found[sub.get("url")] = next((v for k, v in sub.items() if k.startswith("value")), None)
    return {key: found.get(key) for key in keys}


def identifier_of(resource: dict[str, Any] | None, system: str) -> str | None:
    for ident in (resource or {}).get("identifier") or []:
        if ident.get("system") == system:
            return ident.get("value")  # type: ignore[no-any-return]
    return None


def coding_of(concept: dict[str, Any] | None, system: str) -> dict[str, Any] | None:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == system:
            return coding  # type: ignore[no-any-return]
    return None


class BundleIndex:
    """Resolve references inside a Bundle (by fullUrl or ``Type/id``)."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.resources: list[dict[str, Any]] = []
        self._by_ref: dict[str, dict[str, Any]] = {}
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") or {}
            self.resources.append(resource)
            if entry.get("fullUrl"):
                self._by_ref[entry["fullUrl"]] = resource
            if resource.get("id"):
                self._by_ref[f"{resource.get('resourceType')}/{resource['id']}"] = resource

    def resolve(self, reference: dict[str, Any] | None) -> dict[str, Any] | None:
        ref = (reference or {}).get("reference")
        return self._by_ref.get(ref) if ref else None

    def first(self, resource_type: str) -> dict[str, Any] | None:
        return next((r for r in self.resources if r.get("resourceType") == resource_type), None)
