"""Runs the HL7 terminology-ecosystem suites against the app, judged as the official runner does.

Every general-mode test must pass (``PASS_FLOOR`` = all of them); the count is printed (``pytest -s``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tx_ecosystem.runner import TESTS_DIR, compare, make_app, run_all

PASS_FLOOR = 418


@pytest.mark.skipif(not (TESTS_DIR / "test-cases.json").exists(), reason="tx-tests not present")
def test_tx_ecosystem_suites(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'tx.sqlite3'}")
    results = run_all(app.test_client(), {})
    passed = sum(r.ok for r in results)
    print(f"\nHL7 terminology ecosystem: passed {passed} of {len(results)}")
    failures = [f"{r.suite}/{r.name}: {r.message[:200]}" for r in results if not r.ok]
    assert passed >= PASS_FLOOR, failures
    assert not failures, failures


def test_property_listed_as_optional_must_still_be_expected() -> None:
    """As CompareUtilities: ``$optional-properties$`` lets the server omit a property, not add one."""
    expected = {"$optional-properties$": ["location"], "code": "x"}
    assert compare(expected, {"code": "x"}) is None
    assert compare(expected, {"code": "x", "location": ["y"]}) is not None
    assert compare({**expected, "location": ["y"]}, {"code": "x", "location": ["y"]}) is None


def test_control_keys_other_than_optional_are_not_ignored() -> None:
    """Only ``$optional$`` (and the two list keys under ``$optional-properties$``) are skipped."""
    assert compare({"$only$": "version:4", "a": 1}, {"a": 1}) is not None
    assert compare({"$optional-properties$": [], "$count-arrays$": ["a"], "a": [1]}, {"a": [2]}) is None


def test_optional_filters_and_pattern_mode() -> None:
    assert compare([{"$optional$": "!tx.fhir.org", "a": 1}], []) is None
    assert compare([{"$optional$": "snomed", "a": 1}], []) is not None  # mode not on: required
    assert compare([{"a": 1}], [{"a": 1}, {"a": 2}]) is not None
    assert compare([{"a": 1}], [{"a": 2}, {"a": 1, "b": 3}], pattern=True) is None
