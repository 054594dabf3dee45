"""Semantic comparison of our bundles with the Microsoft FHIR-Converter expected bundles.

A resource is flattened to ``(path, value)`` leaves with list indices dropped; ids, ``meta``,
references (they point at hashed ids), Provenance narrative and request/fullUrl are ignored.
Each expected resource is paired with the resource of the same type that shares most leaves;
the score of a type is matched leaves / expected leaves. Leaves carrying the reference's
placeholder URLs (``http://example.com/v2-to-fhir-converter/...``) are excluded and counted
apart, because we deliberately never invent such systems (see deliberate_differences.md): a
coding whose ``system`` is such a URL, or an extension whose ``url`` is, is excluded
with all its content (a code in an invented system cannot be reproduced meaningfully).

Differences we make on purpose for another documented reason are rules in
``tests/hl7v2/deliberate/<ResourceType>.toml`` (format in that folder's README): the leaves they
name are excluded too and counted apart, per rule, so every exclusion is visible in the report.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.base import MapContext
from adapters.hl7v2.codec import Hl7v2Codec
from adapters.hl7v2.mapper import Hl7v2Mapper
from mappings.registry import MappingRegistry
from tests.helpers import SHARED

MS = SHARED / "hl7v2-samples/ms-fhir-converter"
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")
IGNORED_KEYS = frozenset({"id", "meta", "reference", "fullUrl", "request", "div"})
PLACEHOLDER = "example.com/v2-to-fhir-converter"
DELIBERATE = "\x00deliberate"
RULES_DIR = Path(__file__).with_name("deliberate")
TARGET_TYPES = ("Patient", "Encounter", "Observation", "Condition", "AllergyIntolerance", "Immunization",
                "DiagnosticReport", "ServiceRequest")  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One deliberate difference: a subtree (a dict holding all of ``subtree``'s key/values) or a leaf path."""

    resource: str
    reason: str
    item: int
    subtree: tuple[tuple[str, str], ...] = ()
    path: str = ""
    value: str | None = None

    def matches_dict(self, obj: dict[str, Any]) -> bool:
        return bool(self.subtree) and all(obj.get(k) == v for k, v in self.subtree)

    def matches_leaf(self, path: str, value: str) -> bool:
        return path == self.path and (self.value is None or value == json.dumps(self.value))


def load_rules(folder: Path = RULES_DIR) -> dict[str, list[Rule]]:
    """The rules of ``deliberate/*.toml``, per resource type (the file name); malformed rules raise."""
    rules: dict[str, list[Rule]] = {}
    for file in sorted(folder.glob("*.toml")):
        for raw in tomllib.loads(file.read_text(encoding="utf-8")).get("rule", []):
            if not raw.get("reason") or not isinstance(raw.get("item"), int):
                raise ValueError(f"{file.name}: every rule needs a reason and the item number it documents")
            if bool(raw.get("subtree")) == bool(raw.get("path")):
                raise ValueError(f"{file.name}: a rule names either a subtree or a path ({raw['reason']!r})")
            subtree = tuple(sorted((raw.get("subtree") or {}).items()))
            rule = Rule(file.stem, raw["reason"], raw["item"], subtree, raw.get("path", ""), raw.get("value"))
            rules.setdefault(file.stem, []).append(rule)
    return rules


def leaves(obj: Any, path: str = "", rules: tuple[Rule, ...] = ()) -> Iterator[tuple[str, str]]:
    invented = next((k for k in ("url", "system") if isinstance(obj, dict) and PLACEHOLDER in str(obj.get(k, ""))
                     and (k == "url" or "code" in obj)), None)  # fmt: skip
    if isinstance(obj, dict) and invented:
        # an extension or a coding in a system the reference invented: excluded with its content
        for leaf_path, _ in leaves({k: v for k, v in obj.items() if k != invented}, path):
            yield leaf_path, PLACEHOLDER
        yield f"{path}.{invented}" if path else invented, PLACEHOLDER
    elif isinstance(obj, dict) and any(r.matches_dict(obj) for r in rules):
        for leaf_path, _ in leaves(obj, path):
            yield leaf_path, DELIBERATE
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if key not in IGNORED_KEYS:
                yield from leaves(value, f"{path}.{key}" if path else key, rules)
    elif isinstance(obj, list):
        for item in obj:
            yield from leaves(item, path, rules)
    else:
        value = json.dumps(normalise(obj))
        yield path, DELIBERATE if any(r.matches_leaf(path, value) for r in rules) else value


def counted(leaf: tuple[str, str]) -> bool:
    """A leaf is scored unless it is deliberate or holds a placeholder (also as a value: invented systems)."""
    return PLACEHOLDER not in leaf[1] and leaf[1] != DELIBERATE


def normalise(value: Any) -> Any:
    """A dateTime with an offset is compared as its UTC instant (the reference re-zones them)."""
    if isinstance(value, str) and DATETIME.match(value):
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC).isoformat()
    return value


def ours(name: str, registry: MappingRegistry) -> list[dict[str, Any]]:
    raw = (MS / "hl7v2" / f"{name}.hl7").read_bytes()
    ctx = MapContext(mappings=registry, settings={"timezone": "Asia/Jakarta"})
    bundle = Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw), ctx)
    data = bundle.model_dump(mode="json", exclude_none=True, by_alias=True)
    return [e["resource"] for e in data["entry"]]


def expected(name: str) -> list[dict[str, Any]]:
    data = json.loads((MS / "expected-fhir" / f"{name}-expected.json").read_text(encoding="utf-8"))
    return [e["resource"] for e in data["entry"]]


