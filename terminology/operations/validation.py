"""$validate-code against a code system or a value set, with the located issues the tx-ecosystem expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from terminology.codesystem import (
    STANDARDS_STATUS,
    CodeSystemIndex,
    Concept,
    version_matches,
)
from terminology.errors import MESSAGE_ID_EXT, TxError, invalid, make_issue
from terminology.expand import Entry, Expander, canonical, unknown_system
from terminology.operations.common import (
    DEFAULT_LIMIT,
    apply_supplements,
    language_matches,
    parse_languages,
    vs_parameters,
)
from terminology.operations.expansion import (
    VALUESET_DEPRECATED,
    _canonical_map,
    expand_options,
    resolve_value_set,
)
from terminology.params import Params, out
from terminology.workspace import Workspace


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

    def flag(self, severity: str, code: str, text: str, *, at: str | None = None, **details: Any) -> None:
        """Record an issue; ``at`` is the FHIRPath of the element it is about (sets ``expression``)."""
        if at is not None:
            details["expression"] = [at]
        self.issues.append(make_issue(severity, code, text, **details))

    def flag_unknown_system(self, err: TxError, path: str) -> None:
        """The error issue for a code system (or version) the server does not have."""
        self.flag("error", "not-found", err.message, tx_type="not-found", message_id=err.message_id,
                  at=_expr(path, "system"))  # fmt: skip

    def fail(self, code: str, text: str, *, at: str | None = None, **details: Any) -> None:
        """The coding is not valid: record an error issue and mark the check failed."""
        self.ok = False
        self.flag("error", code, text, at=at, **details)


def validate_code_cs(ws: Workspace, params: Params) -> dict[str, Any]:
    inline = params.resource("codeSystem")
    if inline is not None:
        ws.add(inline)
    codings, path = _validation_codings(params, "url")
    checks = [_check_coding(ws, c, p, params) for c, p in zip(codings, path, strict=True)]
    return _validation_result(checks, None, params)


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
            check.fail(
                "exception",
                f"The version '{check.cs.version}' is not allowed for system '{check.system}': "
                f"required to be '{pattern}' by a version-check parameter",
                tx_type="version-error",
                message_id="VALUESET_VERSION_CHECK",
                at=_expr(path, "version"),
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
            check.flag_unknown_system(err, path)
            check.unknown_system = f"{hint.system}|{asked}"
    if soft and not check.unknown_system:
        check.ok = False
        check.soft_failed = True
        bad_system = getattr(soft[0], "system", None)
        bad_version = getattr(soft[0], "version", None)
        if bad_system and bad_version and asked and bad_version != asked and bad_system == coding.get("system"):
            _add_mismatch(check, bad_system, bad_version, asked, path)
        check.flag(
            "error",
            soft[0].issue_type,
            soft[0].message,
            tx_type=soft[0].tx_type,
            message_id=soft[0].message_id,
            expression=[_expr(path, "system")] if bad_system else None,
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
    check.flag(
        "error",
        "invalid",
        f"The code system '{system}' version '{include_version}'{origin} in the ValueSet include is different to "
        f"the one in the value ('{asked}')",
        tx_type="vs-invalid",
        message_id="VALUESET_VALUE_MISMATCH_CHANGED" if forced_from is not None else "VALUESET_VALUE_MISMATCH",
        at=_expr(path, "version"),
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
        check.flag(
            "warning",
            "invalid",
            f"The code system '{hint.system}' version '{hint.version}' for the versionless include in the "
            f"ValueSet include is different to the one in the value ('{asked}')",
            tx_type="vs-invalid",
            message_id="VALUESET_VALUE_MISMATCH_DEFAULT",
            at=_expr(path, "version"),
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
        check.flag(
            "error",
            "invalid",
            text,
            tx_type="invalid-data",
            message_id="CODESYSTEM_CS_NO_SUPPLEMENT",
            expression=expression,
        )
        return True
    if ws.value_set(system) is not None:
        text = f"The Coding references a value set, not a code system ('{system}')"
        check.flag(
            "error",
            "invalid",
            text,
            tx_type="invalid-data",
            message_id="Terminology_TX_System_ValueSet2",
            expression=expression,
        )
        return True
    if ":" not in system:
        text = f"{path or 'Coding'}.system must be an absolute reference, not a local reference"
        check.flag(
            "error",
            "invalid",
            text,
            tx_type="invalid-data",
            message_id="Terminology_TX_System_Relative",
            expression=expression,
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
    check.flag(
        "warning",
        "code-invalid",
        text,
        tx_type="invalid-code",
        message_id="UNKNOWN_CODE_IN_FRAGMENT",
        at=_expr(path, "code"),
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
        check.flag_unknown_system(err, path)
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
        check.flag(
            "error",
            "code-invalid",
            f"Unknown code '{check.code}' in the CodeSystem '{cs.url}' version '{cs.version}'",
            tx_type="invalid-code",
            message_id="Unknown_Code_in_Version",
            at=_expr(path, "code"),
        )
        return check
    check.concept = concept
    if concept.deprecated and not concept.inactive:
        check.flag(
            "warning",
            "business-rule",
            f"The concept '{concept.code}' is deprecated and its use should be reviewed",
            tx_type="code-comment",
            message_id="DEPRECATED_CONCEPT_FOUND",
            at=_expr(path, "code"),
        )
    if concept.inactive:
        status = concept.status if concept.status and concept.status.lower() != "inactive" else None
        text = f"{status} and inactive" if status else "inactive"
        check.flag(
            "warning",
            "business-rule",
            f"The concept '{concept.code}' has a status of {text} and its use should be reviewed",
            tx_type="code-comment",
            message_id="INACTIVE_CONCEPT_FOUND",
            at=path or "code",
        )
    if not params.bool("valueset-membership-only", False):
        _check_display(check, path, params)
    return check


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
            check.flag(
                "information",
                "invalid",
                f"There are no valid display names found for the code {check.system}#{check.code} for language(s) "
                f"'{params.text('displayLanguage')}'. The display is '{check.display}' which is a valid display "
                f"for the default language",
                tx_type="invalid-display",
                message_id="NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK",
                at=_expr(path, "display"),
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
    check.flag(
        severity,
        "invalid",
        text,
        tx_type="invalid-display",
        message_id=mid,
        at=_expr(path, "display"),
        located=not multi_choice,
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
            check.flag(
                "warning",
                "invalid",
                text,
                tx_type="display-comment",
                message_id="INACTIVE_DISPLAY_FOUND",
                at=_expr(path, "display"),
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
        check.fail(
            "business-rule",
            f"Code '{check.system}#{check.concept.code}' is abstract, and not allowed in this context",
            tx_type="code-rule",
            message_id="ABSTRACT_CODE_NOT_ALLOWED",
            at=_expr(path, "code"),
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
        check.flag(
            "warning",
            "invalid",
            "Coding has no system. A code with no system has no defined meaning, and it cannot "
            "be validated. A system should be provided",
            tx_type="invalid-data",
            message_id="Coding_has_no_system__cannot_validate",
            at=path or "code",
        )
    key = (check.system or "", check.concept.code if check.concept else check.code or "")
    entry = None if excluded else members.get(key)
    if entry is not None and active_only and entry.inactive:
        check.flag(
            "error",
            "business-rule",
            f"The concept '{check.code}' is valid but is not active",
            tx_type="code-rule",
            message_id="STATUS_CODE_WARNING_CODE",
            at=_expr(path, "code"),
        )
        entry = None
    if entry is not None and any(
        e.get("url") == VALUESET_DEPRECATED and e.get("valueBoolean") for e in entry.vs_extensions
    ):
        check.flag(
            "warning",
            "business-rule",
            f"The presence of the concept '{entry.code}' in the system '{entry.system}' in the value set "
            f"{canonical(vs)} is marked with a status of deprecated and its use should be reviewed",
            tx_type="code-comment",
            message_id="CONCEPT_DEPRECATED_IN_VALUESET",
            at=_expr(path, "code"),
        )
    check.member = entry is not None
    if entry is None:
        check.ok = False
        in_cc = path.startswith("CodeableConcept")
        label = f"{check.system or ''}{'|' + check.version if check.version else ''}#{check.code}"
        if check.display:
            label += f" ('{check.display}')"
        check.flag(
            "information" if in_cc else "error",
            "code-invalid",
            f"The provided code '{label}' was not found in the value set '{canonical(vs) or '(unidentified)'}'",
            tx_type="this-code-not-in-vs" if in_cc else "not-in-vs",
            message_id="None_of_the_provided_codes_are_in_the_value_set_one",
            at=_expr(path, "code"),
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
