"""Structural checks of terminology resources before the engine touches them (malformed input -> 400)."""

from __future__ import annotations

from typing import Any

from terminology.errors import invalid

# element -> (kind, children): "objects" = array of objects, "strings" = array of strings, "object" = object
SHAPES: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
_CONCEPT: dict[str, tuple[str, dict[str, Any]]] = {
    "property": ("objects", {}),
    "designation": ("objects", {"use": ("object", {})}),
    "extension": ("objects", {}),
}
_CONCEPT["concept"] = ("objects", _CONCEPT)
SHAPES["CodeSystem"] = {"concept": ("objects", _CONCEPT), "property": ("objects", {}), "filter": ("objects", {})}
_INCLUDE: dict[str, tuple[str, dict[str, Any]]] = {
    "concept": ("objects", {"designation": ("objects", {}), "extension": ("objects", {})}),
    "filter": ("objects", {}),
    "valueSet": ("strings", {}),
}
SHAPES["ValueSet"] = {
    "compose": (
        "object",
        {"include": ("objects", _INCLUDE), "exclude": ("objects", _INCLUDE), "extension": ("objects", {})},
    ),
    "expansion": ("object", {"contains": ("objects", {})}),
    "contained": ("objects", {}),
    "extension": ("objects", {}),
}
_TARGET: dict[str, tuple[str, dict[str, Any]]] = {"dependsOn": ("objects", {}), "product": ("objects", {})}
SHAPES["ConceptMap"] = {
    "group": ("objects", {"element": ("objects", {"target": ("objects", _TARGET)}), "unmapped": ("object", {})}),
}
STRINGS = (
    "url",
    "version",
    "code",
    "system",
    "name",
    "title",
    "status",
    "display",
    "content",
    "supplements",
    "language",
    "publisher",
    "date",
    "definition",
    "id",
)
BOOLEANS = ("caseSensitive", "experimental", "inactive")


def check_shape(resource: dict[str, Any]) -> dict[str, Any]:
    """Raise a 400 TxError when arrays/objects/strings are not where FHIR puts them."""
    kind = resource.get("resourceType")
    if kind in SHAPES:
        _check(resource, SHAPES[str(kind)], str(kind))
    return resource


def _check(node: dict[str, Any], shape: dict[str, tuple[str, dict[str, Any]]], path: str) -> None:
    for key in STRINGS:
        if key in node and node[key] is not None and not isinstance(node[key], str):
            raise invalid(f"{path}.{key} must be a string", message_id="GW-3009", expression=[f"{path}.{key}"])
    for key in BOOLEANS:
        if key in node and not isinstance(node[key], bool):
            raise invalid(f"{path}.{key} must be a boolean", message_id="GW-3009", expression=[f"{path}.{key}"])
    for key, (kind, children) in shape.items():
        if key not in node:
            continue
        value = node[key]
        where = f"{path}.{key}"
        if kind == "object":
            if not isinstance(value, dict):
                raise invalid(f"{where} must be an object", message_id="GW-3009", expression=[where])
            _check(value, children, where)
        elif kind == "strings":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise invalid(f"{where} must be an array of strings", message_id="GW-3009", expression=[where])
        else:
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise invalid(f"{where} must be an array of objects", message_id="GW-3009", expression=[where])
            for index, item in enumerate(value):
                _check(item, children, f"{where}[{index}]")
