"""The DHIS2 formats and profiles inside the gateway: convert through the pivot, validate endpoint, CLI."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from adapters.dhis2.adx_xml import AdxCodec
from adapters.dhis2.dvs_json import DataValueSetJsonCodec
from adapters.dhis2.model import flatten, flatten_adx
from bridge.cli import convert_payload
from bridge.gateway import get_gateway
from tests.helpers import SHARED

SAMPLES = SHARED / "samples/dhis2"
BAD = {
    "dataSet": "DsTbMonth01",
    "period": "2024Q1",
    "orgUnit": "PkmPuter001",
    "attributeOptionCombo": "CocFund0001",
    "dataValues": [{"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocIm000001", "value": "x"}],
}


def test_formats_and_profiles_are_registered(app: Flask) -> None:
    with app.app_context():
        formats = get_gateway().formats
        assert {"dhis2.dvs+json", "dhis2.dvs+xml", "dhis2.dvs+csv", "dhis2.adx+xml"} <= {f.format_id for f in formats}
        assert {"dhis2", "dhis2-adx", "dhis2-measurereport"} <= set(formats.profiles())


def test_convert_adx_to_json_to_fhir_and_back(app: Flask) -> None:
    with app.app_context():
        gateway = get_gateway()
        several = convert_payload(
            gateway, "dhis2.adx+xml", "dhis2.dvs+json", (SAMPLES / "dhis2-core/adx/importA.adx.xml").read_bytes()
        )
        assert several.output is None and "GW-1564" in several.outcome.message_ids()
        raw = (SAMPLES / "dhis2-core/adx/exportA.adx.xml").read_bytes()
        to_json = convert_payload(gateway, "dhis2.adx+xml", "dhis2.dvs+json", raw)
        assert to_json.output is not None, to_json.outcome.issues
        to_fhir = convert_payload(gateway, "dhis2.dvs+json", "fhir+json", to_json.output)
        assert to_fhir.output is not None and b'"MeasureReport"' in to_fhir.output
        back = convert_payload(gateway, "fhir+json", "dhis2.adx+xml", to_fhir.output)
        assert back.output is not None, back.outcome.issues
    original = flatten_adx(AdxCodec().parse(raw))
    assert flatten_adx(AdxCodec().parse(back.output)) == original
    assert len(flatten(DataValueSetJsonCodec().parse(to_json.output))) == len(original) == 2


def test_validate_endpoint_reports_located_issues(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    resp = client.post(
        "/conformance/dhis2/$validate",
        data=json.dumps(BAD),
        headers={**auth_headers, "Content-Type": "application/json"},
    )
    assert resp.status_code == 422
    issues = resp.get_json()["issue"]
    found = {(i["details"]["coding"][0]["code"], i["expression"][0]) for i in issues}
    assert ("GW-4305", "dataValues[0].period") in found
    assert ("GW-4309", "dataValues[0].categoryOptionCombo") in found
    assert ("GW-4313", "dataValues[0].value") in found


def test_validate_endpoint_accepts_a_valid_set(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    good = {
        **BAD,
        "period": "202401",
        "dataValues": [{"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "2"}],
    }
    resp = client.post(
        "/conformance/dhis2/$validate",
        data=json.dumps(good),
        headers={**auth_headers, "Content-Type": "application/json"},
    )
    assert resp.status_code == 200, resp.get_json()


def test_pivot_profile_points_at_the_measure_report(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    with client.application.app_context():
        fhir = convert_payload(get_gateway(), "dhis2.dvs+json", "fhir+json", json.dumps(BAD).encode()).output
    assert fhir is not None
    resp = client.post(
        "/conformance/dhis2-measurereport/$validate",
        data=fhir,
        headers={**auth_headers, "Content-Type": "application/fhir+json"},
    )
    assert resp.status_code == 422
    expressions = {e for i in resp.get_json()["issue"] for e in i.get("expression", [])}
    assert "Bundle.entry[0].resource.dataValues[0].period" in expressions


def test_cli_validate_with_the_dhis2_profile(runner: object, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(BAD))
    result = runner.invoke(args=["validate", "--format", "dhis2", str(path)])  # type: ignore[attr-defined]
    assert result.exit_code == 1 and "GW-4305" in result.output + (result.stderr if hasattr(result, "stderr") else "")
