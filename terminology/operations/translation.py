"""$translate through stored ConceptMaps (R4 and R5 shapes)."""

from __future__ import annotations

from typing import Any

from terminology.codesystem import (
    version_key,
)
from terminology.errors import invalid, not_found
from terminology.expand import canonical
from terminology.operations.lookup import _code_input
from terminology.params import Params, out
from terminology.shape import check_shape
from terminology.workspace import Workspace, split_canonical

# ------------------------------------------------------------------------------------------------
# $translate
# ------------------------------------------------------------------------------------------------
R5_TO_R4 = {
    "related-to": "relatedto",
    "equivalent": "equivalent",
    "source-is-narrower-than-target": "wider",
    "source-is-broader-than-target": "narrower",
    "not-related-to": "disjoint",
}
R4_TO_R5 = {
    "relatedto": "related-to",
    "equivalent": "equivalent",
    "equal": "equivalent",
    "wider": "source-is-narrower-than-target",
    "subsumes": "source-is-narrower-than-target",
    "narrower": "source-is-broader-than-target",
    "specializes": "source-is-broader-than-target",
    "inexact": "related-to",
    "unmatched": "not-related-to",
    "disjoint": "not-related-to",
}


def translate(ws: Workspace, params: Params) -> dict[str, Any]:
    reverse = bool(params.bool("reverse", False))
    system, code, _ = _code_input(params, "system", "code", "version", "coding")
    if params.has("sourceCode", "sourceCoding"):
        system, code, _ = _code_input(params, "sourceSystem", "sourceCode", "version", "sourceCoding")
    target_system = params.text("targetsystem", "targetSystem")
    r5_reverse = params.has("targetCode", "targetCoding")
    if r5_reverse:
        reverse = True
        target_system, code, _ = _code_input(params, "targetSystem", "targetCode", "version", "targetCoding")
        system = params.text("sourceSystem", "system")
        system, target_system = target_system, system
    concept = params.codeable("codeableConcept") or params.codeable("sourceCodeableConcept")
    if concept and concept.get("coding"):
        first = concept["coding"][0]
        system, code = first.get("system"), first.get("code")
    if not code:
        raise invalid("$translate needs a code (code+system, coding or codeableConcept)", message_id="GW-3005")
    maps = _candidate_maps(ws, params, reverse)
    dependencies = _dependencies(params)
    matches: list[dict[str, Any]] = []
    for cmap in maps:
        matches.extend(_translate_with(cmap, system, code, target_system, reverse, dependencies))
    if r5_reverse:
        for match in matches:
            _r5_reverse_shape(match, system, code)
    ok = any(m["_eq"] not in ("unmatched", "disjoint") for m in matches)
    result: list[dict[str, Any]] = [{"name": "result", "valueBoolean": ok}]
    if not matches:
        result.append({"name": "message", "valueString": f"No translations found for {system}#{code}"})
    for match in matches:
        match.pop("_eq")
        result.append(match)
    return out(result)


def _dependencies(params: Params) -> list[tuple[str, str | None, str]] | None:
    """``dependency`` parameters as (element, system, code); None when the request gives none."""
    found: list[tuple[str, str | None, str]] = []
    for entry in params.all("dependency"):
        parts = {p.get("name"): p for p in entry.get("part", []) if isinstance(p, dict)}
        element = str(next((v for k, v in parts.get("element", {}).items() if k.startswith("value")), ""))
        concept = parts.get("concept", {}).get("valueCodeableConcept", {})
        for coding in concept.get("coding", []):
            found.append((element, coding.get("system"), str(coding.get("code"))))
    return found or None


def _r5_reverse_shape(match: dict[str, Any], target_system: str | None, target_code: str) -> None:
    """R5 reverse: ``concept`` is the given target code, ``source`` the source code that maps to it."""
    for part in match["part"]:
        if part["name"] == "concept":
            part["name"] = "source"
    match["part"].insert(0, {"name": "concept", "valueCoding": {"system": target_system, "code": target_code}})


def _candidate_maps(ws: Workspace, params: Params, reverse: bool = False) -> list[dict[str, Any]]:
    inline = params.resource("conceptMap")
    if inline is not None:
        return [check_shape(inline)]
    url = params.text("url")
    version = params.text("conceptMapVersion")
    maps = ws.concept_maps()
    if url:
        url, pinned = split_canonical(url)
        version = version or pinned
        maps = [m for m in maps if m.get("url") == url and (version is None or m.get("version") == version)]
        if not maps:
            raise not_found(f"Unknown ConceptMap '{url}'")
    maps = _latest_per_url(maps) if not version else maps
    source_vs = params.text("source", "sourceScope")
    target_vs = params.text("target", "targetScope")
    if reverse:
        source_vs, target_vs = target_vs, source_vs
    if source_vs:
        maps = [m for m in maps if _scope(m, "source") in (None, split_canonical(source_vs)[0])]
    if target_vs:
        maps = [m for m in maps if _scope(m, "target") in (None, split_canonical(target_vs)[0])]
    return maps


