"""$expand: value set resolution, expansion options and the expansion resource."""

from __future__ import annotations

import uuid
from typing import Any

from terminology.codesystem import (
    CodeSystemIndex,
    Concept,
    prop_value_key,
)
from terminology.errors import TxError, invalid
from terminology.expand import Entry, Expander, ExpandOptions, canonical, nest
from terminology.operations.common import (
    CONTAINS_PROPERTY_EXT,
    DEFAULT_LIMIT,
    ECHO_PARAMS,
    EXPANSION_PROPERTY_EXT,
    PREFERRED_FOR_LANGUAGE,
    SUPPLEMENT_EXT,
    VS_KEEP,
    _now,
    apply_supplements,
    language_matches,
    parse_languages,
    vs_parameters,
)
from terminology.params import Params
from terminology.shape import check_shape
from terminology.text import words_of
from terminology.workspace import Workspace, split_canonical


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
