"""The dhis2 outbox destination: delivered, retried (transient) or dead (409) through the real outbox."""

from __future__ import annotations

import json

import httpx
from flask import Flask

from bridge import outbox
from bridge.db import get_db
from bridge.models import OutboxEntry
from bridge.simulators.dhis2 import create_app
from bridge.upstreams.dhis2.client import Dhis2Client, Dhis2Config
from bridge.upstreams.dhis2.destination import Dhis2Destination

TB = {"dataSet": "DsTbMonth01", "period": "202401", "orgUnit": "PkmPuter001", "attributeOptionCombo": "CocFund0001"}
GOOD = {"dataElement": "DeTbNew0001", "categoryOptionCombo": "CocTb000001", "value": "3"}


def destination(transport: httpx.BaseTransport, **settings: object) -> Dhis2Destination:
    client = Dhis2Client(Dhis2Config(base_url="http://sim", username="admin", password="district"), transport=transport)
    return Dhis2Destination("dhis2-demo", {"backoff_base": 60, **settings}, client=client)


def enqueue(app: Flask, body: dict) -> str:
    with get_db(app).session() as sess:
        entry = outbox.enqueue(sess, "dhis2-demo", json.dumps(body).encode(), "application/json")
        sess.flush()
        return entry.id


def state(app: Flask, entry_id: str) -> OutboxEntry:
    with get_db(app).session() as sess:
        entry = sess.get(OutboxEntry, entry_id)
        sess.expunge(entry)
        return entry


def test_delivered_then_replay_is_harmless(app: Flask) -> None:
    sim = create_app()
    app.extensions["jembatan.destinations"] = {"dhis2-demo": destination(httpx.WSGITransport(app=sim))}
    first, again = enqueue(app, {**TB, "dataValues": [GOOD]}), enqueue(app, {**TB, "dataValues": [GOOD]})
    report = outbox.deliver_pending(app)
    assert sorted(report.delivered) == sorted([first, again])
    assert len(sim.extensions["dhis2_state"].values) == 1  # type: ignore[attr-defined]


def test_whole_group_rejection_is_a_dead_letter_with_located_issues(app: Flask) -> None:
    app.extensions["jembatan.destinations"] = {"dhis2-demo": destination(httpx.WSGITransport(app=create_app()))}
    entry_id = enqueue(app, {**TB, "period": "2024Q1", "dataValues": [GOOD]})
    report = outbox.deliver_pending(app)
    assert report.dead == [entry_id]
    error = state(app, entry_id).last_error
    assert error["code"] == "GW-5252" and error["status_code"] == 409
    assert error["operation_outcome"]["issue"][0]["expression"] == ["dataValues[0]"]


def test_server_errors_are_retried(app: Flask) -> None:
    app.extensions["jembatan.destinations"] = {
        "dhis2-demo": destination(httpx.MockTransport(lambda request: httpx.Response(502)))
    }
    entry_id = enqueue(app, {**TB, "dataValues": [GOOD]})
    report = outbox.deliver_pending(app)
    assert report.retried == [entry_id]
    assert state(app, entry_id).state == "pending" and state(app, entry_id).last_error["code"] == "GW-5153"


def test_partial_import_can_be_treated_as_failure(app: Flask) -> None:
    bad = {**GOOD, "categoryOptionCombo": "CocTb000002", "value": "x"}
    app.extensions["jembatan.destinations"] = {
        "dhis2-demo": destination(httpx.WSGITransport(app=create_app()), warning_is_failure=True)
    }
    entry_id = enqueue(app, {**TB, "dataValues": [GOOD, bad]})
    assert outbox.deliver_pending(app).dead == [entry_id]
    assert state(app, entry_id).last_error["code"] == "GW-5257"


def test_destination_type_is_registered(app: Flask) -> None:
    from bridge.destinations import factory_for

    assert factory_for("dhis2") is Dhis2Destination
