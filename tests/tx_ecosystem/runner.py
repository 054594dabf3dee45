"""Runs the HL7 terminology-ecosystem test suites (``test-cases.json``) against our ``/fhir`` API.

It judges as the official runner (TxTester + CompareUtilities, modes = ``general``) does: every
suite ``setup`` file goes with each request as a ``tx-resource`` parameter, the ``profile``
(default ``parameters-default.json``) parameters are appended, ``Accept-Language`` is sent, a
test ``header`` only when its mode is on; the HTTP status class is checked and the R4 answer (R5
extensions unwrapped) is scrubbed per operation (ValueSet: text/meta/unmanaged extensions, not
below ``compose``; Parameters: meta only; OperationOutcome: as ``scrubOO``, for
``cs-validate-code`` only its text) and compared to the R5 expectation:

- an actual property the expectation does not name fails, even if ``$optional-properties$``
  lists it (that list lets the server omit a property, not add one); an expected property is
  required unless it is ``$optional$``, listed (``*`` = all), or an array of ``$optional$`` items;
- ``$optional$`` filters: ``true``, ``"!mode"``, ``"warning:…"``, ``"version:N"``, ``"mode"``;
- arrays: not longer than expected, not shorter than the required items, order-free (the
  official runner sorts both sides); ``$count-arrays$`` compares only lengths;
- metadata/term-caps in pattern mode (extra properties and array items allowed);
- ``$$ $id$ $uuid$ $instant$ $date$ $string$ $url$ $token$ $semver$ $version$ $choice:…$
  $fragments:…$ $external:N:…$`` (fragments only: no externals file).

Usage: ``python -m tests.tx_ecosystem.runner [--suite NAME] [--filter TEXT] [-v]``.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parents[3] / "shared" / "tx-tests"  # beside the project root
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
MANAGED_EXTENSIONS = frozenset(
    {
        "http://hl7.org/fhir/StructureDefinition/codesystem-alternate",
        "http://hl7.org/fhir/StructureDefinition/codesystem-conceptOrder",
        "http://hl7.org/fhir/StructureDefinition/codesystem-label",
        "http://hl7.org/fhir/StructureDefinition/coding-sctdescid",
        "http://hl7.org/fhir/StructureDefinition/itemWeight",
        "http://hl7.org/fhir/StructureDefinition/rendering-style",
        "http://hl7.org/fhir/StructureDefinition/rendering-xhtml",
        "http://hl7.org/fhir/StructureDefinition/translation",
        "http://hl7.org/fhir/StructureDefinition/valueset-concept-definition",
        "http://hl7.org/fhir/StructureDefinition/valueset-conceptOrder",
        "http://hl7.org/fhir/StructureDefinition/valueset-deprecated",
        "http://hl7.org/fhir/StructureDefinition/valueset-label",
        "http://hl7.org/fhir/StructureDefinition/valueset-supplement",
        "http://hl7.org/fhir/test/CodeSystem/de-multi",
        "http://hl7.org/fhir/test/CodeSystem/en-multi",
        "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-1",
        "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-3",
        "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-4",
        "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-5",
        "http://hl7.org/fhir/test/ValueSet/extensions-bad-supplement",
        "http://hl7.org/fhir/test/ValueSet/simple-all",
        "http://hl7.org/fhir/test/ValueSet/simple-enumerated",
        "http://hl7.org/fhir/StructureDefinition/alternate-code-use",
        "http://hl7.org/fhir/StructureDefinition/alternate-code-status",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status",
        "http://hl7.org/fhir/test/ValueSet/simple-filter-isa",
    }
)
MODES: frozenset[str] = frozenset({"general"})
PATTERNS = {
    "$$": r"[\s\S]*",
    "$id$": r"[A-Za-z0-9\-\.]{1,64}",
    "$uuid$": r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "$instant$": r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?"
    r"(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))",
    "$date$": r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?"
    r"(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?",
    "$url$": r"(https?://|www\.)[-a-zA-Z0-9+&@#/%?=~_|!:.;]*[-a-zA-Z0-9+&@#/%=~_|]",
    "$token$": r"[0-9a-zA-Z_][0-9a-zA-Z_\.\-]*",
    "$semver$": r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z\-.]+)?(?:\+[0-9A-Za-z\-.]+)?",
}
SERVER_VERSION = "4.0.1"


@dataclass
class Result:
    suite: str
    name: str
    ok: bool
    message: str = ""


# ------------------------------------------------------------------------------------------------
# comparison
# ------------------------------------------------------------------------------------------------
def passes_optional_filter(flag: Any) -> bool:
    """``$optional$``: ``true``, ``"!mode"`` (optional unless in that mode), ``"warning:…"`` (always),
    ``"version:N"`` (optional when the server's FHIR version starts with N) or ``"mode"``."""
    if isinstance(flag, bool):
        return flag
    flag = str(flag)
    if flag.startswith("!"):
        return flag[1:] not in MODES
    if flag.startswith("warning:"):
        return True
    if flag.startswith("version:"):
        return SERVER_VERSION.startswith(flag.split(":", 1)[1])
    return flag in MODES


def is_optional(node: Any) -> bool:
    return isinstance(node, dict) and "$optional$" in node and passes_optional_filter(node["$optional$"])


def compare(expected: Any, actual: Any, path: str = "$", pattern: bool = False) -> str | None:
    """The official CompareUtilities rules (``pattern`` = its pattern mode, used for metadata)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {json.dumps(actual)[:80]}"
        return _compare_objects(expected, actual, path, pattern)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array"
        return _compare_arrays(expected, actual, path, pattern)
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return f"{path}: expected string {expected!r}, got {actual!r}"
        return None if match_string(expected, actual) else f"{path}: expected {expected!r}, got {actual!r}"
    if expected != actual or type(expected) is not type(actual):
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


def _optional_names(expected: dict[str, Any]) -> set[str]:
    """``$optional-properties$`` lists names the server may omit (``*`` = all); only then are the
    two control keys themselves optional. Every other ``$…$`` key must be present like any other."""
    if "$optional-properties$" not in expected:
        return {"$optional$"}
    return {"$optional$", "$optional-properties$", "$count-arrays$", *expected["$optional-properties$"]}


def _compare_objects(expected: dict[str, Any], actual: dict[str, Any], path: str, pattern: bool) -> str | None:
    optionals = _optional_names(expected)
    count_only = set(expected.get("$count-arrays$", []))
    for key, value in actual.items():
        if key not in expected:
            if pattern:
                continue
            return f"{path}: unexpected property {key} = {json.dumps(value)[:120]}"
        if key in count_only:
            if not isinstance(value, list) or len(value) != len(expected[key]):
                return f"{path}.{key}: array count differs"
            continue
        problem = compare(expected[key], value, f"{path}.{key}", pattern)
        if problem:
            return problem
    for key, value in expected.items():
        if key in optionals or "*" in optionals:
            continue
        if key not in actual and not _all_optional(value):
            return f"{path}: missing property {key}"
    return None


def _all_optional(value: Any) -> bool:
    """An array whose object members all carry ``$optional$`` (whatever its filter) may be absent."""
    if not isinstance(value, list):
        return False
    return all("$optional$" in v for v in value if isinstance(v, dict))


def _compare_arrays(expected: list[Any], actual: list[Any], path: str, pattern: bool) -> str | None:
    """Order-free (the official runner sorts both sides first). Not in pattern mode, the actual
    array may not be longer than the expected one nor shorter than its required members."""
    required = [e for e in expected if not is_optional(e)]
    optional = [e for e in expected if is_optional(e)]
    if not pattern and (len(actual) > len(expected) or len(actual) < len(required)):
        return f"{path}: array item count differs (expected {len(required)}..{len(expected)}, got {len(actual)})"
    used: set[int] = set()
    for item in required:
        index = _find(item, actual, used, pattern)
        if index is None:
            reason = _closest_reason(item, actual, used, path, pattern)
            return f"{path}: no match for {json.dumps(_strip(item))[:200]} ({reason})"
        used.add(index)
    for item in optional:
        index = _find(item, actual, used, pattern)
        if index is not None:
            used.add(index)
    if not pattern and len(used) < len(actual):
        extra = [actual[i] for i in range(len(actual)) if i not in used]
        return f"{path}: unexpected array item(s) {json.dumps(extra)[:300]}"
    return None


def _find(item: Any, actual: list[Any], used: set[int], pattern: bool) -> int | None:
    for index, candidate in enumerate(actual):
        if index not in used and compare(item, candidate, "$", pattern) is None:
            return index
    return None


def _closest_reason(item: Any, actual: list[Any], used: set[int], path: str, pattern: bool) -> str:
    candidates = [c for i, c in enumerate(actual) if i not in used]
    for key in ("code", "name", "type"):
        if isinstance(item, dict) and key in item:
            same = [c for c in candidates if isinstance(c, dict) and c.get(key) == item[key]]
            candidates = same or candidates
    reasons = [compare(item, c, path, pattern) for c in candidates]
    return str(reasons[0]) if reasons else "nothing left"


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if not k.startswith("$")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def match_string(expected: str, actual: str) -> bool:
    if not (expected.startswith("$") and expected.endswith("$") and len(expected) > 1):
        return expected == actual
    if expected in PATTERNS:
        return re.fullmatch(PATTERNS[expected], actual) is not None
    if expected == "$string$":
        return actual == actual.strip()
    if expected == "$version$":
        return actual == SERVER_VERSION
    if expected.startswith("$choice:"):
        return actual in expected[len("$choice:") : -1].split("|")
    if expected.startswith("$fragments:"):
        return all(f.lower() in actual.lower() for f in expected[len("$fragments:") : -1].split("|"))
    if expected.startswith("$external:"):
        parts = expected[1:-1].split(":")
        if len(parts) <= 2:
            return True
        return all(f.lower() in actual.lower() for f in parts[2].split("|"))
    raise ValueError(f"unhandled template {expected}")


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


def _managed(ext: Any) -> bool:
    url = str(ext.get("url", "")) if isinstance(ext, dict) else ""
    return not re.match(r"^[a-z][a-z0-9+.\-]*:", url) or url in MANAGED_EXTENSIONS


def _drop_extensions(node: Any) -> Any:
    """The official scrubber's element visitor: unmanaged extensions go everywhere, except below
    ``ValueSet.compose`` (compose's own extensions go, its children are not visited)."""
    if isinstance(node, list):
        return [_drop_extensions(v) for v in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("extension", "modifierExtension") and isinstance(value, list):
            value = [e for e in value if _managed(e)]
            if value:
                result[key] = value
            continue
        if key == "compose" and node.get("resourceType") == "ValueSet" and isinstance(value, dict):
            result[key] = {k: v for k, v in value.items() if k != "extension" or any(_managed(e) for e in v)}
            continue
        result[key] = _drop_extensions(value)
    return result


def scrub_domain_resource(resource: dict[str, Any]) -> dict[str, Any]:
    return _drop_extensions({k: v for k, v in resource.items() if k not in ("text", "meta")})


def scrub_outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    result = scrub_domain_resource(outcome)
    issues = [i for i in result.get("issue", []) if not ("diagnostics" in i and "details" not in i)]
    result["issue"] = [{k: v for k, v in i.items() if k != "diagnostics"} for i in issues]
    return result


def scrub(body: Any, operation: str) -> Any:
    """What the official runner does to a response before comparing it, per operation."""
    if not isinstance(body, dict):
        return body
    rtype = body.get("resourceType")
    if operation in ("metadata", "term-caps"):
        return {k: v for k, v in body.items() if k not in ("text", "meta")}
    if rtype == "OperationOutcome":
        if operation == "cs-validate-code":
            return {k: v for k, v in body.items() if k != "text"}
        return scrub_outcome(body)
    if rtype == "Parameters":
        return {k: v for k, v in body.items() if k != "meta"}
    return scrub_domain_resource(body)


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
    if header and header.get("mode") in MODES:  # as TxTester: a header goes only with its mode
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
    expected = load(test["response"])
    actual = scrub(to_r5(body), test["operation"])
    problem = compare(expected, actual, pattern=test["operation"] in ("metadata", "term-caps"))
    return Result(suite["name"], test["name"], problem is None, problem or "")


def _passes_modes(node: dict[str, Any]) -> bool:
    if any(m in MODES for m in node.get("modes", [])):
        return True
    return "mode" not in node or node["mode"] in MODES


def selected_tests(suite_filter: str | None = None, name_filter: str | None = None) -> list[tuple[dict, dict]]:
    cases = load("test-cases.json")
    chosen = []
    for suite in cases["suites"]:
        if not _passes_modes(suite):
            continue
        if suite_filter and suite["name"] != suite_filter:
            continue
        for test in suite["tests"]:
            if not _passes_modes(test) or test.get("disabled"):
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
