"""Engine-level tests (no HTTP, no DB): translate variants and Hypothesis invariants of expansion."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from terminology import operations
from terminology.params import Params
from terminology.workspace import Workspace

SRC, DST = "urn:test:src", "urn:test:dst"
CM: dict[str, Any] = {
    "resourceType": "ConceptMap",
    "url": "urn:test:map",
    "version": "1",
    "sourceUri": "urn:test:vs-src",
    "targetUri": "urn:test:vs-dst",
    "group": [
        {
            "source": SRC,
            "target": DST,
            "element": [
                {"code": "a", "target": [{"code": "A", "equivalence": "equivalent"}]},
                {
                    "code": "b",
                    "target": [
                        {
                            "code": "B1",
                            "equivalence": "narrower",
                            "dependsOn": [{"property": "urn:test:sex", "value": "F"}],
                        },
                        {"code": "B2", "equivalence": "disjoint"},
                    ],
                },
            ],
            "unmapped": {"mode": "fixed", "code": "UNK", "display": "Unknown"},
        }
    ],
}


def translate(*params: dict[str, Any], maps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    ws = Workspace(None, maps if maps is not None else [CM])
    return operations.translate(ws, Params(list(params)))


def matches(result: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for p in result["parameter"]:
        if p["name"] == "match":
            parts = {x["name"]: x for x in p["part"]}
            found.append((parts["concept"]["valueCoding"]["code"], parts["equivalence"]["valueCode"]))
    return sorted(found)


def test_forward_reverse_unmapped_and_scope() -> None:
    res = translate({"name": "system", "valueUri": SRC}, {"name": "code", "valueCode": "a"})
    assert matches(res) == [("A", "equivalent")] and res["parameter"][0] == {"name": "result", "valueBoolean": True}
    rev = translate(
        {"name": "system", "valueUri": DST},
        {"name": "code", "valueCode": "A"},
        {"name": "reverse", "valueBoolean": True},
    )
    assert matches(rev) == [("a", "equivalent")]
    unmapped = translate({"name": "system", "valueUri": SRC}, {"name": "code", "valueCode": "zzz"})
    assert matches(unmapped) == [("UNK", "inexact")]
    other_scope = translate(
        {"name": "system", "valueUri": SRC},
        {"name": "code", "valueCode": "a"},
        {"name": "target", "valueUri": "urn:test:other-vs"},
    )
    assert matches(other_scope) == [] and other_scope["parameter"][0]["valueBoolean"] is False


def test_depends_on_and_disjoint_only() -> None:
    dep = {
        "name": "dependency",
        "part": [
            {"name": "element", "valueUri": "urn:test:sex"},
            {"name": "concept", "valueCodeableConcept": {"coding": [{"code": "F"}]}},
        ],
    }
    with_dep = translate({"name": "system", "valueUri": SRC}, {"name": "code", "valueCode": "b"}, dep)
    assert matches(with_dep) == [("B1", "narrower"), ("B2", "disjoint")]
    wrong = {**dep, "part": [dep["part"][0], {"name": "concept", "valueCodeableConcept": {"coding": [{"code": "M"}]}}]}
    only_disjoint = translate({"name": "system", "valueUri": SRC}, {"name": "code", "valueCode": "b"}, wrong)
    assert matches(only_disjoint) == [("B2", "disjoint")]
    assert only_disjoint["parameter"][0] == {"name": "result", "valueBoolean": False}


def test_latest_map_version_wins() -> None:
    newer = {
        **CM,
        "version": "2",
        "group": [
            {**CM["group"][0], "element": [{"code": "a", "target": [{"code": "A2", "equivalence": "equivalent"}]}]}
        ],
    }
    res = translate({"name": "system", "valueUri": SRC}, {"name": "code", "valueCode": "a"}, maps=[CM, newer])
    assert matches(res) == [("A2", "equivalent")]


# -- Hypothesis: random hierarchies ------------------------------------------------------------------
@st.composite
def hierarchies(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.integers(min_value=1, max_value=25))
    parents = [None] + [draw(st.none() | st.integers(min_value=0, max_value=i - 1)) for i in range(1, size)]
    nodes: list[dict[str, Any]] = [{"code": f"c{i}", "display": f"Concept {i}"} for i in range(size)]
    roots = []
    for i, parent in enumerate(parents):
        if parent is None:
            roots.append(nodes[i])
        else:
            nodes[parent].setdefault("concept", []).append(nodes[i])
    return {
        "resourceType": "CodeSystem",
        "url": "urn:test:h",
        "version": "1",
        "content": "complete",
        "status": "active",
        "concept": roots,
    }


def _codes(expansion: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    stack = list(expansion["expansion"].get("contains", []))
    while stack:
        item = stack.pop()
        found.add(item["code"])
        stack.extend(item.get("contains", []))
    return found


@given(hierarchies(), st.data())
def test_is_a_expansion_matches_subsumption(cs: dict[str, Any], data: st.DataObject) -> None:
    ws = Workspace(None, [cs])
    index = ws.code_system("urn:test:h")
    assert index is not None
    root = data.draw(st.sampled_from(sorted(index.concepts)))
    vs = {
        "resourceType": "ValueSet",
        "url": "urn:test:vs",
        "status": "active",
        "compose": {
            "include": [{"system": "urn:test:h", "filter": [{"property": "concept", "op": "is-a", "value": root}]}]
        },
    }
    ws.add(vs)
    expanded = _codes(operations.expand(ws, Params([{"name": "url", "valueUri": "urn:test:vs"}])))
    expected = {c for c in index.concepts if index.subsumes(root, c) in ("equivalent", "subsumes")}
    assert expanded == expected
    flat = operations.expand(
        ws, Params([{"name": "url", "valueUri": "urn:test:vs"}, {"name": "excludeNested", "valueBoolean": True}])
    )
    assert flat["expansion"]["total"] == len(expected) == len(flat["expansion"].get("contains", []))
    for code in sorted(index.concepts)[:5]:
        res = operations.validate_code_vs(
            ws,
            Params(
                [
                    {"name": "url", "valueUri": "urn:test:vs"},
                    {"name": "system", "valueUri": "urn:test:h"},
                    {"name": "code", "valueCode": code},
                ]
            ),
        )
        ok = next(p["valueBoolean"] for p in res["parameter"] if p["name"] == "result")
        assert ok == (code in expected)


def test_unknown_code_in_fragment_is_a_warning_not_an_error() -> None:
    fragment = {
        "resourceType": "CodeSystem",
        "url": "urn:test:frag",
        "version": "1",
        "status": "active",
        "content": "fragment",
        "concept": [{"code": "known", "display": "Known"}],
    }
    ws = Workspace(None, [fragment])
    res = operations.validate_code_cs(
        ws, Params([{"name": "url", "valueUri": "urn:test:frag"}, {"name": "code", "valueCode": "other"}])
    )
    params = {p["name"]: p for p in res["parameter"]}
    assert params["result"]["valueBoolean"] is True
    issue = params["issues"]["resource"]["issue"][0]
    assert issue["severity"] == "warning" and "fragment" in issue["details"]["text"]
    complete = {**fragment, "url": "urn:test:full", "content": "complete"}
    ws.add(complete)
    res = operations.validate_code_cs(
        ws, Params([{"name": "url", "valueUri": "urn:test:full"}, {"name": "code", "valueCode": "other"}])
    )
    assert {"name": "result", "valueBoolean": False} in res["parameter"]
