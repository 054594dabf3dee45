"""The FHIR terminology operations over a :class:`Workspace`: Parameters in, FHIR JSON out.

No I/O here: the workspace gives access to stored and inline resources.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from terminology.codesystem import (
    STANDARDS_STATUS,
    CodeSystemIndex,
    Concept,
    prop_value_key,
    version_key,
    version_matches,
)
from terminology.errors import MESSAGE_ID_EXT, TxError, invalid, make_issue, not_found
from terminology.expand import Entry, Expander, ExpandOptions, canonical, nest, unknown_system
from terminology.params import Params, out
from terminology.shape import check_shape
from terminology.text import words_of
from terminology.workspace import Workspace, split_canonical

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


# ------------------------------------------------------------------------------------------------
# $expand
# ------------------------------------------------------------------------------------------------
def _canonical_map(params: Params, name: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for ref in params.strs(name):
        url, version = split_canonical(ref)
        if version:
            result[url] = version
    return result


def expand_options(params: Params, limit: int = DEFAULT_LIMIT) -> ExpandOptions:
    return ExpandOptions(
        active_only=bool(params.bool("activeOnly", False)),
        include_designations=bool(params.bool("includeDesignations", False)),
        include_definition=bool(params.bool("includeDefinition", False)),
        exclude_nested=bool(params.bool("excludeNested", False)),
        properties=params.strs("property"),
        display_language=params.text("displayLanguage"),
        designations=params.strs("designation"),
        system_version=_canonical_map(params, "system-version"),
        check_system_version=_canonical_map(params, "check-system-version"),
        force_system_version=_canonical_map(params, "force-system-version"),
        default_vs_version=_canonical_map(params, "default-valueset-version"),
        limit=limit,
        text_filter=params.text("filter"),
    )


def resolve_value_set(ws: Workspace, params: Params, url_name: str = "url") -> dict[str, Any]:
    inline = params.resource("valueSet")
    if inline is not None:
        if inline.get("resourceType") != "ValueSet":
            raise invalid("parameter 'valueSet' must be a ValueSet")
        check_shape(inline)
        _add_contained(ws, inline)
        return inline
    ref = params.text(url_name, "context")
    if not ref:
        raise invalid("a value set is required: give url or valueSet", message_id="GW-3003")
    url, version = split_canonical(ref)
    version = params.text("valueSetVersion") or version
    if version is None:
        version = _canonical_map(params, "default-valueset-version").get(url)
    vs = ws.value_set(url, version)
    if vs is None:
        label = f"{url}|{version}" if version else url
        raise TxError(
            "GW-3404",
            f"A definition for the value Set '{label}' could not be found",
            status=404,
            issue_code="not-found",
            tx_type="not-found",
            message_id="Unable_to_resolve_value_Set_",
        )
    _add_contained(ws, vs)
    return vs


def _add_contained(ws: Workspace, vs: dict[str, Any]) -> None:
    for item in vs.get("contained", []):
        if isinstance(item, dict) and item.get("id"):
            ws.add({**item, "url": f"#{item['id']}"})
            if item.get("url"):
                ws.add(item)


def expand(ws: Workspace, params: Params, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    vs = resolve_value_set(ws, params)
    params = vs_parameters(vs, params, use_vs_language=False)
    apply_supplements(ws, vs, params)
    options = expand_options(params, limit)
    expander = Expander(ws, options)
    try:
        expansion = expander.expand(vs)
    except TxError as exc:
        if exc.message_id and exc.message_id.startswith("UNKNOWN_CODESYSTEM"):
            raise TxError(
                exc.code,
                exc.message.replace("so the code cannot be validated", "so the value set cannot be expanded"),
                status=exc.status,
                issue_code="not-found",
                tx_type="not-found",
                message_id=exc.message_id + "_EXP",
            ) from None
        raise
    entries = list(expansion.entries.values())
    versions: dict[str, set[str | None]] = {}
    for entry in entries:
        versions.setdefault(entry.system, set()).add(entry.version)
    mixed = _systems_with_several_versions(vs)
    for entry in entries:
        entry.show_version = len(versions[entry.system]) > 1 or entry.system in mixed
    if options.text_filter:
        text = options.text_filter
        entries = [e for e in entries if e.system in expander.prefiltered or _matches_text(e, text)]
    count = params.int("count")
    offset = params.int("offset", 0) or 0
    if count is None and len(entries) > limit:
        raise TxError(
            "GW-3021",
            f"The value set '{canonical(vs)}' expansion has too many codes to display ({len(entries)} > {limit})",
            status=422,
            issue_code="too-costly",
            tx_type=None,
            message_id="VALUESET_TOO_COSTLY",
            diagnostics="use count/offset paging or a filter",
        )
    total = len(entries)
    nested = not options.exclude_nested and count is None and not offset and not options.text_filter
    shown = entries[offset : offset + count] if count is not None else entries[offset:]
    contains = nest(shown) if nested else shown
    result = _expanded_value_set(
        vs, expansion.used, expansion.used_vs, list(ws.used_supplements), params, options, contains, total, offset
    )
    result["expansion"]["parameter"].extend({"name": n, "valueUri": v} for n, v in expansion.applied)
    return result


def _systems_with_several_versions(vs: dict[str, Any]) -> set[str]:
    seen: dict[str, set[str | None]] = {}
    for include in vs.get("compose", {}).get("include", []):
        if include.get("system"):
            seen.setdefault(include["system"], set()).add(include.get("version"))
    return {system for system, versions in seen.items() if len(versions) > 1}


def _matches_text(entry: Entry, text: str) -> bool:
    """Every word of the filter starts a word of the code, display or a designation (same rule as the index)."""
    wanted = words_of(text)
    if not wanted:
        return text.lower() in f"{entry.code} {entry.display or ''}".lower()
    designations = [d.get("value") for d in entry.concept.designations] if entry.concept else []
    have = words_of(entry.code, entry.display, *designations)
    return all(any(h.startswith(w) for h in have) for w in wanted)


def _drop_unpinned_supplements(result: dict[str, Any]) -> None:
    """A versionless supplement reference is not echoed: the version actually applied is reported
    by the ``used-supplement`` expansion parameter instead (pinned references are echoed as given)."""
    extensions = [
        e
        for e in result.get("extension", [])
        if not (e.get("url") == SUPPLEMENT_EXT and "|" not in str(e.get("valueCanonical", "")))
    ]
    if extensions:
        result["extension"] = extensions
    else:
        result.pop("extension", None)


def _expanded_value_set(
    vs: dict[str, Any],
    used: dict[str, CodeSystemIndex],
    used_vs: list[str],
    supplements: list[str],
    params: Params,
    options: ExpandOptions,
    contains: list[Entry],
    total: int,
    offset: int,
) -> dict[str, Any]:
    result = {k: v for k, v in vs.items() if k in VS_KEEP}
    _drop_unpinned_supplements(result)
    result.setdefault("id", str(uuid.uuid4()))
    parameters: list[dict[str, Any]] = []
    for entry in params.entries:
        if entry.get("name") in ECHO_PARAMS:
            parameters.append({k: v for k, v in entry.items() if k != "name"} | {"name": entry["name"]})
    for cs in used.values():
        parameters.append({"name": "used-codesystem", "valueUri": cs.canonical})
    for ref in dict.fromkeys(used_vs):
        if not ref.startswith("#"):
            parameters.append({"name": "used-valueset", "valueUri": ref})
    parameters.extend({"name": "used-supplement", "valueUri": ref} for ref in supplements)
    expansion: dict[str, Any] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": _now(),
        "total": total,
        "parameter": _normalise_echo(parameters),
    }
    if params.has("offset"):
        expansion["offset"] = offset
    props = _requested_properties(options, used)
    for code, (_, _, uri) in EXTENSION_PROPERTIES.items():
        if code not in [c for c, _ in props] and _any_extension_property(contains, code):
            props.append((code, uri))
    if "status" not in [c for c, _ in props] and _any_status(contains):
        props.append(("status", "http://hl7.org/fhir/concept-properties#status"))
    if props:
        expansion["extension"] = [
            {
                "url": EXPANSION_PROPERTY_EXT,
                "extension": [{"url": "code", "valueCode": code}, {"url": "uri", "valueUri": uri}],
            }
            for code, uri in props
        ]
    if contains:
        expansion["contains"] = [_contains(e, options, [c for c, _ in props]) for e in contains]
    result["expansion"] = expansion
    return result


# concept extensions that are shown as expansion properties: property code -> (extension url, value type, uri)
EXTENSION_PROPERTIES = {
    "label": (
        "http://hl7.org/fhir/StructureDefinition/codesystem-label",
        "valueString",
        "http://hl7.org/fhir/concept-properties#label",
    ),
    "order": (
        "http://hl7.org/fhir/StructureDefinition/codesystem-conceptOrder",
        "valueDecimal",
        "http://hl7.org/fhir/concept-properties#order",
    ),
    "weight": (
        "http://hl7.org/fhir/StructureDefinition/itemWeight",
        "valueDecimal",
        "http://hl7.org/fhir/concept-properties#itemWeight",
    ),
}
RENDERING_PREFIX = "http://hl7.org/fhir/StructureDefinition/rendering-"
VALUESET_DEPRECATED = "http://hl7.org/fhir/StructureDefinition/valueset-deprecated"
VALUESET_CONCEPT_DEFINITION = "http://hl7.org/fhir/StructureDefinition/valueset-concept-definition"


VS_EXTENSION_URLS = {
    "label": "http://hl7.org/fhir/StructureDefinition/valueset-label",
    "order": "http://hl7.org/fhir/StructureDefinition/valueset-conceptOrder",
    "weight": "http://hl7.org/fhir/StructureDefinition/itemWeight",
}


def _ext_values(extensions: list[dict[str, Any]], url: str, kind: str) -> list[dict[str, Any]]:
    found = []
    for ext in extensions:
        if ext.get("url") == url:
            value = next((v for k, v in ext.items() if k.startswith("value")), None)
            if value is not None:
                found.append({kind: value})
    return found


def _extension_property(entry: Entry, code: str) -> list[dict[str, Any]]:
    """Label / order / weight: from the value set's include concept first, else from the code system."""
    if code not in EXTENSION_PROPERTIES:
        return []
    url, kind, _ = EXTENSION_PROPERTIES[code]
    from_vs = _ext_values(entry.vs_extensions, VS_EXTENSION_URLS[code], kind)
    if from_vs:
        return from_vs
    return _ext_values(entry.concept.extensions, url, kind) if entry.concept else []


