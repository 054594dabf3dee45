"""The DHIS2 simulator enforces DHIS2's import rules and ImportSummary semantics."""

from __future__ import annotations

import base64
import json

import pytest
from flask.testing import FlaskClient

from bridge.simulators.dhis2 import create_app
from tests.helpers import SHARED

SAMPLES = SHARED / "samples/dhis2"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:district").decode()}
TB = {"dataSet": "DsTbMonth01", "period": "202401", "orgUnit": "PkmPuter001", "attributeOptionCombo": "CocFund0001"}


def client(**config: object) -> FlaskClient:
    return create_app(dict(config)).test_client()


def post(c: FlaskClient, body: object, ctype: str = "application/json", query: str = "") -> tuple[int, dict]:
    data = json.dumps(body) if not isinstance(body, bytes | str) else body
    resp = c.post(f"/api/dataValueSets{query}", data=data, headers={**AUTH, "Content-Type": ctype})
    return resp.status_code, resp.get_json()


def tb_values(*values: dict) -> dict:
    return {**TB, "dataValues": list(values)}


GOOD = {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "3"}


def test_auth_required_basic_or_token() -> None:
    c = client()
    assert c.get("/api/system/info").status_code == 401
    bad = {"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()}
    assert c.get("/api/system/info", headers=bad).status_code == 401
    token = {"Authorization": "ApiToken d2pat_jembatanDemoToken0000000000000000"}
    assert c.get("/api/system/info", headers=token).status_code == 200


def test_import_then_update_then_unchanged() -> None:
    c = client()
    status, body = post(c, tb_values(GOOD))
    assert status == 200 and body["status"] == "OK"
    assert body["response"]["importCount"] == {"imported": 1, "updated": 0, "ignored": 0, "deleted": 0}
    _, body = post(c, tb_values({**GOOD, "value": "4"}))
    assert body["response"]["importCount"]["updated"] == 1
    _, body = post(c, tb_values({**GOOD, "value": "4"}))
    assert body["response"]["importCount"]["ignored"] == 1


def test_value_level_conflict_is_a_warning_with_rejected_indexes() -> None:
    status, body = post(client(), tb_values(GOOD, {**GOOD, "categoryOptionCombo": "CocTb000002", "value": "x"}))
    summary = body["response"]
    assert status == 200 and summary["status"] == "WARNING" and summary["rejectedIndexes"] == [1]
    assert summary["conflicts"][0]["errorCode"] == "E8120" and summary["conflicts"][0]["indexes"] == [1]


def test_set_level_problem_is_409_and_writes_nothing() -> None:
    c = client()
    status, body = post(c, {**tb_values(GOOD), "period": "2024Q1"})
    assert status == 409 and body["status"] == "ERROR"
    assert body["response"]["conflicts"][0]["errorCode"] == "E8021"
    assert body["response"]["importCount"]["imported"] == 0


def test_242_family_codes_and_partial_import() -> None:
    status, body = post(client(VERSION="2.42"), tb_values(GOOD, {**GOOD, "orgUnit": "KtBdg000001"}))
    assert status == 200 and body["response"]["importCount"]["imported"] == 1
    assert body["response"]["conflicts"][0]["errorCode"] == "E7613"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({**GOOD, "categoryOptionCombo": "CocIm000001"}, "E8024"),
        ({**GOOD, "dataElement": "DeAncK10001", "categoryOptionCombo": None}, "E8020"),
        ({**GOOD, "orgUnit": "KbBgr000001"}, "E8022"),
        ({**GOOD, "attributeOptionCombo": "HllvX50cXC0"}, "E8023"),
        ({**GOOD, "categoryOptionCombo": "Nope0000000"}, "E8104"),
    ],
)
def test_set_level_rules(value: dict, code: str) -> None:
    status, body = post(client(), tb_values({k: v for k, v in value.items() if v is not None}))
    assert status == 409 and body["response"]["conflicts"][0]["errorCode"] == code


def test_duplicates_reject_the_whole_group() -> None:
    status, body = post(client(), tb_values(GOOD, GOOD))
    assert status == 409 and body["response"]["conflicts"][0]["errorCode"] == "E8128"
    assert body["response"]["rejectedIndexes"] == [0, 1]


def test_dry_run_does_not_store() -> None:
    c = client()
    _, body = post(c, tb_values(GOOD), query="?dryRun=true")
    assert body["response"]["importCount"]["imported"] == 1
    _, body = post(c, tb_values(GOOD))
    assert body["response"]["importCount"]["imported"] == 1


def test_import_strategies() -> None:
    c = client()
    _, body = post(c, tb_values(GOOD), query="?importStrategy=UPDATE")
    assert body["response"]["importCount"]["ignored"] == 1
    post(c, tb_values(GOOD))
    _, body = post(c, tb_values({k: v for k, v in GOOD.items() if k != "value"}), query="?importStrategy=DELETE")
    assert body["response"]["importCount"]["deleted"] == 1


