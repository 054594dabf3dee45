"""Semantic comparison of our bundles with the Microsoft FHIR-Converter expected bundles.

A resource is flattened to ``(path, value)`` leaves with list indices dropped; ids, ``meta``,
references (they point at hashed ids), Provenance narrative and request/fullUrl are ignored.
Each expected resource is paired with the resource of the same type that shares most leaves;
the score of a type is matched leaves / expected leaves. Leaves carrying the reference's
placeholder URLs (``http://example.com/v2-to-fhir-converter/...``) are excluded and counted
apart, because we deliberately never invent such systems (see deliberate_differences.md): a
coding whose ``system`` is such a URL, or an extension whose ``url`` is, is excluded
with all its content (a code in an invented system cannot be reproduced meaningfully).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
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
TARGET_TYPES = ("Patient", "Encounter", "Observation", "Condition", "AllergyIntolerance", "Immunization",
                "DiagnosticReport", "ServiceRequest")  # fmt: skip


def leaves(obj: Any, path: str = "") -> Iterator[tuple[str, str]]:
    invented = next((k for k in ("url", "system") if isinstance(obj, dict) and PLACEHOLDER in str(obj.get(k, ""))
                     and (k == "url" or "code" in obj)), None)  # fmt: skip
    if isinstance(obj, dict) and invented:
        # an extension or a coding in a system the reference invented: excluded with its content
        for leaf_path, _ in leaves({k: v for k, v in obj.items() if k != invented}, path):
            yield leaf_path, PLACEHOLDER
        yield f"{path}.{invented}" if path else invented, PLACEHOLDER
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if key not in IGNORED_KEYS:
                yield from leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(obj, list):
        for item in obj:
            yield from leaves(item, path)
    else:
        yield path, json.dumps(normalise(obj))


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


def score_type(exp: list[dict[str, Any]], got: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(matched, total, placeholder leaves excluded) for one resource type in one message."""
    matched = total = excluded = 0
    candidates = [Counter(leaves(r)) for r in got]
    for resource in exp:
        want = Counter(leaf for leaf in leaves(resource) if PLACEHOLDER not in leaf[1])
        excluded += sum(1 for leaf in leaves(resource) if PLACEHOLDER in leaf[1])
        total += sum(want.values())
        best = max((sum((want & have).values()) for have in candidates), default=0)
        matched += best
    return matched, total, excluded


def compare_all(names: list[str]) -> dict[str, tuple[int, int, int]]:
    registry = MappingRegistry()
    totals: dict[str, list[int]] = {}
    for name in names:
        got, exp = ours(name, registry), expected(name)
        for rtype in sorted({r["resourceType"] for r in exp}):
            m, t, x = score_type([r for r in exp if r["resourceType"] == rtype],
                                 [r for r in got if r["resourceType"] == rtype])  # fmt: skip
            acc = totals.setdefault(rtype, [0, 0, 0])
            acc[0] += m
            acc[1] += t
            acc[2] += x
    return {k: (v[0], v[1], v[2]) for k, v in sorted(totals.items())}


def missed(names: list[str], top: int = 8) -> dict[str, list[tuple[str, int]]]:
    """Per resource type, the expected leaf paths our best-matching resource lacks most often."""
    registry = MappingRegistry()
    counts: dict[str, Counter[str]] = {}
    for name in names:
        got = ours(name, registry)
        for resource in expected(name):
            rtype = resource["resourceType"]
            want = Counter(leaf for leaf in leaves(resource) if PLACEHOLDER not in leaf[1])
            candidates = [Counter(leaves(r)) for r in got if r["resourceType"] == rtype]
            best = max(candidates, key=lambda have: sum((want & have).values()), default=Counter())
            for (path, _), n in (want - best).items():
                counts.setdefault(rtype, Counter())[path] += n
    return {rtype: c.most_common(top) for rtype, c in sorted(counts.items())}


def missed_report(misses: dict[str, list[tuple[str, int]]]) -> str:
    lines = []
    for rtype, paths in misses.items():
        lines.append(f"{rtype}:")
        lines.extend(f"  {n:>4}  {path}" for path, n in paths)
    return "\n".join(lines)


def report(scores: dict[str, tuple[int, int, int]]) -> str:
    lines = [f"{'resource type':<22}{'matched':>9}{'expected':>10}{'%':>7}{'placeholder':>13}"]
    for rtype, (m, t, x) in scores.items():
        pct = 100.0 * m / t if t else 100.0
        mark = " *" if rtype in TARGET_TYPES else ""
        lines.append(f"{rtype:<22}{m:>9}{t:>10}{pct:>7.1f}{x:>13}{mark}")
    return "\n".join(lines)


if __name__ == "__main__":
    names = sorted(p.stem for p in (MS / "hl7v2").glob("*.hl7"))
    print(report(compare_all(names)))
    if "--missed" in sys.argv:
        print(missed_report(missed(names)))
