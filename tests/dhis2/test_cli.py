"""``jembatan dhis2 metadata|push|indicators`` against the simulator served on a local port."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from bridge.db import get_db
from bridge.models import Transaction, compress
from bridge.simulators.dhis2 import create_app
from tests.dhis2.synthetic import FACILITY_SYSTEM, generate

TOKEN = "d2pat_jembatanDemoToken0000000000000000"
TB = {"dataSet": "DsTbMonth01", "period": "202401", "orgUnit": "PkmPuter001", "attributeOptionCombo": "CocFund0001"}
GOOD = {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "3"}


@pytest.fixture
def simulator() -> Iterator[tuple[str, Flask]]:
    sim = create_app()
    server = make_server("127.0.0.1", 0, sim, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", sim
    server.shutdown()
    thread.join(5)


@pytest.fixture
def configured(app: Flask, simulator: tuple[str, Flask], tmp_path: Path) -> Flask:
    app.config["DESTINATIONS"] = {
        **app.config.get("DESTINATIONS", {}),
        "dhis2-demo": {
            "type": "dhis2",
            "base_url": simulator[0],
            "token": TOKEN,
            "metadata_cache": str(tmp_path / "meta.json"),
        },
    }
    return app


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["dhis2", *args])


def test_metadata_command_pulls_and_caches(configured: Flask, tmp_path: Path) -> None:
    result = run(configured, "metadata", "dhis2-demo")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["dataSets"] == 5
    assert (tmp_path / "meta.json").is_file()


def test_push_command(configured: Flask, tmp_path: Path, simulator: tuple[str, Flask]) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({**TB, "dataValues": [GOOD]}))
    result = run(configured, "push", "dhis2-demo", str(good))
    assert result.exit_code == 0, result.output
    assert '"imported": 1' in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**TB, "period": "2024Q1", "dataValues": [GOOD]}))
    result = run(configured, "push", "dhis2-demo", str(bad))
    assert result.exit_code == 1 and "GW-4305" in result.output and "nothing was sent" in result.output
    assert len(simulator[1].extensions["dhis2_state"].values) == 1  # type: ignore[attr-defined]


def _store(app: Flask, resources: list[dict[str, Any]]) -> None:
    bundle = json.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    ).encode()
    with get_db(app).session() as sess:
        sess.add(
            Transaction(
                channel="fhir-intake",
                source_format="fhir+json",
                target_format="fhir+json",
                content_hash="sha256:" + hashlib.sha256(bundle).hexdigest(),
                raw_z=compress(bundle),
                output_z=compress(bundle),
                status="accepted",
                status_history=[],
                flags=[],
                mappings_used={},
                timings_ms={},
                duplicate_count=0,
            )
        )


def test_indicators_command_over_processed_transactions(configured: Flask, simulator: tuple[str, Flask]) -> None:
    _store(configured, generate(300))
    printed = run(
        configured,
        "indicators",
        "tb-new-cases",
        "202401",
        "--facility-system",
        FACILITY_SYSTEM,
        "--org-unit-scheme",
        "attribute:KodeFaskes1",
    )
    assert printed.exit_code == 0, printed.output
    assert "urn:ihe:qrph:adx:2015" in printed.output and 'SEX="L"' in printed.output
    configured.config["DESTINATIONS"]["dhis2-demo"]["id_schemes"] = {
        "idScheme": "code",
        "orgUnitIdScheme": "attribute:KodeFaskes1",
    }
    pushed = run(
        configured,
        "indicators",
        "tb-new-cases",
        "202401",
        "--facility-system",
        FACILITY_SYSTEM,
        "--org-unit-scheme",
        "attribute:KodeFaskes1",
        "--push",
        "dhis2-demo",
    )
    assert pushed.exit_code == 0, pushed.output
    assert '"imported": 24' in pushed.output
