"""Runs the HL7 terminology-ecosystem suites against the app and guards the pass count.

Not all tests pass yet (see docs/terminology.md for the failing groups); the floor below only
rises. The count is printed (``pytest -s``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tx_ecosystem.runner import TESTS_DIR, make_app, run_all

PASS_FLOOR = 412


@pytest.mark.skipif(not (TESTS_DIR / "test-cases.json").exists(), reason="tx-tests not present")
def test_tx_ecosystem_suites(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'tx.sqlite3'}")
    results = run_all(app.test_client(), {})
    passed = sum(r.ok for r in results)
    print(f"\nHL7 terminology ecosystem: passed {passed} of {len(results)}")
    assert passed >= PASS_FLOOR
    for must in ("simple-cases", "big", "errors"):
        suite = [r for r in results if r.suite == must]
        assert sum(r.ok for r in suite) >= len(suite) - 2, must
