"""Constants and small helpers shared by the terminology operations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from terminology.params import Params
from terminology.workspace import Workspace

PREFERRED_FOR_LANGUAGE = {
    "system": "http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra",
    "code": "preferredForLanguage",
    "display": "Preferred For Language",
}
EXPANSION_PROPERTY_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.property"
CONTAINS_PROPERTY_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.contains.property"
DEFAULT_LIMIT = 10000
VS_EXPANSION_PARAMETER = "http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter"
ECHO_PARAMS = (
    "activeOnly",
    "includeDesignations",
    "includeDefinition",
    "excludeNested",
    "displayLanguage",
    "count",
    "offset",
    "filter",
    "excludeNotForUI",
    "excludePostCoordinated",
    "designation",
)


VS_KEEP = (
    "resourceType",
    "id",
    "language",
    "extension",
    "url",
    "version",
    "name",
    "title",
    "status",
    "experimental",
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


SUPPLEMENT_EXT = "http://hl7.org/fhir/StructureDefinition/valueset-supplement"


def apply_supplements(ws: Workspace, vs: dict[str, Any] | None, params: Params) -> None:
    refs = params.strs("useSupplement")
    if vs is not None:
        refs += [
            e.get("valueCanonical")
            for e in vs.get("extension", [])
            if e.get("url") == SUPPLEMENT_EXT and e.get("valueCanonical")
        ]
    if refs:
        ws.require_supplements(refs)


def vs_parameters(vs: dict[str, Any], params: Params, use_vs_language: bool) -> Params:
    """Expansion parameters a value set declares (compose extension), unless the request gives them."""
    extra: list[dict[str, Any]] = []
    for ext in vs.get("compose", {}).get("extension", []):
        if ext.get("url") != VS_EXPANSION_PARAMETER:
            continue
        parts = {e.get("url"): e for e in ext.get("extension", [])}
        name = parts.get("name", {}).get("valueCode") or parts.get("name", {}).get("valueString")
        value = {k: v for k, v in parts.get("value", {}).items() if k.startswith("value")}
        if name and value and not params.has(name):
            extra.append({"name": name, **value})
    if (
        use_vs_language
        and vs.get("language")
        and not params.has("displayLanguage")
        and not any(e["name"] == "displayLanguage" for e in extra)
    ):
        extra.append({"name": "displayLanguage", "valueCode": vs["language"]})
    return Params([*params.entries, *extra]) if extra else params


def parse_languages(value: str | None) -> list[str]:
    """``de, *; q=0`` / ``de,it`` -> ``["de"]`` / ``["de", "it"]`` (entries with q=0 dropped)."""
    found: list[str] = []
    for part in (value or "").split(","):
        tag, _, quality = part.strip().partition(";")
        tag = tag.strip()
        if not tag or quality.replace(" ", "") in ("q=0", "q=0.0"):
            continue
        found.append(tag)
    return found


def language_matches(wanted: str, actual: str | None) -> bool:
    if not actual:
        return False
    if wanted == "*":
        return True
    wanted, actual = wanted.lower(), actual.lower()
    return actual == wanted or actual.split("-")[0] == wanted or wanted.split("-")[0] == actual
