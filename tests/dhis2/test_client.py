"""DHIS2 client against the in-process simulator (httpx WSGI transport), and ImportSummary parsing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from adapters.dhis2.dvs_json import from_dict
from adapters.dhis2.import_summary import parse_import_summary
from bridge.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from bridge.simulators.dhis2 import create_app
from bridge.upstreams.dhis2.client import Dhis2Client, Dhis2Config, merge_metadata

TOKEN = "d2pat_jembatanDemoToken0000000000000000"
GOOD = {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "3"}
TB = {"dataSet": "DsTbMonth01", "period": "202401", "orgUnit": "PkmPuter001", "attributeOptionCombo": "CocFund0001"}


def make_client(sim_config: dict | None = None, **config: object) -> tuple[Dhis2Client, object]:
    app = create_app(sim_config)
    settings = {"base_url": "http://dhis2.test", "token": TOKEN, **config}
    client = Dhis2Client(
        Dhis2Config.from_mapping(settings), transport=httpx.WSGITransport(app=app), sleep=lambda _s: None
    )
    return client, app


def test_config_needs_credentials_and_a_known_strategy() -> None:
    with pytest.raises(ConfigError):
        Dhis2Config(base_url="http://x")
    with pytest.raises(ConfigError):
        Dhis2Config(base_url="http://x", token="t", import_strategy="MERGE")


def test_every_id_scheme_is_sent_explicitly() -> None:
    schemes = Dhis2Config(base_url="http://x", token="t", id_schemes={"orgUnitIdScheme": "attribute:KodeFaskes1"})
    json_schemes = schemes.schemes("dhis2.dvs+json")
    assert json_schemes["orgUnitIdScheme"] == "attribute:KodeFaskes1" and json_schemes["dataElementIdScheme"] == "uid"
    assert schemes.schemes("dhis2.adx+xml")["categoryOptionIdScheme"] == "code"


def test_push_success() -> None:
    client, _ = make_client()
    result = client.push(from_dict({**TB, "dataValues": [GOOD]}))
    assert result.ok and result.import_count["imported"] == 1


def test_push_with_code_and_attribute_schemes() -> None:
    client, _ = make_client(id_schemes={"idScheme": "code", "orgUnitIdScheme": "attribute:KodeFaskes1"})
    dvs = from_dict(
        {
            "dataSet": "IMM_MONTHLY",
            "period": "202402",
            "orgUnit": "1027302",
            "dataValues": [{"dataElement": "IMM_MR", "categoryOptionCombo": "P_M0_11", "value": "12"}],
        }
    )
    assert client.push(dvs).ok


def test_warning_maps_conflicts_back_to_values() -> None:
    client, _ = make_client()
    bad = {**GOOD, "categoryOptionCombo": "CocTb000002", "value": "-4"}
    result = client.push(from_dict({**TB, "dataValues": [GOOD, bad]}))
    assert result.status == "WARNING" and result.rejected_indexes == [1]
    assert [i.message_id for i in result.issues_for(1)] == ["E8120"] and result.issues_for(0) == []


def test_409_is_a_whole_group_failure_and_permanent_for_the_outbox() -> None:
    client, _ = make_client()
    body = json.dumps({**TB, "period": "2024Q1", "dataValues": [GOOD]}).encode()
    result = client.push(body)
    assert result.whole_group_failed and result.http_status == 409
    with pytest.raises(PermanentDeliveryError) as info:
        client.deliver(body, "application/json")
    assert info.value.code == "GW-5252" and "E8021" in info.value.message


def test_dry_run_first_stops_on_conflicts_and_writes_nothing() -> None:
    client, app = make_client(dry_run_first=True)
    bad = {**GOOD, "value": "x"}
    result = client.push(from_dict({**TB, "dataValues": [bad]}))
    assert result.status == "WARNING"
    assert app.extensions["dhis2_state"].values == {}  # type: ignore[attr-defined]
    assert client.push(from_dict({**TB, "dataValues": [GOOD]})).ok
    assert len(app.extensions["dhis2_state"].values) == 1  # type: ignore[attr-defined]


def test_async_push_polls_the_task() -> None:
    client, _ = make_client({"ASYNC_POLLS": 2}, use_async=True)
    result = client.push(from_dict({**TB, "dataValues": [GOOD]}))
    assert result.ok and result.import_count["imported"] == 1


def test_adx_and_csv_push() -> None:
    client, _ = make_client()
    adx = (
        b'<adx xmlns="urn:ihe:qrph:adx:2015" exported="2024-02-01T00:00:00Z">'
        b'<group dataSet="KIA_MONTHLY" orgUnit="P3201010101" period="2024-01-01/P1M">'
        b'<dataValue dataElement="ANC_K1" value="11"/><dataValue dataElement="ANC_K4" value="8"/></group></adx>'
    )
    assert client.push(adx, "dhis2.adx+xml").import_count["imported"] == 2
    csv = (
        b"dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value\n"
        b"DeAncK10001,202402,PkmPuter001,,,5\n"
    )
    assert client.push(csv, "dhis2.dvs+csv", data_set="DsKiaMonth1").ok


def test_wrong_credentials_are_permanent() -> None:
    client, _ = make_client(token="d2pat_wrong")
    with pytest.raises(PermanentDeliveryError) as info:
        client.push(from_dict({**TB, "dataValues": [GOOD]}))
    assert info.value.code == "GW-5251"


def test_server_errors_and_network_faults_are_transient() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    for handler, code in ((boom, "GW-5153"), (down, "GW-5152")):
        client = Dhis2Client(Dhis2Config(base_url="http://x", token="t"), transport=httpx.MockTransport(handler))
        with pytest.raises(TransientDeliveryError) as info:
            client.push(b"{}")
        assert info.value.code == code


def test_metadata_is_cached_and_refreshed_incrementally(tmp_path: Path) -> None:
    cache = tmp_path / "meta.json"
    client, app = make_client(metadata_cache=str(cache))
    snap = client.snapshot()
    assert len(snap.data_sets) == 5 and cache.is_file()
    seen: list[str] = []
    inner = httpx.WSGITransport(app=app)  # type: ignore[arg-type]

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return inner.handle_request(request)

    again = Dhis2Client(
        Dhis2Config(base_url="http://dhis2.test", token=TOKEN, metadata_cache=str(cache)),
        transport=httpx.MockTransport(spy),
    )
    assert len(again.snapshot().data_sets) == 5 and seen == []  # served from the cache
    again.pull_metadata()
    assert "lastUpdated%3Agt%3A" in seen[0] or "lastUpdated:gt:" in seen[0]
    assert len(again.snapshot().data_sets) == 5


def test_merge_metadata_replaces_by_id() -> None:
    old = {"dataSets": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]}
    new = {"dataSets": [{"id": "b", "name": "B2"}], "system": {"version": "2.43"}}
    merged = merge_metadata(old, new)
    assert merged["dataSets"] == [{"id": "a", "name": "A"}, {"id": "b", "name": "B2"}]


def test_import_summary_both_families_and_android_shape() -> None:
    old = {
        "responseType": "ImportSummary",
        "status": "WARNING",
        "importCount": {"imported": 2, "updated": 0, "ignored": 1, "deleted": 0},
        "conflicts": [{"object": "x", "value": "Data value is not numeric", "errorCode": "E7619", "indexes": [2, 7]}],
    }
    result = parse_import_summary(old)
    assert [(i.message_id, i.expression[0]) for i in result.outcome] == [
        ("E7619", "dataValues[2]"),
        ("E7619", "dataValues[7]"),
    ]
    new = {
        "httpStatusCode": 409,
        "status": "ERROR",
        "message": "An error occurred",
        "response": {
            "responseType": "ImportSummary",
            "status": "ERROR",
            "importCount": {"imported": 0},
            "conflicts": [{"object": "2012Q2", "value": "Period type not valid", "errorCode": "E8021", "indexes": [1]}],
            "rejectedIndexes": [0, 1, 2],
        },
    }
    result = parse_import_summary(new, 409)
    assert result.whole_group_failed
    assert {i.expression[0] for i in result.outcome} == {"dataValues[0]", "dataValues[1]", "dataValues[2]"}
    assert result.outcome.issues[0].message_id == "E8021"
    legacy = parse_import_summary({"status": "SUCCESS", "dataValueCount": {"imported": 3, "updated": 0, "ignored": 0}})
    assert legacy.ok and legacy.import_count["imported"] == 3


def test_rejections_map_back_to_the_values_sent() -> None:
    client, _ = make_client()
    bad = {**GOOD, "categoryOptionCombo": "CocTb000002", "value": "-4"}
    sent = from_dict({**TB, "dataValues": [GOOD, bad, {**GOOD, "categoryOptionCombo": "CocTb000003"}]})
    result = client.push(sent)
    offending = result.offending(sent)
    assert [(i, row.value.value, [x.message_id for x in issues]) for i, row, issues in offending] == [
        (1, "-4", ["E8120"])
    ]
    assert offending[0][1].org_unit == "PkmPuter001" and offending[0][1].period == "202401"
