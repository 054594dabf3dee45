"""Runs the HL7 terminology-ecosystem test suites (``test-cases.json``) against our ``/fhir`` API.

It follows the official runner: every suite ``setup`` file goes with each request as a
``tx-resource`` parameter, the ``profile`` (default ``parameters-default.json``) parameters are
appended, ``Accept-Language`` and test headers are sent, the HTTP status class is checked and the
R4 answer (R5 extensions unwrapped) is compared to the R5 expectation with the template rules:
``$optional$``, ``$optional-properties$``, ``$count-arrays$``, ``$$``/``$id$``/``$uuid$``… regexes,
``$choice:a|b$``, ``$fragments:a|b$``, ``$external:N:frag|frag$`` (fragments only, no externals
file), array order ignored, ``text``/``meta`` and non-managed extensions scrubbed.

Usage: ``python -m tests.tx_ecosystem.runner [--suite NAME] [--filter TEXT] [-v]``.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS_DIR = Path("/work/shared/tx-tests")
SERVER_FHIR_VERSION = "4"
OPERATIONS = {
    "expand": ("POST", "/fhir/ValueSet/$expand"),
    "validate-code": ("POST", "/fhir/ValueSet/$validate-code"),
    "cs-validate-code": ("POST", "/fhir/CodeSystem/$validate-code"),
    "lookup": ("POST", "/fhir/CodeSystem/$lookup"),
    "translate": ("POST", "/fhir/ConceptMap/$translate"),
    "batch-validate": ("POST", "/fhir/ValueSet/$batch-validate-code"),
    "metadata": ("GET", "/fhir/metadata"),
    "term-caps": ("GET", "/fhir/metadata?mode=terminology"),
}
MANAGED_EXTENSIONS = (
    "http://hl7.org/fhir/StructureDefinition/codesystem-alternate",
    "http://hl7.org/fhir/StructureDefinition/codesystem-conceptOrder",
    "http://hl7.org/fhir/StructureDefinition/codesystem-label",
    "http://hl7.org/fhir/StructureDefinition/valueset-conceptOrder",
    "http://hl7.org/fhir/StructureDefinition/valueset-label",
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
    "http://hl7.org/fhir/StructureDefinition/rendering-",
    "http://hl7.org/fhir/StructureDefinition/translation",
    "http://hl7.org/fhir/StructureDefinition/valueset-concept-definition",
    "http://hl7.org/fhir/StructureDefinition/valueset-deprecated",
    "http://hl7.org/fhir/StructureDefinition/valueset-supplement",
    "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id",
    "http://hl7.org/fhir/uv/application-feature/StructureDefinition/feature",
    "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status",
    "http://hl7.org/fhir/StructureDefinition/valueset-special-status",
    "http://hl7.org/fhir/StructureDefinition/codesystem-properties-mode",
)
PATTERNS = {
    "$$": r"[\s\S]*",
    "$id$": r"[A-Za-z0-9\-\.]{1,64}",
    "$uuid$": r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "$instant$": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
    "$date$": r"\d{4}(-\d{2}(-\d{2})?)?",
    "$string$": r"[\s\S]+",
    "$url$": r"(https?://|urn:)\S+",
    "$token$": r"\S+",
    "$semver$": r"\d+\.\d+\.\d+(-[A-Za-z0-9.\-]+)?",
    "$version$": r"4\.\d+\.\d+",
}


@dataclass
class Result:
    suite: str
    name: str
    ok: bool
    message: str = ""


# ------------------------------------------------------------------------------------------------
# comparison
# ------------------------------------------------------------------------------------------------
def is_optional(node: Any) -> bool:
    if not isinstance(node, dict) or "$optional$" not in node:
        return False
    flag = node["$optional$"]
    if isinstance(flag, bool):
        return flag
    flag = str(flag)
    if flag.startswith("version:"):
        return flag.split(":", 1)[1] == SERVER_FHIR_VERSION
    if flag.startswith("!"):
        return True  # "!tx.fhir.org": optional for every server but tx.fhir.org
    return True  # e.g. "warning:version"


def compare(expected: Any, actual: Any, path: str = "$") -> str | None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {json.dumps(actual)[:80]}"
        return _compare_objects(expected, actual, path)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array"
        return _compare_arrays(expected, actual, path)
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return f"{path}: expected string {expected!r}, got {actual!r}"
        return None if match_string(expected, actual) else f"{path}: expected {expected!r}, got {actual!r}"
    if expected != actual or type(expected) is not type(actual):
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


def _compare_objects(expected: dict[str, Any], actual: dict[str, Any], path: str) -> str | None:
    optionals = set(expected.get("$optional-properties$", []))
    count_only = set(expected.get("$count-arrays$", []))
    for key, value in actual.items():
        if key not in expected and key in optionals:
            continue  # tolerated: the expectation says it may be absent, we send it
        if key not in expected:
            return f"{path}: unexpected property {key} = {json.dumps(value)[:120]}"
        if key in count_only:
            if not isinstance(value, list) or len(value) != len(expected[key]):
                return f"{path}.{key}: array count differs"
            continue
        problem = compare(expected[key], value, f"{path}.{key}")
        if problem:
            return problem
    for key, value in expected.items():
        if key.startswith("$"):
            continue
        if key not in actual and key not in optionals and not _all_optional(value):
            return f"{path}: missing property {key}"
    return None


def _all_optional(value: Any) -> bool:
    if isinstance(value, list):
        return all(is_optional(v) for v in value)
    return is_optional(value)


def _compare_arrays(expected: list[Any], actual: list[Any], path: str) -> str | None:
    used: set[int] = set()
    required = [e for e in expected if not is_optional(e)]
    optional = [e for e in expected if is_optional(e)]
    for item in required:
        index = _find(item, actual, used)
        if index is None:
            reason = _closest_reason(item, actual, used, path)
            return f"{path}: no match for {json.dumps(_strip(item))[:200]} ({reason})"
        used.add(index)
    for item in optional:
        index = _find(item, actual, used)
        if index is not None:
            used.add(index)
    if len(used) < len(actual):
        extra = [actual[i] for i in range(len(actual)) if i not in used]
        return f"{path}: unexpected array item(s) {json.dumps(extra)[:300]}"
    return None


def _find(item: Any, actual: list[Any], used: set[int]) -> int | None:
    for index, candidate in enumerate(actual):
        if index not in used and compare(item, candidate) is None:
            return index
    return None


def _closest_reason(item: Any, actual: list[Any], used: set[int], path: str) -> str:
    reasons = [compare(item, c, path) for i, c in enumerate(actual) if i not in used]
    if isinstance(item, dict) and "name" in item:
        same = [
            compare(item, c, path)
            for i, c in enumerate(actual)
            if i not in used and isinstance(c, dict) and c.get("name") == item["name"]
        ]
        reasons = same or reasons
    if isinstance(item, dict) and "code" in item:
        same = [
            compare(item, c, path)
            for i, c in enumerate(actual)
            if i not in used and isinstance(c, dict) and c.get("code") == item["code"]
        ]
        reasons = same or reasons
    return str(reasons[0]) if reasons else "nothing left"


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if not k.startswith("$")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def match_string(expected: str, actual: str) -> bool:
    if expected in PATTERNS:
        return re.fullmatch(PATTERNS[expected], actual) is not None
    if expected.startswith("$choice:") and expected.endswith("$"):
        return actual in expected[len("$choice:") : -1].split("|")
    if expected.startswith("$fragments:") and expected.endswith("$"):
        return all(f.lower() in actual.lower() for f in expected[len("$fragments:") : -1].split("|"))
    if expected.startswith("$external:") and expected.endswith("$"):
        body = expected[len("$external:") : -1]
        _, _, fragments = body.partition(":")
        return all(f in actual for f in fragments.split("|") if f) if fragments else True
    return expected == actual


# ------------------------------------------------------------------------------------------------
# R4 -> R5 and scrubbing of the actual answer
# ------------------------------------------------------------------------------------------------
EXP_PROP = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.property"
CONTAINS_PROP = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.contains.property"


def to_r5(node: Any) -> Any:
    """Unwrap the R5 cross-version extensions of ValueSet.expansion back into R5 elements."""
    if isinstance(node, list):
        return [to_r5(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: to_r5(v) for k, v in node.items()}
    exts = node.get("extension")
    if isinstance(exts, list):
        keep, props = [], []
        for ext in exts:
            if ext.get("url") in (EXP_PROP, CONTAINS_PROP):
                props.append({e["url"]: _ext_value(e) for e in ext.get("extension", [])})
            else:
                keep.append(ext)
        if props:
            node["property"] = [_prop_entry(p) for p in props]
        if keep:
            node["extension"] = keep
        else:
            node.pop("extension")
    return node


def _ext_value(ext: dict[str, Any]) -> Any:
    return next(((k, v) for k, v in ext.items() if k.startswith("value")), None)


def _prop_entry(parts: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for name, value in parts.items():
        if value is None:
            continue
        key, val = value
        if name == "code":
            entry["code"] = val
        elif name == "uri":
            entry["uri"] = val
        elif name == "value":
            entry[key] = val
    return entry


def scrub(node: Any, parent_type: str | None = None) -> Any:
    if isinstance(node, list):
        return [scrub(v, parent_type) for v in node]
    if not isinstance(node, dict):
        return node
    rtype = node.get("resourceType", parent_type)
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("text",) and "resourceType" in node:
            continue
        if key == "meta" and "resourceType" in node:
            continue
        if key == "extension" and isinstance(value, list):
            value = [e for e in value if any(str(e.get("url", "")).startswith(m) for m in MANAGED_EXTENSIONS)]
            if not value:
                continue
        if key == "compose" and rtype == "ValueSet":
            continue
        result[key] = scrub(value, rtype)
    if node.get("resourceType") == "OperationOutcome":
        issues = [i for i in result.get("issue", []) if not ("diagnostics" in i and "details" not in i)]
        for issue in issues:
            issue.pop("diagnostics", None)
        result["issue"] = issues
    return result


# ------------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------------
def load(name: str) -> Any:
    return json.loads((TESTS_DIR / name).read_text(encoding="utf-8-sig"))


def build_request(suite: dict[str, Any], test: dict[str, Any]) -> dict[str, Any]:
    request = load(test["request"]) if test.get("request") else {"resourceType": "Parameters", "parameter": []}
    params = list(request.get("parameter", []))
    params.extend({"name": "tx-resource", "resource": load(f)} for f in suite.get("setup", []))
    profile = load(test.get("profile", "parameters-default.json"))
    params.extend(profile.get("parameter", []))
    if test["operation"] == "batch-validate":
        return {"resourceType": "Parameters", "parameter": params}
    return {"resourceType": "Parameters", "parameter": params}


def run_test(client: Any, headers: dict[str, str], suite: dict[str, Any], test: dict[str, Any]) -> Result:
    method, url = OPERATIONS[test["operation"]]
    send = dict(headers)
    if test.get("Accept-Language"):
        send["Accept-Language"] = test["Accept-Language"]
    header = test.get("header")
    if header and not header.get("mode"):
        send[header["name"]] = header["value"]
    if method == "GET":
        response = client.get(url, headers=send)
    else:
        response = client.post(url, json=build_request(suite, test), headers=send)
    expected_class = test.get("http-code", "2xx")
    got_class = f"{response.status_code // 100}xx"
    body = response.get_json(silent=True)
    if got_class != expected_class:
        return Result(
            suite["name"],
            test["name"],
            False,
            f"HTTP {response.status_code}, expected {expected_class}: {json.dumps(body)[:300]}",
        )
    expected = scrub(load(test["response"]))
    actual = scrub(to_r5(body))
    problem = compare(expected, actual)
    return Result(suite["name"], test["name"], problem is None, problem or "")


def selected_tests(suite_filter: str | None = None, name_filter: str | None = None) -> list[tuple[dict, dict]]:
    cases = load("test-cases.json")
    chosen = []
    for suite in cases["suites"]:
        if suite.get("mode") not in (None, "general"):
            continue
        if suite_filter and suite["name"] != suite_filter:
            continue
        for test in suite["tests"]:
            if test.get("mode"):
                continue
            if name_filter and name_filter not in test["name"]:
                continue
            chosen.append((suite, test))
    return chosen


def run_all(
    client: Any, headers: dict[str, str], suite_filter: str | None = None, name_filter: str | None = None
) -> list[Result]:
    results = []
    for suite, test in selected_tests(suite_filter, name_filter):
        try:
            results.append(run_test(client, headers, suite, test))
        except Exception as exc:  # noqa: BLE001 - a runner reports, it does not stop
            results.append(Result(suite["name"], test["name"], False, f"runner error: {exc!r}"))
    return results


def make_app(db_url: str) -> Any:
    """A minimal app with only the terminology feature (used until/unless the full app is wanted)."""
    from flask import Flask

    import terminology
    from bridge.db import Database, upgrade

    app = Flask("tx-tests")
    app.config["DATABASE_URL"] = db_url
    database = Database(db_url)
    upgrade(database.engine)
    app.extensions["jembatan.db"] = database
    terminology.init_app(app)
    return app


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--suite")
    parser.add_argument("--filter")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(f"sqlite:///{tmp}/tx.db")
        results = run_all(app.test_client(), {}, args.suite, args.filter)
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"FAIL {r.suite}/{r.name}: {r.message if args.verbose else r.message[:300]}")
    by_suite: dict[str, list[int]] = {}
    for r in results:
        by_suite.setdefault(r.suite, [0, 0])[0 if r.ok else 1] += 1
    for suite, (ok, bad) in by_suite.items():
        print(f"{suite:15s} {ok:4d} passed {bad:4d} failed")
    print(f"passed {len(results) - len(failed)} of {len(results)} HL7 terminology service tests")


if __name__ == "__main__":
    main()
