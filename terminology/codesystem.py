"""In-memory view of one CodeSystem version: concepts, hierarchy, properties, designations.

Built from the resource JSON (stored or passed inline as ``tx-resource``); no I/O. Stored code
systems are cached per row digest by the service, so a lookup is a dict access.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

INACTIVE_STATUSES = {"retired", "inactive"}
CONCEPT_PROPERTIES = "http://hl7.org/fhir/concept-properties#"
STANDARDS_STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"
SUPPLEMENT_EXT = "http://hl7.org/fhir/StructureDefinition/valueset-supplement"


@dataclass
class Concept:
    code: str
    display: str | None = None
    definition: str | None = None
    designations: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    extensions: list[dict[str, Any]] = field(default_factory=list)
    abstract_codes: tuple[str, ...] = ("notSelectable",)

    def prop_values(self, code: str) -> list[Any]:
        return [_prop_value(p) for p in self.properties if p.get("code") == code]

    @property
    def status(self) -> str | None:
        values = self.prop_values("status")
        if values:
            return str(values[0])
        for ext in self.extensions:
            if ext.get("url") == STANDARDS_STATUS and ext.get("valueCode"):
                return str(ext["valueCode"])
        return None

    @property
    def inactive(self) -> bool:
        if any(v is True for v in self.prop_values("inactive")):
            return True
        return (self.status or "").lower() in INACTIVE_STATUSES

    @property
    def deprecated(self) -> bool:
        return (self.status or "").lower() == "deprecated"

    @property
    def has_abstract_prop(self) -> bool:
        return any(p.get("code") in self.abstract_codes for p in self.properties)

    @property
    def abstract(self) -> bool:
        return any(v is True or str(v).lower() == "true" for c in self.abstract_codes for v in self.prop_values(c))


def _prop_value(prop: dict[str, Any]) -> Any:
    for key, value in prop.items():
        if key.startswith("value"):
            return value
    return None


def prop_value_key(prop: dict[str, Any]) -> str | None:
    for key in prop:
        if key.startswith("value"):
            return key
    return None


class CodeSystemIndex:
    """A parsed CodeSystem resource with fast code access and hierarchy navigation."""

    def __init__(self, resource: dict[str, Any]) -> None:
        self.resource = resource
        self.url: str = resource.get("url") or ""
        self.version: str | None = resource.get("version")
        self.name: str = resource.get("name") or resource.get("title") or self.url
        self.title: str | None = resource.get("title")
        self.content: str = resource.get("content") or "complete"
        self.case_sensitive: bool = bool(resource.get("caseSensitive", True))
        self.language: str | None = resource.get("language")
        self.supplements: str | None = resource.get("supplements")
        self.status: str | None = resource.get("status")
        self.experimental: bool = bool(resource.get("experimental", False))
        self.property_defs: dict[str, dict[str, Any]] = {
            p["code"]: p for p in resource.get("property", []) if isinstance(p, dict) and p.get("code")
        }
        self.concepts: dict[str, Concept] = {}
        self.roots: list[str] = []
        self._folded: dict[str, str] = {}
        self.abstract_codes = (
            "notSelectable",
            *(c for c, d in self.property_defs.items() if d.get("uri") == CONCEPT_PROPERTIES + "notSelectable"),
        )
        self._load(resource.get("concept", []), None)
        self._apply_parent_properties()

    def _load(self, items: list[dict[str, Any]], parent: str | None) -> None:
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("code"), str):
                continue
            concept = self._concept_from(item)
            concept.abstract_codes = self.abstract_codes
            if concept.code in self.concepts:
                continue
            self.concepts[concept.code] = concept
            self._folded.setdefault(concept.code.lower(), concept.code)
            if parent is None:
                self.roots.append(concept.code)
            else:
                concept.parents.append(parent)
                self.concepts[parent].children.append(concept.code)
            self._load(item.get("concept", []), concept.code)

    @staticmethod
    def _concept_from(item: dict[str, Any]) -> Concept:
        return Concept(
            code=item["code"],
            display=item.get("display"),
            definition=item.get("definition"),
            designations=list(item.get("designation", [])),
            properties=list(item.get("property", [])),
            extensions=list(item.get("extension", [])),
        )

    def _apply_parent_properties(self) -> None:
        """Concepts may declare parents with a ``parent`` property instead of nesting."""
        for concept in self.concepts.values():
            for parent in concept.prop_values("parent"):
                if isinstance(parent, str) and parent in self.concepts and parent not in concept.parents:
                    concept.parents.append(parent)
                    self.concepts[parent].children.append(concept.code)
                    if concept.code in self.roots:
                        self.roots.remove(concept.code)

    # -- access -----------------------------------------------------------------------------
    def get(self, code: str) -> Concept | None:
        concept = self.concepts.get(code)
        if concept is None and not self.case_sensitive:
            real = self._folded.get(code.lower())
            concept = self.concepts.get(real) if real else None
        return concept

    def __iter__(self) -> Iterator[Concept]:
        return iter(self.concepts.values())

    def __len__(self) -> int:
        return len(self.concepts)

    def descendants(self, code: str) -> list[str]:
        """Every code below ``code`` (depth first, no duplicates, guarded against cycles)."""
        seen: set[str] = set()
        order: list[str] = []
        stack = list(reversed(self.concepts[code].children)) if code in self.concepts else []
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            order.append(current)
            stack.extend(reversed(self.concepts[current].children))
        return order

    def ancestors(self, code: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.concepts[code].parents) if code in self.concepts else []
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.concepts[current].parents)
        return seen

    def subsumes(self, code_a: str, code_b: str) -> str:
        if code_a == code_b:
            return "equivalent"
        if code_a in self.ancestors(code_b):
            return "subsumes"
        if code_b in self.ancestors(code_a):
            return "subsumed-by"
        return "not-subsumed"

    def property_uri(self, code: str) -> str | None:
        known = self.property_defs.get(code, {}).get("uri")
        if known:
            return str(known)
        if code in {"status", "inactive", "notSelectable", "parent", "child", "definition", "deprecated"}:
            return CONCEPT_PROPERTIES + code
        return None

    def property_code_for_uri(self, uri: str) -> str | None:
        for code, definition in self.property_defs.items():
            if definition.get("uri") == uri:
                return code
        return None

    @property
    def canonical(self) -> str:
        return f"{self.url}|{self.version}" if self.version else self.url

    def apply_supplement(self, supplement: dict[str, Any]) -> None:
        """Merge designations and properties of a supplement CodeSystem into this (request-scoped) copy."""
        for code, definition in {p.get("code"): p for p in supplement.get("property", [])}.items():
            if code and code not in self.property_defs:
                self.property_defs[code] = definition
        source = supplement.get("url", "")
        if supplement.get("version"):
            source += f"|{supplement['version']}"
        for item in _flatten(supplement.get("concept", [])):
            concept = self.concepts.get(item.get("code", ""))
            if concept is None:
                continue
            extra = [{**d, "_source": source} for d in item.get("designation", [])]
            concept.designations = [*concept.designations, *extra]
            concept.properties = [*concept.properties, *item.get("property", [])]
            concept.extensions = [*concept.extensions, *item.get("extension", [])]


def _flatten(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        if isinstance(item, dict):
            yield item
            yield from _flatten(item.get("concept", []))


def version_key(version: str | None) -> tuple[Any, ...]:
    """Sort key for versions: numeric parts compare as numbers (1.10 > 1.9), dates sort naturally."""
    if not version:
        return ()
    parts: list[Any] = []
    for piece in version.replace("-", ".").split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)


def version_matches(pattern: str | None, version: str | None) -> bool:
    """FHIR version wildcards: ``1.x`` / ``1.*`` / ``1.0.x`` match by prefix of dotted parts."""
    if pattern is None:
        return True
    if version is None:
        return False
    if pattern == version:
        return True
    pat = pattern.split(".")
    if not any(p in ("x", "*", "X") for p in pat):
        return False
    ver = version.split(".")
    if len(ver) < len(pat):
        return False
    return all(p in ("x", "*", "X") or p == v for p, v in zip(pat, ver, strict=False))