def test_code_scheme_csv_and_adx_imports() -> None:
    c = client()
    csv = (
        "dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value\n"
        "IMM_BCG,202401,P3273020201,L_M0_11,,5\n"
    )
    status, body = post(c, csv, "application/csv", "?idScheme=code&dataSet=IMM_MONTHLY")
    assert status == 200 and body["response"]["importCount"]["imported"] == 1, body
    adx = (
        b'<adx xmlns="urn:ihe:qrph:adx:2015" exported="2024-02-01T00:00:00Z">'
        b'<group dataSet="TB_MONTHLY" orgUnit="P3273020201" period="2024-01-01/P1M" FUND="APBN">'
        b'<dataValue dataElement="TB_NEW" SEX="P" AGE_TB="A15_44" value="7"/>'
        b'<dataValue dataElement="TB_NOTE" value="0"><annotation>stok OAT cukup</annotation></dataValue>'
        b"</group></adx>"
    )
    status, body = post(c, adx, "application/adx+xml")
    assert status == 200 and body["response"]["importCount"]["imported"] == 2, body
    exported = c.get(
        "/api/dataValueSets?dataSet=TB_MONTHLY&period=202401&orgUnit=PkmPuter001",
        headers={**AUTH, "Accept": "application/adx+xml"},
    ).data
    assert b'SEX="P"' in exported and b'AGE_TB="A15_44"' in exported and b"stok OAT cukup" in exported


def test_async_import_polls_then_summary() -> None:
    c = client(ASYNC_POLLS=1)
    status, body = post(c, tb_values(GOOD), query="?async=true")
    endpoint = body["response"]["relativeNotifierEndpoint"]
    job = body["response"]["id"]
    assert c.get(endpoint, headers=AUTH).get_json()[0]["completed"] is False
    assert c.get(f"/api/system/taskSummaries/DATAVALUE_IMPORT/{job}", headers=AUTH).status_code == 404
    assert c.get(endpoint, headers=AUTH).get_json()[0]["completed"] is True
    summary = c.get(f"/api/system/taskSummaries/DATAVALUE_IMPORT/{job}", headers=AUTH).get_json()
    assert summary["importCount"]["imported"] == 1


def test_export_formats_and_required_params() -> None:
    c = client()
    post(c, tb_values(GOOD))
    assert c.get("/api/dataValueSets?dataSet=DsTbMonth01", headers=AUTH).status_code == 409
    query = "dataSet=DsTbMonth01&period=202401&orgUnit=KtBdg000001&children=true"
    as_json = c.get(f"/api/dataValueSets.json?{query}", headers=AUTH).get_json()
    assert as_json["dataValues"][0]["value"] == "3" and as_json["dataValues"][0]["orgUnit"] == "PkmPuter001"
    assert c.get(f"/api/dataValueSets.csv?{query}", headers=AUTH).data.startswith(b"dataelement,period")
    assert b"<dataValueSet" in c.get(f"/api/dataValueSets.xml?{query}", headers=AUTH).data


def test_null_values_fixture_semantics() -> None:
    """dataValueSetANull.xml semantics on our metadata: 1 imported, 2 ignored, WARNING, 2 conflicts."""
    xml = (
        b'<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0" dataSet="DsKiaMonth1" period="202401" '
        b'orgUnit="PkmPuter001"><dataValue dataElement="DeAncK10001" value=""/>'
        b'<dataValue dataElement="DeAncK40001"/><dataValue dataElement="DeAncK10001" value="9"/></dataValueSet>'
    )
    status, body = post(client(), xml, "application/xml")
    summary = body["response"]
    assert status == 200 and summary["status"] == "WARNING" and len(summary["conflicts"]) == 2
    assert summary["importCount"] == {"imported": 1, "updated": 0, "ignored": 2, "deleted": 0}


def test_malformed_and_unsupported_payloads() -> None:
    c = client()
    assert post(c, "{", "application/json")[0] == 400
    assert post(c, "x", "text/plain")[0] == 415
    hostile = b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><dataValueSet/>'
    assert post(c, hostile, "application/xml")[0] == 400


def test_metadata_last_updated_filter() -> None:
    c = client()
    full = c.get("/api/metadata", headers=AUTH).get_json()
    assert len(full["dataSets"]) == 5 and full["organisationUnits"][0]["path"].startswith("/")
    newer = c.get("/api/metadata?filter=lastUpdated:gt:2030-01-01", headers=AUTH).get_json()
    assert newer["dataSets"] == []


def test_future_periods_are_closed_in_243() -> None:
    status, body = post(client(TODAY="2024-01-20"), {**tb_values(GOOD), "period": "202402"})
    assert status == 409 and body["response"]["conflicts"][0]["errorCode"] == "E8030"
    assert post(client(TODAY="2024-02-01"), {**tb_values(GOOD), "period": "202402"})[0] == 200
