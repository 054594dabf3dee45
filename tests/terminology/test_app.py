"""Wiring into the full app: bundled content at start-up, MapContext protocol, CLI loaders."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from bridge.db import get_db
from bridge.server import prepare
from terminology import get_service

FIXTURES = Path(__file__).parent / "fixtures"


def test_prepare_loads_bundled_once(app: Flask, client: FlaskClient, auth_headers: dict[str, str]) -> None:
    app.config["LOAD_BUNDLED_TERMINOLOGY"] = True  # the test app turns it off
    prepare(app)
    prepare(app)  # idempotent
    res = client.get("/fhir/CodeSystem?url=http://hl7.org/fhir/administrative-gender", headers=auth_headers)
    assert res.get_json()["total"] == 1
    svc = get_service(app)
    assert svc.validate_code("http://hl7.org/fhir/administrative-gender", "female") is True
    assert svc.validate_code("http://hl7.org/fhir/administrative-gender", "F") is False
    assert svc.display("http://terminology.hl7.org/CodeSystem/v2-0004", "I") == "Inpatient"


def test_cli_load_csv_and_fhir(app: Flask, runner: object) -> None:
    result = runner.invoke(  # type: ignore[attr-defined]
        args=["terminology", "load", "csv", str(FIXTURES / "simple.csv"), "--url", "urn:test:cli", "--name", "Cli"]
    )
    assert result.exit_code == 0, result.output
    assert "urn:test:cli" in result.output and "4 concepts" in result.output
    again = runner.invoke(  # type: ignore[attr-defined]
        args=["terminology", "load", "csv", str(FIXTURES / "simple.csv"), "--url", "urn:test:cli", "--name", "Cli"]
    )
    assert "unchanged" in again.output
    bundled = runner.invoke(args=["terminology", "load", "bundled"])  # type: ignore[attr-defined]
    assert bundled.exit_code == 0 and "administrative-gender" in bundled.output
    regions = runner.invoke(  # type: ignore[attr-defined]
        args=["terminology", "load", "regions", str(FIXTURES / "wilayah.csv"), "--version", "2024"]
    )
    assert regions.exit_code == 0, regions.output
    assert get_service(app).display("urn:jembatan:codesystem:kemendagri-wilayah", "1101012001") == "Keude Bakongan"
    assert get_db(app) is not None