def _any_extension_property(entries: list[Entry], code: str) -> bool:
    return any(_extension_property(e, code) or _any_extension_property(e.contains, code) for e in entries)


def _shown_status(concept: Concept | None) -> str | None:
    status = concept.status if concept is not None else None
    return status if status and status != "active" else None


def _any_status(entries: list[Entry]) -> bool:
    return any(_shown_status(e.concept) or _any_status(e.contains) for e in entries)


def _normalise_echo(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Echo booleans/integers with their FHIR types even when they came as GET strings."""
    fixed: list[dict[str, Any]] = []
    for param in parameters:
        name = param["name"]
        raw = next((v for k, v in param.items() if k.startswith("value")), None)
        if name in ("count", "offset") and raw is not None:
            fixed.append({"name": name, "valueInteger": int(raw)})
        elif (
            name
            in (
                "activeOnly",
                "includeDesignations",
                "includeDefinition",
                "excludeNested",
                "excludeNotForUI",
                "excludePostCoordinated",
            )
            and raw is not None
        ):
            fixed.append({"name": name, "valueBoolean": raw is True or str(raw).lower() == "true"})
        elif name == "filter" and raw is not None:
            fixed.append({"name": name, "valueString": str(raw)})
        elif name == "displayLanguage" and raw is not None:
            text = str(raw)
            if ";" in text:
                text = ", ".join(p.strip() for p in text.split(","))
            fixed.append({"name": name, "valueCode": text})
        else:
            fixed.append(param)
    return fixed


def _requested_properties(options: ExpandOptions, used: dict[str, CodeSystemIndex]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for code in options.properties:
        uri = next((cs.property_uri(code) for cs in used.values() if cs.property_uri(code)), None)
        found.append((code, uri or code))
    return found


def _contains(entry: Entry, options: ExpandOptions, props: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"system": entry.system}
    if entry.show_version and entry.version:
        item["version"] = entry.version
    item["code"] = entry.code
    display, switched_to = _display_for(entry, options.display_language)
    if display:
        item["display"] = display
    if entry.abstract:
        item["abstract"] = True
    if entry.inactive:
        item["inactive"] = True
    concept = entry.concept
    if options.include_designations and concept is not None:
        designations = _designations(entry, options, switched_to)
        if designations:
            item["designation"] = designations
    ext = [
        e
        for e in entry.vs_extensions
        if str(e.get("url", "")).startswith(RENDERING_PREFIX)
        or e.get("url") in (VALUESET_DEPRECATED, VALUESET_CONCEPT_DEFINITION)
    ]
    urls = {e.get("url") for e in ext}
    ext += [
        e
        for e in (concept.extensions if concept else [])
        if str(e.get("url", "")).startswith(RENDERING_PREFIX) and e.get("url") not in urls
    ]
    ext += _contains_property_ext(entry, props)
    if ext:
        item["extension"] = ext
    if entry.contains:
        item["contains"] = [_contains(child, options, props) for child in entry.contains]
    return item


def _display_for(entry: Entry, language: str | None) -> tuple[str | None, str | None]:
    """The display in the first requested language that has one, and that language (None: unchanged)."""
    if entry.concept is None:
        return entry.display, None
    cs_lang = entry.cs.language if entry.cs else None
    for wanted in (w for w in parse_languages(language) if w != "*"):
        if cs_lang and language_matches(wanted, cs_lang):
            return entry.display, None
        for des in [*entry.vs_designations, *entry.concept.designations]:
            if des.get("value") and language_matches(wanted, des.get("language")) and not des.get("use"):
                return str(des["value"]), wanted
    wanted_all = [w for w in parse_languages(language) if w != "*"]
    if wanted_all and _no_fallback(language):
        return None, wanted_all[0]  # "de, *; q=0": no display rather than one in another language
    return entry.display, None


def _no_fallback(language: str | None) -> bool:
    return any(p.split(";")[0].strip() == "*" and "q=0" in p.replace(" ", "") for p in (language or "").split(","))


def _designations(entry: Entry, options: ExpandOptions, switched_to: str | None) -> list[dict[str, Any]]:
    concept = entry.concept
    assert concept is not None
    found = [
        {k: v for k, v in d.items() if not k.startswith("_")} for d in [*entry.vs_designations, *concept.designations]
    ]
    if switched_to:
        found = [d for d in found if not language_matches(switched_to, d.get("language"))]
        if concept.display:
            lang = entry.cs.language if entry.cs else None
            found.insert(
                0, {**({"language": lang} if lang else {}), "use": PREFERRED_FOR_LANGUAGE, "value": concept.display}
            )
    if options.designations:
        found = [d for d in found if _designation_wanted(d, options.designations)]
    return found


def _designation_wanted(designation: dict[str, Any], wanted: list[str]) -> bool:
    for item in wanted:
        system, _, code = item.rpartition("|")
        if system == "urn:ietf:bcp:47" and designation.get("language") == code:
            return True
        use = designation.get("use") or {}
        if system and use.get("system") == system and use.get("code") == code:
            return True
    return False


def _contains_property_ext(entry: Entry, props: list[str]) -> list[dict[str, Any]]:
    if not props or entry.concept is None:
        return []
    result: list[dict[str, Any]] = []
    for code in props:
        for value in _extension_property(entry, code) or _property_values(entry.concept, code):
            result.append(
                {
                    "url": CONTAINS_PROPERTY_EXT,
                    "extension": [{"url": "code", "valueCode": code}, {"url": "value", **value}],
                }
            )
    return result


def _property_values(concept: Concept, code: str) -> list[dict[str, Any]]:
    if code == "definition":
        return [{"valueString": concept.definition}] if concept.definition else []
    if code == "parent":
        return [{"valueCode": p} for p in concept.parents]
    if code == "child":
        return [{"valueCode": c} for c in concept.children]
    if code == "inactive":
        return [{"valueBoolean": concept.inactive}]
    if code == "status":
        status = _shown_status(concept)
        return [{"valueCode": status}] if status else []
    found: list[dict[str, Any]] = []
    for prop in concept.properties:
        key = prop_value_key(prop)
        if prop.get("code") == code and key:
            found.append({key: prop[key]})
    return found


# ------------------------------------------------------------------------------------------------
# $validate-code (CodeSystem and ValueSet)
# ------------------------------------------------------------------------------------------------
@dataclass
class Check:
    """The evaluation of one coding."""

    system: str | None
    code: str | None
    version: str | None = None
    display: str | None = None
    cs: CodeSystemIndex | None = None
    concept: Concept | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)
    unknown_system: str | None = None
    foreign_system: bool = False  # unknown system that the value set does not use
    soft_failed: bool = False  # the value set itself could not be expanded for this system
    relative_system: bool = False
    member: bool = False  # found in the value set
    ok: bool = True


def validate_code_cs(ws: Workspace, params: Params) -> dict[str, Any]:
    inline = params.resource("codeSystem")
    if inline is not None:
        ws.add(inline)
    codings, path = _validation_codings(params, "url")
    checks = [_check_coding(ws, c, p, params) for c, p in zip(codings, path, strict=True)]
    return _validation_result(checks, None, params)


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


def validate_code_vs(ws: Workspace, params: Params, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    vs = resolve_value_set(ws, params)
    params = vs_parameters(vs, params, use_vs_language=True)
    apply_supplements(ws, vs, params)
    codings, paths = _validation_codings(params, "system")
    options = expand_options(params, limit)
    options.strict_checks = False
    options.active_only = False  # inactive members are reported, not hidden
    expander = Expander(ws, options)
    expander.only = {str(c.get("code")) for c in codings if c.get("code")}
    soft: list[TxError] = []
    try:
        members = expander.expand(vs).entries
    except TxError as exc:
        if exc.message_id not in SOFT_FAILURES:
            raise
        members, soft = {}, [exc]
    active_only = bool(params.bool("activeOnly", False))
    checks = [
        _check_in_vs(ws, coding, path, params, members, vs, soft, active_only)
        for coding, path in zip(codings, paths, strict=True)
    ]
    checks_wanted = _canonical_map(params, "check-system-version")
    for check, path in zip(checks, paths, strict=True):
        pattern = checks_wanted.get(check.system or "")
        if (
            pattern
            and check.cs is not None
            and not check.soft_failed
            and not version_matches(pattern, check.cs.version)
        ):
            check.ok = False
            check.issues.append(
                make_issue(
                    "error",
                    "exception",
                    f"The version '{check.cs.version}' is not allowed for system '{check.system}': "
                    f"required to be '{pattern}' by a version-check parameter",
                    tx_type="version-error",
                    message_id="VALUESET_VERSION_CHECK",
                    expression=[_expr(path, "version")],
                )
            )
    result = _validation_result(checks, vs, params)
    if params.has("abstract") or any(e.get("name") == "valueSet" and "resource" in e for e in params.entries):
        _drop_locations(result)
    return result


def _drop_locations(result: dict[str, Any]) -> None:
    """Issues about an explicit ``abstract`` rule or an inline value set carry only ``expression``
    (as tx.fhir.org answers them; the HL7 tests expect no legacy ``location`` there)."""
    for parameter in result.get("parameter", []):
        if parameter.get("name") == "issues":
            for issue in parameter["resource"].get("issue", []):
                issue.pop("location", None)


def _check_in_vs(
    ws: Workspace,
    coding: dict[str, Any],
    path: str,
    params: Params,
    members: dict[tuple[str, str], Entry],
    vs: dict[str, Any],
    soft: list[TxError],
    active_only: bool,
) -> Check:
    coding, infer_issue = _infer_system(coding, members, vs, path)
    hint = members.get((coding.get("system") or "", coding.get("code") or ""))
    asked = coding.get("version")
    differs = (
        hint is not None
        and bool(asked)
        and hint.version != asked
        and not (hint.pinned and version_matches(hint.include_version, asked))
    )
    if differs and hint is not None and not hint.pinned and ws.code_system(hint.system, asked) is None:
        return _unknown_version_against_default(ws, coding, path, params, hint)
    mismatch = differs and hint is not None and hint.pinned
    cs_hint = hint.cs if hint is not None and (not asked or mismatch) else None
    check = _check_coding(ws, coding, path, params, cs_hint)
    if check.unknown_system and check.system and check.system not in _compose_systems(vs):
        check.foreign_system = True
        for issue in check.issues if not check.relative_system else []:
            text = issue.get("details", {}).get("text", "")
            if (
                text
                == f"A definition for CodeSystem '{check.system}' could not be found, so the code cannot be validated"
            ):
                issue["details"]["text"] = issue["details"]["text"].replace(f"'{check.system}'", check.system, 1)
    if mismatch and hint is not None:
        forced = params_force(params).get(hint.system)
        _add_mismatch(
            check,
            hint.system,
            forced or hint.version,
            asked,
            path,
            forced_from=(hint.original_version or "") if forced else None,
        )
        if ws.code_system(hint.system, asked) is None:
            err = unknown_system(hint.system, asked, ws.code_system_versions(hint.system))
            check.issues.append(
                make_issue(
                    "error",
                    "not-found",
                    err.message,
                    tx_type="not-found",
                    message_id=err.message_id,
                    expression=[_expr(path, "system")],
                )
            )
            check.unknown_system = f"{hint.system}|{asked}"
    if soft and not check.unknown_system:
        check.ok = False
        check.soft_failed = True
        bad_system = getattr(soft[0], "system", None)
        bad_version = getattr(soft[0], "version", None)
        if bad_system and bad_version and asked and bad_version != asked and bad_system == coding.get("system"):
            _add_mismatch(check, bad_system, bad_version, asked, path)
        check.issues.append(
            make_issue(
                "error",
                soft[0].issue_type,
                soft[0].message,
                tx_type=soft[0].tx_type,
                message_id=soft[0].message_id,
                expression=[_expr(path, "system")] if bad_system else None,
            )
        )
        if bad_system:
            check.unknown_system = f"{bad_system}|{bad_version}" if bad_version else bad_system
    elif not soft or check.foreign_system:
        excluded = _check_abstract(check, params, path)
        _check_membership(check, members, vs, path, active_only, excluded)
    if infer_issue is not None:
        check.issues = [
            i
            for i in check.issues
            if i.get("extension", [{}])[0].get("valueString") != "Coding_has_no_system__cannot_validate"
        ]
        check.issues.append(infer_issue)
    return check


def params_force(params: Params) -> dict[str, str]:
    return _canonical_map(params, "force-system-version")


def _add_mismatch(
    check: Check, system: str, include_version: str | None, asked: str | None, path: str, forced_from: str | None = None
) -> None:
    check.ok = False
    origin = f" resulting from the version '{forced_from}'" if forced_from is not None else ""
    check.issues.append(
        make_issue(
            "error",
            "invalid",
            f"The code system '{system}' version '{include_version}'{origin} in the ValueSet include is different to "
            f"the one in the value ('{asked}')",
            tx_type="vs-invalid",
            message_id="VALUESET_VALUE_MISMATCH_CHANGED" if forced_from is not None else "VALUESET_VALUE_MISMATCH",
            expression=[_expr(path, "version")],
        )
    )


def _compose_systems(vs: dict[str, Any]) -> set[str]:
    compose = vs.get("compose", {})
    return {i.get("system") for part in ("include", "exclude") for i in compose.get(part, []) if i.get("system")}


def _unknown_version_against_default(
    ws: Workspace, coding: dict[str, Any], path: str, params: Params, hint: Entry
) -> Check:
    """The value names a version we do not have; the value set's (versionless) include chose another."""
    check = _check_coding(ws, coding, path, params, hint.cs)
    asked = coding["version"]
    err = unknown_system(hint.system, asked, ws.code_system_versions(hint.system))
    check.ok = False
    check.member = True  # the code is in the value set, under the version the value set chose
    check.unknown_system = f"{hint.system}|{asked}"
    check.issues = [
        make_issue(
            "error",
            "not-found",
            err.message,
            tx_type="not-found",
            message_id=err.message_id,
            expression=[_expr(path, "system")],
        )
    ]
    checked = _canonical_map(params, "check-system-version").get(hint.system)
    if hint.system in _canonical_map(params, "system-version") or checked:
        _add_mismatch(check, hint.system, checked or hint.version, asked, path, forced_from="")
    else:
        check.issues.append(
            make_issue(
                "warning",
                "invalid",
                f"The code system '{hint.system}' version '{hint.version}' for the versionless include in the "
                f"ValueSet include is different to the one in the value ('{asked}')",
                tx_type="vs-invalid",
                message_id="VALUESET_VALUE_MISMATCH_DEFAULT",
                expression=[_expr(path, "version")],
            )
        )
    return check


SOFT_FAILURES = {
    "UNKNOWN_CODESYSTEM",
    "UNKNOWN_CODESYSTEM_VERSION",
    "VALUESET_VERSION_CHECK",
    "Unable_to_resolve_value_Set_",
}


def _unknown_from(message: str) -> str | None:
    parts = message.split("'")
    return parts[1] if len(parts) > 2 else None


def _infer_system(
    coding: dict[str, Any], members: dict[tuple[str, str], Entry], vs: dict[str, Any], path: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A code without system takes the value set's only system having that code."""
    if coding.get("system") or not coding.get("code") or path:
        return coding, None  # only a bare code (not a Coding) gets its system inferred
    systems = sorted({s for s, c in members if c == coding["code"]})
    if len(systems) == 1:
        return {**coding, "system": systems[0]}, None
    if len(systems) > 1:
        text = (
            f"The System URI could not be determined for the code '{coding['code']}' in the ValueSet "
            f"'{canonical(vs)}': value set expansion has multiple matches: [{', '.join(systems)}]"
        )
        return coding, make_issue(
            "error",
            "not-found",
            text,
            tx_type="cannot-infer",
            message_id="Unable_to_resolve_system__value_set_has_multiple_matches",
            expression=[_expr(path, "code")],
        )
    candidates = sorted(_compose_systems(vs))
    if candidates:
        text = (
            f"The System URI could not be determined for the code '{coding['code']}' in the ValueSet "
            f"'{canonical(vs)}': it is not in any of its code systems ({', '.join(candidates)})"
        )
        return coding, make_issue(
            "error",
            "not-found",
            text,
            tx_type="cannot-infer",
            message_id="UNABLE_TO_INFER_CODESYSTEM",
            expression=[_expr(path, "code")],
        )
    return coding, None


def _validation_codings(params: Params, system_name: str) -> tuple[list[dict[str, Any]], list[str]]:
    concept = params.codeable("codeableConcept")
    if concept is not None:
        codings = [c for c in concept.get("coding", []) if isinstance(c, dict)]
        return codings, [f"CodeableConcept.coding[{i}]" for i in range(len(codings))]
    coding = params.coding("coding")
    if coding is not None:
        return [coding], ["Coding"]
    code = params.text("code")
    if code is None:
        raise invalid(
            "Unable to find code to validate (looked for coding | codeableConcept | code+system | "
            "code+inferSystem in parameters",
            message_id="",
        )
    system = params.text(system_name) if system_name != "url" else params.text("url", "system")
    return [
        {
            "system": system,
            "code": code,
            "version": params.text("systemVersion", "version"),
            "display": params.text("display"),
        }
    ], [""]


def _expr(path: str, leaf: str) -> str:
    return f"{path}.{leaf}" if path else leaf


def _misused_system(ws: Workspace, check: Check, path: str) -> bool:
    """A value set or supplement URL used as a system, or a relative system: report it; True = nothing more."""
    system = check.system or ""
    expression = [_expr(path, "system")]
    supplement = ws.supplement(system)
    if supplement is not None:
        label = canonical(supplement)
        where = f"{path}.system" if path else "system"
        text = f"CodeSystem {label} is a supplement, so can't be used as a value in {where}"
        check.issues.append(
            make_issue(
                "error",
                "invalid",
                text,
                tx_type="invalid-data",
                message_id="CODESYSTEM_CS_NO_SUPPLEMENT",
                expression=expression,
            )
        )
        return True
    if ws.value_set(system) is not None:
        text = f"The Coding references a value set, not a code system ('{system}')"
        check.issues.append(
            make_issue(
                "error",
                "invalid",
                text,
                tx_type="invalid-data",
                message_id="Terminology_TX_System_ValueSet2",
                expression=expression,
            )
        )
        return True
    if ":" not in system:
        text = f"{path or 'Coding'}.system must be an absolute reference, not a local reference"
        check.issues.append(
            make_issue(
                "error",
                "invalid",
                text,
                tx_type="invalid-data",
                message_id="Terminology_TX_System_Relative",
                expression=expression,
            )
        )
        check.relative_system = True
    return False


def _unknown_in_partial(check: Check, cs: CodeSystemIndex, path: str) -> None:
    """A code missing from a fragment / not-present code system may still exist: warn, do not fail."""
    check.cs = cs
    text = (
        f"Unknown Code '{check.code}' in the CodeSystem '{cs.url}' version '{cs.version}' - note that the code "
        f"system is labeled as a {cs.content}, so the code may be valid in some other fragment"
    )
    check.issues.append(
        make_issue(
            "warning",
            "code-invalid",
            text,
            tx_type="invalid-code",
            message_id="UNKNOWN_CODE_IN_FRAGMENT",
            expression=[_expr(path, "code")],
        )
    )


def _check_coding(
    ws: Workspace, coding: dict[str, Any], path: str, params: Params, cs_hint: CodeSystemIndex | None = None
) -> Check:
    check = Check(coding.get("system"), coding.get("code"), coding.get("version"), coding.get("display"))
    if not check.system:
        return check
    version = (
        check.version
        or _canonical_map(params, "system-version").get(check.system)
        or _canonical_map(params, "check-system-version").get(check.system)
    )
    cs = cs_hint or ws.code_system(check.system, version)
    if cs is None:
        check.ok = False
        if _misused_system(ws, check, path):
            return check
        check.unknown_system = check.system
        err = unknown_system(check.system, check.version, ws.code_system_versions(check.system))
        check.issues.append(
            make_issue(
                "error",
                "not-found",
                err.message,
                tx_type="not-found",
                message_id=err.message_id,
                expression=[_expr(path, "system")],
            )
        )
        return check
    check.cs = cs
    concept = cs.get(check.code or "")
    if concept is None and cs.content in ("fragment", "not-present", "example"):
        _unknown_in_partial(check, cs, path)
        return check
    if concept is None:
        check.ok = False
        if params.bool("valueset-membership-only", False):
            return check  # only membership is reported
        check.issues.append(
            make_issue(
                "error",
                "code-invalid",
                f"Unknown code '{check.code}' in the CodeSystem '{cs.url}' version '{cs.version}'",
                tx_type="invalid-code",
                message_id="Unknown_Code_in_Version",
                expression=[_expr(path, "code")],
            )
        )
        return check
    check.concept = concept
    if concept.deprecated and not concept.inactive:
        check.issues.append(
            make_issue(
                "warning",
                "business-rule",
                f"The concept '{concept.code}' is deprecated and its use should be reviewed",
                tx_type="code-comment",
                message_id="DEPRECATED_CONCEPT_FOUND",
                expression=[_expr(path, "code")],
            )
        )
    if concept.inactive:
        status = concept.status if concept.status and concept.status.lower() != "inactive" else None
        text = f"{status} and inactive" if status else "inactive"
        check.issues.append(
            make_issue(
                "warning",
                "business-rule",
                f"The concept '{concept.code}' has a status of {text} and its use should be reviewed",
                tx_type="code-comment",
                message_id="INACTIVE_CONCEPT_FOUND",
                expression=[path or "code"],
            )
        )
    if not params.bool("valueset-membership-only", False):
        _check_display(check, path, params)
    return check


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


def display_candidates(cs: CodeSystemIndex | None, concept: Concept) -> list[tuple[str, str | None]]:
    lang = cs.language if cs else None
    found: list[tuple[str, str | None]] = [(concept.display, lang)] if concept.display else []
    for des in concept.designations:
        if des.get("value"):
            found.append((str(des["value"]), des.get("language") or lang))
    return found


def preferred_display(cs: CodeSystemIndex | None, concept: Concept, languages: list[str]) -> str | None:
    for wanted in languages:
        for value, lang in display_candidates(cs, concept):
            if language_matches(wanted, lang):
                return value
    return concept.display


def _check_display(check: Check, path: str, params: Params) -> None:
    concept = check.concept
    if concept is None or check.display is None:
        return
    languages = [lang for lang in parse_languages(params.text("displayLanguage")) if lang != "*"]
    candidates = display_candidates(check.cs, concept)
    in_lang = [v for v, lang in candidates if any(language_matches(w, lang) for w in languages)]
    pool = in_lang if (languages and in_lang) else [v for v, _ in candidates]
    if check.display in pool or any(v.lower() == check.display.lower() for v in pool):
        _check_retired_display(check, concept, path)
        if languages and not in_lang:
            check.issues.append(
                make_issue(
                    "information",
                    "invalid",
                    f"There are no valid display names found for the code {check.system}#{check.code} for language(s) "
                    f"'{params.text('displayLanguage')}'. The display is '{check.display}' which is a valid display "
                    f"for the default language",
                    tx_type="invalid-display",
                    message_id="NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK",
                    expression=[_expr(path, "display")],
                )
            )
        return
    lenient = bool(params.bool("lenient-display-validation", False))
    severity = "warning" if lenient else "error"
    multi_choice = False
    if languages and not in_lang:
        text = (
            f"Wrong Display Name '{check.display}' for {check.system}#{check.code}. There are no valid display "
            f"names found for language(s) '{params.text('displayLanguage')}'. Default display is "
            f"'{concept.display}'"
        )
        mid = "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR"
    else:
        choices = _display_choices(check.cs, concept, languages)
        if len(choices) == 1:
            valid_text = f"Valid display is {choices[0]}"
        else:
            multi_choice = True  # reported like tx.fhir.org: an expression, no legacy location
            valid_text = f"Valid display is one of {len(choices)} choices: {' or '.join(choices)}"
        text = (
            f"Wrong Display Name '{check.display}' for {check.system}#{check.code}. {valid_text} "
            f"(for the language(s) '{params.text('displayLanguage') or '--'}')"
        )
        squashed = " ".join(check.display.split())
        mid = (
            "Display_Name_WS_for__should_be_one_of__instead_of"
            if squashed in pool and squashed != check.display
            else "Display_Name_for__should_be_one_of__instead_of"
        )
    check.issues.append(
        make_issue(
            severity,
            "invalid",
            text,
            tx_type="invalid-display",
            message_id=mid,
            expression=[_expr(path, "display")],
            located=not multi_choice,
        )
    )
    if not lenient:
        check.ok = False


RETIRED_STATUSES = ("withdrawn", "deprecated", "retired")


def _check_retired_display(check: Check, concept: Concept, path: str) -> None:
    """A display that matches only a withdrawn/deprecated designation is accepted with a warning."""
    if check.display == concept.display:
        return
    for des in concept.designations:
        statuses = [e.get("valueCode") for e in des.get("extension", []) if e.get("url") == STANDARDS_STATUS]
        if des.get("value") == check.display and any(s in RETIRED_STATUSES for s in statuses):
            text = (
                f"'{check.display}' is no longer considered a correct display for code '{concept.code}' "
                f'(status = deprecated). The correct display is one of "{concept.display}".'
            )
            check.issues.append(
                make_issue(
                    "warning",
                    "invalid",
                    text,
                    tx_type="display-comment",
                    message_id="INACTIVE_DISPLAY_FOUND",
                    expression=[_expr(path, "display")],
                )
            )
            return


def _display_choices(cs: CodeSystemIndex | None, concept: Concept, languages: list[str]) -> list[str]:
    found: list[str] = []
    plain = Concept(concept.code, concept.display, designations=[d for d in concept.designations if not d.get("use")])
    for value, lang in display_candidates(cs, plain):
        if languages and not any(language_matches(w, lang) for w in languages):
            continue
        item = f"'{value}'" + (f" ({lang})" if lang else "")
        if item not in found:
            found.append(item)
    return found or [f"'{concept.code}'"]


def _message_id(issue: dict[str, Any]) -> str | None:
    return next((e.get("valueString") for e in issue.get("extension", []) if e.get("url") == MESSAGE_ID_EXT), None)


def _check_abstract(check: Check, params: Params, path: str) -> bool:
    """An abstract code with ``abstract=false`` is an error, and is then no member of the value set."""
    if check.concept is not None and check.concept.abstract and params.bool("abstract", True) is False:
        check.ok = False
        check.issues.append(
            make_issue(
                "error",
                "business-rule",
                f"Code '{check.system}#{check.concept.code}' is abstract, and not allowed in this context",
                tx_type="code-rule",
                message_id="ABSTRACT_CODE_NOT_ALLOWED",
                expression=[_expr(path, "code")],
            )
        )
        return True
    return False


def _check_membership(
    check: Check,
    members: dict[tuple[str, str], Entry],
    vs: dict[str, Any],
    path: str,
    active_only: bool,
    excluded: bool = False,
) -> None:
    if not check.system and path:
        check.issues.append(
            make_issue(
                "warning",
                "invalid",
                "Coding has no system. A code with no system has no defined meaning, and it cannot "
                "be validated. A system should be provided",
                tx_type="invalid-data",
                message_id="Coding_has_no_system__cannot_validate",
                expression=[path or "code"],
            )
        )
    key = (check.system or "", check.concept.code if check.concept else check.code or "")
    entry = None if excluded else members.get(key)
    if entry is not None and active_only and entry.inactive:
        check.issues.append(
            make_issue(
                "error",
                "business-rule",
                f"The concept '{check.code}' is valid but is not active",
                tx_type="code-rule",
                message_id="STATUS_CODE_WARNING_CODE",
                expression=[_expr(path, "code")],
            )
        )
        entry = None
    if entry is not None and any(
        e.get("url") == VALUESET_DEPRECATED and e.get("valueBoolean") for e in entry.vs_extensions
    ):
        check.issues.append(
            make_issue(
                "warning",
                "business-rule",
                f"The presence of the concept '{entry.code}' in the system '{entry.system}' in the value set "
                f"{canonical(vs)} is marked with a status of deprecated and its use should be reviewed",
                tx_type="code-comment",
                message_id="CONCEPT_DEPRECATED_IN_VALUESET",
                expression=[_expr(path, "code")],
            )
        )
    check.member = entry is not None
    if entry is None:
        check.ok = False
        in_cc = path.startswith("CodeableConcept")
        label = f"{check.system or ''}{'|' + check.version if check.version else ''}#{check.code}"
        if check.display:
            label += f" ('{check.display}')"
        check.issues.append(
            make_issue(
                "information" if in_cc else "error",
                "code-invalid",
                f"The provided code '{label}' was not found in the value set '{canonical(vs) or '(unidentified)'}'",
                tx_type="this-code-not-in-vs" if in_cc else "not-in-vs",
                message_id="None_of_the_provided_codes_are_in_the_value_set_one",
                expression=[_expr(path, "code")],
            )
        )


def _validation_result(checks: list[Check], vs: dict[str, Any] | None, params: Params) -> dict[str, Any]:
    good = next((c for c in checks if c.ok), None)
    main = good or (checks[0] if checks else Check(None, None))
    result: list[dict[str, Any]] = [{"name": "result", "valueBoolean": good is not None}]
    extra_issues: list[dict[str, Any]] = []
    codeable = params.codeable("codeableConcept")
    if codeable is not None:
        result.append({"name": "codeableConcept", "valueCodeableConcept": codeable})
        if good is None:
            keep = main.concept is not None and not main.soft_failed and main.member
            main = main if keep else Check(None, None)
            not_in_vs = any(
                i.get("details", {}).get("coding", [{}])[0].get("code") == "this-code-not-in-vs"
                for c in checks
                for i in c.issues
            )
            if vs is not None and not_in_vs and not any(c.member for c in checks):
                extra_issues.append(
                    make_issue(
                        "error",
                        "code-invalid",
                        f"No valid coding was found for the value set '{canonical(vs)}'",
                        tx_type="not-in-vs",
                        message_id="TX_GENERAL_CC_ERROR_MESSAGE",
                    )
                )
    if main.code:
        result.append({"name": "code", "valueCode": main.concept.code if main.concept else main.code})
    if main.system:
        result.append({"name": "system", "valueUri": main.system})
    if main.cs is not None and main.cs.version:
        result.append({"name": "version", "valueString": main.cs.version})
    if main.concept is not None and main.concept.display:
        languages = [x for x in parse_languages(params.text("displayLanguage")) if x != "*"]
        shown = preferred_display(main.cs, main.concept, languages)
        result.append({"name": "display", "valueString": shown or main.concept.display})
    if main.concept is not None and main.concept.inactive:
        result.append({"name": "inactive", "valueBoolean": True})
    if main.concept is not None and (main.concept.inactive or main.concept.deprecated) and main.concept.status:
        result.append({"name": "status", "valueCode": main.concept.status})
    issues = [*extra_issues, *(i for c in checks for i in c.issues)]
    if issues:
        errors = [i for i in issues if i["severity"] == "error"]
        warnings = [i for i in issues if i["severity"] == "warning"]
        infos = [
            i
            for i in issues
            if i["severity"] == "information" and i["details"].get("coding", [{}])[0].get("code") == "invalid-display"
        ]
        warnings = [
            i for i in warnings if _message_id(i) not in ("CONCEPT_DEPRECATED_IN_VALUESET", "INACTIVE_DISPLAY_FOUND")
        ]
        comments = [i for i in warnings if i["details"].get("coding", [{}])[0].get("code") != "vs-invalid"]
        messages = sorted({i["details"]["text"] for i in ([*errors, *comments] if errors else warnings or infos)})
        if messages:
            result.append({"name": "message", "valueString": "; ".join(messages)})
        result.append({"name": "issues", "resource": {"resourceType": "OperationOutcome", "issue": issues}})
    for check in checks:
        if check.unknown_system:
            name = "x-unknown-system" if check.foreign_system else "x-caused-by-unknown-system"
            result.append({"name": name, "valueCanonical": check.unknown_system})
    return out(result)


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
