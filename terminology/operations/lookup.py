"""$lookup and $subsumes on a code system."""

from __future__ import annotations

from typing import Any

from terminology.codesystem import (
    CodeSystemIndex,
    Concept,
    prop_value_key,
)
from terminology.errors import invalid, not_found
from terminology.expand import canonical, unknown_system
from terminology.operations.common import (
    PREFERRED_FOR_LANGUAGE,
)
from terminology.params import Params, out
from terminology.workspace import Workspace


# ------------------------------------------------------------------------------------------------
# $lookup
# ------------------------------------------------------------------------------------------------
def lookup(ws: Workspace, params: Params) -> dict[str, Any]:
    system, code, version = _code_input(params, "system", "code", "version", "coding")
    if not system or not code:
        raise invalid("$lookup needs system and code (or coding)", message_id="GW-3002")
    supplements = params.strs("useSupplement")
    ws.require_supplements(supplements)
    cs = ws.code_system(system, version)
    if cs is None:
        raise unknown_system(system, version, ws.code_system_versions(system))
    concept = cs.get(code)
    if concept is None:
        raise not_found(
            f"Unknown code '{code}' in the CodeSystem '{cs.url}' version '{cs.version}'",
            message_id="Unknown_Code_in_Version",
            expression=["code"],
        )
    wanted = set(params.strs("property")) or {"*"}
    result: list[dict[str, Any]] = [
        {"name": "code", "valueCode": concept.code},
        {"name": "system", "valueUri": cs.url},
        {"name": "name", "valueString": cs.name},
        {"name": "display", "valueString": concept.display or concept.code},
        {"name": "abstract", "valueBoolean": concept.abstract},
    ]
    if cs.version:
        result.append({"name": "version", "valueString": cs.version})
    if concept.definition:
        result.append({"name": "definition", "valueString": concept.definition})
    result.extend(_lookup_designations(cs, concept))
    result.extend(_lookup_properties(cs, concept, wanted))
    result.extend({"name": "used-supplement", "valueCanonical": _supp_canonical(ws, s)} for s in supplements)
    return out(result)


def _supp_canonical(ws: Workspace, ref: str) -> str:
    found = ws.supplement(ref)
    return canonical(found) if found else ref


def _lookup_designations(cs: CodeSystemIndex, concept: Concept) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if concept.display and cs.language:
        found.append(
            {
                "name": "designation",
                "part": [
                    {"name": "language", "valueCode": cs.language},
                    {"name": "use", "valueCoding": PREFERRED_FOR_LANGUAGE},
                    {"name": "value", "valueString": concept.display},
                ],
            }
        )
    for des in concept.designations:
        parts: list[dict[str, Any]] = []
        if des.get("language"):
            parts.append({"name": "language", "valueCode": des["language"]})
        if des.get("use"):
            parts.append({"name": "use", "valueCoding": des["use"]})
        if des.get("_source"):
            parts.append({"name": "source", "valueCanonical": des["_source"]})
        parts.append({"name": "value", "valueString": des.get("value", "")})
        found.append({"name": "designation", "part": parts})
    return found


def _lookup_properties(cs: CodeSystemIndex, concept: Concept, wanted: set[str]) -> list[dict[str, Any]]:
    def want(name: str) -> bool:
        return "*" in wanted or name in wanted

    props: list[dict[str, Any]] = []
    for parent in concept.parents if want("parent") else []:
        props.append(_prop_part("parent", {"valueCode": parent}, cs.concepts[parent].display))
    for child in concept.children if want("child") else []:
        props.append(_prop_part("child", {"valueCode": child}, cs.concepts[child].display))
    if want("inactive"):
        props.append(_prop_part("inactive", {"valueBoolean": concept.inactive}, None))
    for prop in concept.properties:
        name = prop.get("code")
        key = prop_value_key(prop)
        if name and key and want(name) and name not in ("parent", "child", "inactive"):
            props.append(_prop_part(name, {key: prop[key]}, None))
    return props


def _prop_part(code: str, value: dict[str, Any], description: str | None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"name": "code", "valueCode": code}, {"name": "value", **value}]
    if description:
        parts.append({"name": "description", "valueString": description})
    return {"name": "property", "part": parts}


def _code_input(
    params: Params, system_name: str, code_name: str, version_name: str, coding_name: str
) -> tuple[str | None, str | None, str | None]:
    coding = params.coding(coding_name)
    if coding is not None:
        return coding.get("system"), coding.get("code"), coding.get("version")
    return params.text(system_name), params.text(code_name), params.text(version_name)


# ------------------------------------------------------------------------------------------------
# $subsumes
# ------------------------------------------------------------------------------------------------
def subsumes(ws: Workspace, params: Params) -> dict[str, Any]:
    system, code_a, version = _code_input(params, "system", "codeA", "version", "codingA")
    system_b, code_b, _ = _code_input(params, "system", "codeB", "version", "codingB")
    if not system or not code_a or not code_b:
        raise invalid("$subsumes needs system, codeA and codeB (or codingA and codingB)")
    if system_b and system_b != system:
        raise invalid("codingA and codingB must have the same system")
    cs = ws.code_system(system, version)
    if cs is None:
        raise unknown_system(system, version, ws.code_system_versions(system))
    for code in (code_a, code_b):
        if cs.get(code) is None:
            raise not_found(
                f"Unknown code '{code}' in the CodeSystem '{cs.url}' version '{cs.version}'",
                message_id="Unknown_Code_in_Version",
            )
    a, b = cs.get(code_a), cs.get(code_b)
    assert a is not None and b is not None
    return out([{"name": "outcome", "valueCode": cs.subsumes(a.code, b.code)}])