def _latest_per_url(maps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    anonymous: list[dict[str, Any]] = []
    for cmap in maps:
        url = cmap.get("url")
        if not url:
            anonymous.append(cmap)
        elif url not in best or version_key(cmap.get("version")) > version_key(best[url].get("version")):
            best[url] = cmap
    return [*best.values(), *anonymous]


def _scope(cmap: dict[str, Any], side: str) -> str | None:
    """The value set a map declares for its source or target side (R4 ``sourceUri``…, R5 ``sourceScopeUri``…)."""
    for key in (f"{side}Uri", f"{side}Canonical", f"{side}ScopeUri", f"{side}ScopeCanonical"):
        if isinstance(cmap.get(key), str):
            return split_canonical(cmap[key])[0]
    return None


def _translate_with(
    cmap: dict[str, Any],
    system: str | None,
    code: str,
    target_system: str | None,
    reverse: bool,
    dependencies: list[tuple[str, str | None, str]] | None = None,
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for group in cmap.get("group", []):
        source, target = group.get("source"), group.get("target")
        if reverse:
            source, target = target, source
        if system and source and system != source:
            continue
        if target_system and target and target_system != target:
            continue
        matched = False
        for element in group.get("element", []):
            for tgt in element.get("target", []):
                src_code, dst_code = (
                    (tgt.get("code"), element.get("code")) if reverse else (element.get("code"), tgt.get("code"))
                )
                dst_display = element.get("display") if reverse else tgt.get("display")
                if src_code == code and _depends_ok(tgt, dependencies):
                    found.append(_match(cmap, target, dst_code, dst_display, tgt))
                    matched = True
        if not matched and not reverse and group.get("unmapped"):
            found.extend(_unmapped(cmap, group, target, code))
    return found


def _depends_ok(tgt: dict[str, Any], dependencies: list[tuple[str, str | None, str]] | None) -> bool:
    """A target with ``dependsOn`` applies only when the request supplies matching dependencies."""
    needs = tgt.get("dependsOn", [])
    if not needs or dependencies is None:
        return True
    for need in needs:
        element = need.get("property") or need.get("attribute")
        value = need.get("value") or need.get("valueCode") or (need.get("valueCoding") or {}).get("code")
        if not any(d_el == element and d_code == value for d_el, _, d_code in dependencies):
            return False
    return True


def _unmapped(cmap: dict[str, Any], group: dict[str, Any], target: str | None, code: str) -> list[dict[str, Any]]:
    unmapped = group["unmapped"]
    mode = unmapped.get("mode")
    tgt = {"equivalence": unmapped.get("equivalence"), "relationship": unmapped.get("relationship")}
    tgt = {k: v for k, v in tgt.items() if v} or {"equivalence": "inexact"}
    if mode == "fixed" and unmapped.get("code"):
        return [_match(cmap, target, unmapped["code"], unmapped.get("display"), tgt)]
    if mode == "provided":
        return [_match(cmap, target, code, None, tgt)]
    return []


def _match(
    cmap: dict[str, Any], system: str | None, code: str | None, display: str | None, tgt: dict[str, Any]
) -> dict[str, Any]:
    equivalence = tgt.get("equivalence") or R5_TO_R4.get(tgt.get("relationship", ""), "relatedto")
    relationship = tgt.get("relationship") or R4_TO_R5.get(equivalence, "related-to")
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    parts: list[dict[str, Any]] = [
        {"name": "equivalence", "valueCode": equivalence},
        {"name": "relationship", "valueCode": relationship},
        {"name": "concept", "valueCoding": coding},
        {"name": "originMap", "valueCanonical": canonical(cmap)},
    ]
    for product in tgt.get("product", []):
        parts.append(
            {
                "name": "product",
                "part": [
                    {"name": "element", "valueUri": product.get("property")},
                    {"name": "concept", "valueCoding": {"system": product.get("system"), "code": product.get("value")}},
                ],
            }
        )
    return {"name": "match", "part": parts, "_eq": equivalence}
