"""ValueSet expansion and membership: compose include/exclude, filters, imports, hierarchy.

Pure logic over a :class:`Resolver` (which finds code systems and value sets by canonical);
no I/O of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from terminology.codesystem import CodeSystemIndex, Concept, version_key, version_matches
from terminology.errors import TxError, invalid

MAX_REGEX_LENGTH = 200
# a quantified group that itself contains a quantifier or an alternation, or a backreference: these can
# backtrack catastrophically, and Python's re has no timeout
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}?|](?:[^()\\]|\\.)*\)\s*[+*{]|\\[1-9]|\(\?[=!<]")
SUPPORTED_OPS = {
    "=",
    "is-a",
    "descendent-of",
    "is-not-a",
    "regex",
    "in",
    "not-in",
    "generalizes",
    "child-of",
    "descendent-leaf",
    "exists",
}


class Resolver(Protocol):
    def code_system(self, url: str, version: str | None = None) -> CodeSystemIndex | None: ...

    def code_system_versions(self, url: str) -> list[str]: ...

    def value_set(self, url: str, version: str | None = None) -> dict[str, Any] | None: ...


@dataclass
class ExpandOptions:
    active_only: bool = False
    include_designations: bool = False
    include_definition: bool = False
    exclude_nested: bool = True
    properties: list[str] = field(default_factory=list)
    display_language: str | None = None
    designations: list[str] = field(default_factory=list)
    system_version: dict[str, str] = field(default_factory=dict)
    check_system_version: dict[str, str] = field(default_factory=dict)
    force_system_version: dict[str, str] = field(default_factory=dict)
    default_vs_version: dict[str, str] = field(default_factory=dict)
    limit: int = 10000
    text_filter: str | None = None
    strict_checks: bool = True


@dataclass
class Entry:
    system: str
    version: str | None
    code: str
    display: str | None
    concept: Concept | None
    cs: CodeSystemIndex | None
    vs_designations: list[dict[str, Any]] = field(default_factory=list)
    vs_extensions: list[dict[str, Any]] = field(default_factory=list)
    show_version: bool = False
    nestable: bool = True
    pinned: bool = False
    include_version: str | None = None
    original_version: str | None = None
    contains: list[Entry] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.system, self.code)

    @property
    def inactive(self) -> bool:
        return bool(self.concept and self.concept.inactive)

    @property
    def abstract(self) -> bool:
        return bool(self.concept and self.concept.abstract)


@dataclass
class Expansion:
    entries: dict[tuple[str, str], Entry]
    used: dict[str, CodeSystemIndex]
    used_vs: list[str]
    warnings: list[dict[str, Any]]
    hierarchical: bool = False
    applied: list[tuple[str, str]] = field(default_factory=list)


def check_regex(pattern: str) -> re.Pattern[str]:
    """Compile a filter regex, refusing patterns that can backtrack catastrophically."""
    if len(pattern) > MAX_REGEX_LENGTH or _NESTED_QUANTIFIER.search(pattern):
        raise invalid(
            f"The regex '{pattern[:80]}' is too long or too complex to evaluate safely",
            message_id="GW-3010",
            tx_type="vs-invalid",
            issue_code="too-costly",
        )
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise invalid(
            f"The regex '{pattern[:80]}' is not valid: {exc}", message_id="GW-3011", tx_type="vs-invalid"
        ) from None


def canonical(resource: dict[str, Any]) -> str:
    url = resource.get("url") or ""
    return f"{url}|{resource['version']}" if resource.get("version") else url


class Expander:
    def __init__(self, resolver: Resolver, options: ExpandOptions) -> None:
        self.resolver = resolver
        self.options = options
        self.used: dict[str, CodeSystemIndex] = {}
        self.used_vs: list[str] = []
        self.warnings: list[dict[str, Any]] = []
        self.check_failures: list[TxError] = []
        self.applied: dict[tuple[str, str], None] = {}
        self.only: set[str] | None = None  # restrict to these codes (membership checks)
        self.prefiltered: set[str] = set()  # systems already narrowed by the store's word index

    # -- entry point ---------------------------------------------------------------------------
    def expand(self, vs: dict[str, Any]) -> Expansion:
        entries = self._value_set(vs, [])
        if self.options.active_only:
            entries = {k: e for k, e in entries.items() if not e.inactive}
        return Expansion(entries, self.used, self.used_vs, self.warnings, applied=list(self.applied))

    def _value_set(self, vs: dict[str, Any], stack: list[str]) -> dict[tuple[str, str], Entry]:
        name = canonical(vs)
        if name in stack:
            raise TxError(
                "GW-3020",
                f"Cyclic reference detected when expanding {stack[0]} via {[*stack, name]}",
                issue_code="processing",
                tx_type="vs-invalid",
                message_id="VALUESET_CIRCULAR_REFERENCE",
            )
        stack = [*stack, name]
        compose = vs.get("compose")
        if not isinstance(compose, dict):
            if isinstance(vs.get("expansion"), dict):
                return self._from_expansion(vs["expansion"])
            raise invalid(
                f"The value set {name} has no compose and no expansion",
                tx_type="vs-invalid",
                message_id="VS_NO_COMPOSE",
            )
        result: dict[tuple[str, str], Entry] = {}
        for index, include in enumerate(compose.get("include", [])):
            for entry in self._include(include, stack, f"ValueSet.compose.include[{index}]"):
                result.setdefault(entry.key, entry)
        for index, exclude in enumerate(compose.get("exclude", [])):
            for entry in self._include(exclude, stack, f"ValueSet.compose.exclude[{index}]"):
                result.pop(entry.key, None)
        if compose.get("inactive") is False:
            result = {k: e for k, e in result.items() if not e.inactive}
        return result

    def _from_expansion(self, expansion: dict[str, Any]) -> dict[tuple[str, str], Entry]:
        result: dict[tuple[str, str], Entry] = {}
        stack = list(expansion.get("contains", []))
        while stack:
            item = stack.pop(0)
            if item.get("code") and item.get("system"):
                cs = self.resolver.code_system(item["system"], item.get("version"))
                concept = cs.get(item["code"]) if cs else None
                result[(item["system"], item["code"])] = Entry(
                    item["system"], item.get("version"), item["code"], item.get("display"), concept, cs
                )
            stack.extend(item.get("contains", []))
        return result

    # -- one include/exclude -----------------------------------------------------------------
    def _include(self, include: dict[str, Any], stack: list[str], path: str) -> list[Entry]:
        sets: list[dict[tuple[str, str], Entry]] = []
        for ref in include.get("valueSet", []):
            sets.append(self._imported(ref, stack))
        system = include.get("system")
        if system:
            sets.append(self._system_part(include, system, path))
        if not sets:
            return []
        first, *rest = sets
        return [e for k, e in first.items() if all(k in other for other in rest)]

    def _imported(self, ref: str, stack: list[str]) -> dict[tuple[str, str], Entry]:
        url, _, version = ref.partition("|")
        vs = self.resolver.value_set(url, version or self.options.default_vs_version.get(url))
        if vs is None:
            raise TxError(
                "GW-3404",
                f"A definition for the value Set '{ref}' could not be found",
                status=404,
                issue_code="not-found",
                tx_type="not-found",
                message_id="Unable_to_resolve_value_Set_",
            )
        self.used_vs.append(canonical(vs))
        return self._value_set(vs, stack)

    def resolve_system(self, system: str, version: str | None) -> CodeSystemIndex:
        opts = self.options
        if system in opts.force_system_version:
            version = opts.force_system_version[system]
            self.applied[("force-system-version", f"{system}|{version}")] = None
        elif version is None and system in opts.system_version:
            version = opts.system_version[system]
            self.applied[("system-version", f"{system}|{version}")] = None
        check = opts.check_system_version.get(system)
        if check and version is None:
            self.applied[("check-system-version", f"{system}|{check}")] = None
            both = [
                v
                for v in self.resolver.code_system_versions(system)
                if version_matches(check, v) and version_matches(version, v)
            ]
            version = max(both, key=version_key) if both else version
        cs = self.resolver.code_system(system, version)
        if cs is None:
            raise unknown_system(system, version, self.resolver.code_system_versions(system))
        if check and not version_matches(check, cs.version):
            failure = TxError(
                "GW-3030",
                f"The version '{cs.version}' is not allowed for system '{system}': required "
                f"to be '{check}' by a version-check parameter",
                issue_code="exception",
                tx_type="version-error",
                message_id="VALUESET_VERSION_CHECK",
            )
            if opts.strict_checks:
                raise failure
        self.used[cs.canonical] = cs
        return cs

    def _system_part(self, include: dict[str, Any], system: str, path: str) -> dict[tuple[str, str], Entry]:
        cs = self.resolve_system(system, include.get("version"))
        pinned = bool(include.get("version")) or system in self.options.force_system_version
        result = self._system_entries(cs, include, path)
        for entry in result.values():
            entry.pinned = pinned
            entry.include_version = self.options.force_system_version.get(system) or include.get("version")
            entry.original_version = include.get("version")
        return result

    def _system_entries(self, cs: CodeSystemIndex, include: dict[str, Any], path: str) -> dict[tuple[str, str], Entry]:
        if include.get("concept"):
            return self._enumerated(cs, include["concept"])
        predicates = [self._filter(cs, f, f"{path}.filter[{i}]") for i, f in enumerate(include.get("filter", []))]
        result: dict[tuple[str, str], Entry] = {}
        for concept in self._candidates(cs):
            if all(pred(concept) for pred in predicates):
                result[(cs.url, concept.code)] = self._entry(cs, concept)
        return result

    def _candidates(self, cs: CodeSystemIndex) -> Iterable[Concept]:
        """All concepts, or only those that can matter (codes being validated, text-search hits)."""
        if self.only is not None:
            found = (cs.get(code) for code in self.only)
            return [c for c in found if c is not None]
        search = getattr(self.resolver, "search_codes", None)
        if self.options.text_filter and search is not None:
            codes = search(cs, self.options.text_filter)
            if codes is not None:
                self.prefiltered.add(cs.url)
                return [c for c in (cs.concepts.get(code) for code in codes) if c is not None]
        return cs

    def _enumerated(self, cs: CodeSystemIndex, items: list[dict[str, Any]]) -> dict[tuple[str, str], Entry]:
        result: dict[tuple[str, str], Entry] = {}
        for item in items:
            concept = cs.get(str(item.get("code", "")))
            if concept is None:
                continue
            entry = self._entry(cs, concept)
            if item.get("display"):
                entry.display = item["display"]
            entry.vs_designations = list(item.get("designation", []))
            entry.vs_extensions = list(item.get("extension", []))
            entry.nestable = False
            result[(cs.url, concept.code)] = entry
        return result

    @staticmethod
    def _entry(cs: CodeSystemIndex, concept: Concept) -> Entry:
        return Entry(cs.url, cs.version, concept.code, concept.display, concept, cs)

    # -- filters ---------------------------------------------------------------------------------
    def _filter(self, cs: CodeSystemIndex, flt: dict[str, Any], path: str) -> Callable[[Concept], bool]:
        prop, op, value = flt.get("property"), flt.get("op"), flt.get("value")
        if value is None or value == "":
            raise invalid(
                f"The system {cs.url} filter with property = {prop}, op = {op} has no value",
                tx_type="vs-invalid",
                message_id="UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE",
                expression=[path],
            )
        if op not in SUPPORTED_OPS or not isinstance(prop, str):
            raise TxError(
                "GW-3012",
                f"The filter '{prop} {op} {value}' is not supported for {cs.url}",
                issue_code="not-supported",
                tx_type="vs-invalid",
                message_id="FILTER_NOT_UNDERSTOOD",
                expression=[path],
            )
        value = str(value)
        if prop in ("concept", "code") and op != "regex":
            return self._hierarchy_filter(cs, op, value, path)
        return self._property_filter(cs, prop, op, value, path)

    def _hierarchy_filter(self, cs: CodeSystemIndex, op: str, value: str, path: str) -> Callable[[Concept], bool]:
        if op in ("in", "not-in"):
            codes = {v.strip() for v in value.split(",")}
            return (lambda c: c.code in codes) if op == "in" else (lambda c: c.code not in codes)
        if op == "=":
            return lambda c: c.code == value
        if op == "exists":
            return lambda c: True
        base = cs.get(value)
        root = base.code if base else value
        below = set(cs.descendants(root)) if base else set()
        if op == "is-a":
            return lambda c: c.code == root or c.code in below
        if op == "descendent-of":
            return lambda c: c.code in below
        if op == "is-not-a":
            return lambda c: c.code != root and c.code not in below
        if op == "child-of":
            kids = set(base.children) if base else set()
            return lambda c: c.code in kids
        if op == "descendent-leaf":
            return lambda c: c.code in below and not c.children
        if op == "generalizes":
            above = cs.ancestors(root) | {root}
            return lambda c: c.code in above
        raise TxError(
            "GW-3012",
            f"The filter 'concept {op}' is not supported",
            issue_code="not-supported",
            tx_type="vs-invalid",
            message_id="FILTER_NOT_UNDERSTOOD",
            expression=[path],
        )

    def _property_filter(
        self, cs: CodeSystemIndex, prop: str, op: str, value: str, path: str
    ) -> Callable[[Concept], bool]:
        getter = _property_getter(cs, prop, path)
        if op == "regex":
            pattern = check_regex(value)
            return lambda c: any(pattern.fullmatch(v) for v in getter(c))
        if op == "=":
            return lambda c: any(v == value for v in getter(c))
        if op in ("in", "not-in"):
            allowed = {v.strip() for v in value.split(",")}
            if op == "in":
                return lambda c: any(v in allowed for v in getter(c))
            return lambda c: not any(v in allowed for v in getter(c))
        if op == "exists":
            wanted = value.lower() == "true"
            return lambda c: bool(getter(c)) == wanted
        raise TxError(
            "GW-3012",
            f"The filter '{prop} {op}' is not supported for {cs.url}",
            issue_code="not-supported",
            tx_type="vs-invalid",
            message_id="FILTER_NOT_UNDERSTOOD",
            expression=[path],
        )


def _is_wildcard(version: str) -> bool:
    return any(p in ("x", "X", "*") for p in version.split("."))


def _is_bool(value: str) -> bool:
    return value.lower() in ("true", "false")


def _property_getter(cs: CodeSystemIndex, prop: str, path: str) -> Callable[[Concept], list[str]]:
    if prop in ("code", "concept"):
        return lambda c: [c.code]
    if prop == "display":
        return lambda c: [c.display] if c.display else []
    if prop == "definition":
        return lambda c: [c.definition] if c.definition else []
    if prop == "inactive":
        return lambda c: ["true" if c.inactive else "false"]
    if prop == "notSelectable" and prop not in cs.property_defs:
        return lambda c: ["true" if c.abstract else "false"] if c.has_abstract_prop else []
    if prop == "parent":
        return lambda c: list(c.parents)
    if prop == "child":
        return lambda c: list(c.children)
    if prop not in cs.property_defs and prop not in ("status",):
        code = cs.property_code_for_uri(prop)
        if code is None:
            raise TxError(
                "GW-3013",
                f"The property '{prop}' is not defined by the code system {cs.url}",
                issue_code="not-supported",
                tx_type="vs-invalid",
                message_id="FILTER_PROPERTY_UNKNOWN",
                expression=[path],
            )
        prop = code
    return lambda c: [_str(v) for v in c.prop_values(prop) if v is not None]


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("code", ""))
    return str(value)


def unknown_system(system: str, version: str | None, known: Iterable[str]) -> TxError:
    versions = sorted(v for v in known if v)
    if version and versions:
        text = (
            f"A definition for CodeSystem '{system}' version '{version}' could not be found, so the code "
            f"cannot be validated. Valid versions: {' or '.join(versions)}"
        )
        mid = "UNKNOWN_CODESYSTEM_VERSION"
    elif version:
        text = (
            f"A definition for CodeSystem '{system}' version '{version}' could not be found, so the code cannot be "
            f"validated. No versions of this code system are known"
        )
        mid = "UNKNOWN_CODESYSTEM_VERSION_NONE"
    else:
        text = f"A definition for CodeSystem '{system}' could not be found, so the code cannot be validated"
        mid = "UNKNOWN_CODESYSTEM"
    err = TxError(
        "GW-3404", text, status=404, issue_code="not-found", tx_type="not-found", message_id=mid, expression=["system"]
    )
    err.system, err.version = system, version  # type: ignore[attr-defined]
    return err


def nest(entries: list[Entry]) -> list[Entry]:
    """Arrange entries as a tree following the code systems' hierarchy (only within the set)."""
    present = {e.key: e for e in entries}
    roots: list[Entry] = []
    for entry in entries:
        parent = _first_present_parent(entry, present) if entry.nestable else None
        if parent is None:
            roots.append(entry)
        else:
            parent.contains.append(entry)
    return roots


def _first_present_parent(entry: Entry, present: dict[tuple[str, str], Entry]) -> Entry | None:
    if entry.concept is None:
        return None
    for parent in entry.concept.parents:
        found = present.get((entry.system, parent))
        if found is not None and found.nestable:
            return found
    return None