def score_type(exp: list[dict[str, Any]], got: list[dict[str, Any]], rules: tuple[Rule, ...] = ()) -> tuple[int, ...]:
    """(matched, total, placeholder leaves, deliberate leaves) for one resource type in one message."""
    matched = total = excluded = deliberate = 0
    candidates = [Counter(leaves(r)) for r in got]
    for resource in exp:
        all_leaves = list(leaves(resource, rules=rules))
        want = Counter(leaf for leaf in all_leaves if counted(leaf))
        excluded += sum(1 for leaf in all_leaves if PLACEHOLDER in leaf[1])
        deliberate += sum(1 for leaf in all_leaves if leaf[1] == DELIBERATE)
        total += sum(want.values())
        matched += max((sum((want & have).values()) for have in candidates), default=0)
    return matched, total, excluded, deliberate


def compare_all(names: list[str]) -> dict[str, tuple[int, ...]]:
    registry, rules = MappingRegistry(), load_rules()
    totals: dict[str, list[int]] = {}
    for name in names:
        got, exp = ours(name, registry), expected(name)
        for rtype in sorted({r["resourceType"] for r in exp}):
            of_type = [r for r in got if r["resourceType"] == rtype]
            scores = score_type([r for r in exp if r["resourceType"] == rtype], of_type, tuple(rules.get(rtype, ())))
            acc = totals.setdefault(rtype, [0, 0, 0, 0])
            for i, n in enumerate(scores):
                acc[i] += n
    return {k: tuple(v) for k, v in sorted(totals.items())}


def best_match(resource: dict[str, Any], got: list[dict[str, Any]], rules: tuple[Rule, ...]) -> tuple[Counter, Counter]:
    """(the expected resource's counted leaves, the leaves of our resource of its type that shares most)."""
    want = Counter(leaf for leaf in leaves(resource, rules=rules) if counted(leaf))
    candidates = [Counter(leaves(r)) for r in got if r["resourceType"] == resource["resourceType"]]
    best = max(candidates, key=lambda have: sum((want & have).values()), default=Counter())
    return want, best


def missed(names: list[str], top: int = 8) -> dict[str, list[tuple[str, int]]]:
    """Per resource type, the expected leaf paths our best-matching resource lacks most often."""
    registry, rules = MappingRegistry(), load_rules()
    counts: dict[str, Counter[str]] = {}
    for name in names:
        got = ours(name, registry)
        for resource in expected(name):
            rtype = resource["resourceType"]
            want, best = best_match(resource, got, tuple(rules.get(rtype, ())))
            for (path, _), n in (want - best).items():
                counts.setdefault(rtype, Counter())[path] += n
    return {rtype: c.most_common(top) for rtype, c in sorted(counts.items())}


def diff(name: str, rtype: str) -> str:
    """For one message and type: per expected resource, the leaves we miss (-) and the ones we add (+)."""
    rules = tuple(load_rules().get(rtype, ()))
    got = ours(name, MappingRegistry())
    lines = []
    for i, resource in enumerate(r for r in expected(name) if r["resourceType"] == rtype):
        want, best = best_match(resource, got, rules)
        lines.append(f"--- expected {rtype} #{i + 1}")
        lines.extend(f"  - {path} = {value}" for (path, value), _ in sorted((want - best).items()))
        lines.extend(f"  + {path} = {value}" for (path, value), _ in sorted((best - want).items()))
    return "\n".join(lines)


def deliberate_report(names: list[str]) -> str:
    """How many expected leaves each deliberate rule excludes, over the given messages."""
    every = [rule for per_type in load_rules().values() for rule in per_type]
    hits = [0] * len(every)
    for name in names:
        for resource in expected(name):
            for i, rule in enumerate(every):
                if rule.resource == resource["resourceType"]:
                    hits[i] += sum(1 for leaf in leaves(resource, rules=(rule,)) if leaf[1] == DELIBERATE)
    ranked = sorted(zip(hits, every, strict=True), key=lambda pair: -pair[0])
    return "\n".join(f"{n:>5}  {r.resource} #{r.item}: {r.reason}" for n, r in ranked)


def missed_report(misses: dict[str, list[tuple[str, int]]]) -> str:
    lines = []
    for rtype, paths in misses.items():
        lines.append(f"{rtype}:")
        lines.extend(f"  {n:>4}  {path}" for path, n in paths)
    return "\n".join(lines)


def report(scores: dict[str, tuple[int, ...]]) -> str:
    lines = [f"{'resource type':<22}{'matched':>9}{'expected':>10}{'%':>7}{'placeholder':>13}{'deliberate':>12}"]
    for rtype, (m, t, x, d) in scores.items():
        pct = 100.0 * m / t if t else 100.0
        mark = " *" if rtype in TARGET_TYPES else ""
        lines.append(f"{rtype:<22}{m:>9}{t:>10}{pct:>7.1f}{x:>13}{d:>12}{mark}")
    return "\n".join(lines)


if __name__ == "__main__":
    names = sorted(p.stem for p in (MS / "hl7v2").glob("*.hl7"))
    if "--diff" in sys.argv:
        at = sys.argv.index("--diff")
        print(diff(sys.argv[at + 1], sys.argv[at + 2]))
        sys.exit(0)
    print(report(compare_all(names)))
    if "--missed" in sys.argv:
        print(missed_report(missed(names)))
    if "--deliberate" in sys.argv:
        print(deliberate_report(names))
