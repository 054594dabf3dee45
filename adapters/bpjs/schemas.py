"""JSON Schemas of the BPJS payloads (``conformance/schemas/bpjs/<kind>.schema.json``) as validators.

Schema violations become located issues (``location`` = JSON pointer into the payload):
GW-4201 for a violation, GW-4202 (warning) for a field the catalogue does not list — BPJS adds
fields without notice, so an unknown field is worth a look but not a rejection.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from bridge.errors import ConformanceError
from conformance.outcome import Issue, Outcome

__all__ = ["SCHEMA_DIR", "load_schema", "pointer", "schema_issues", "validator_for"]

_REQUIRED = re.compile(r"^'([^']+)' is a required property")
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "conformance" / "schemas" / "bpjs"


@cache
def load_schema(kind: str) -> dict[str, Any]:
    path = SCHEMA_DIR / f"{kind}.schema.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:
        raise ConformanceError("GW-4290", f"BPJS schema {kind!r} cannot be loaded: {exc}") from exc


@cache
def validator_for(kind: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(kind), format_checker=FormatChecker())


def pointer(path: Any) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path) if path else "/"


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """The most specific errors (anyOf/if-then branches report their causes, not the wrapper)."""
    if error.context:
        best = [e for e in error.context if e.validator != "type"] or list(error.context)
        return [leaf for sub in best for leaf in _leaf_errors(sub)]
    return [error]


def _issue(error: ValidationError) -> Issue:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = _REQUIRED.match(error.message)
        path += [missing.group(1)] if missing else []
    where = pointer(path)
    if error.validator == "additionalProperties":
        return Issue.warning("structure", f"{where}: {error.message}", location=where, message_id="GW-4202")
    return Issue.error("structure", f"{where}: {error.message}", location=where, message_id="GW-4201")


def schema_issues(kind: str, data: Any) -> Outcome:
    outcome = Outcome()
    seen: set[tuple[str, str]] = set()
    for error in sorted(validator_for(kind).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        for leaf in _leaf_errors(error):
            issue = _issue(leaf)
            key = (issue.location[0], issue.message)
            if key not in seen:
                seen.add(key)
                outcome.add(issue)
    return outcome
