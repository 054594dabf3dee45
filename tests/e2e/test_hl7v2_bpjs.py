"""HL7 v2 REF^I12 over HTTP → channel ``hl7v2-bpjs-rujukan`` → outbox → the BPJS VClaim simulator (in-process).

The simulator checks signature, ``user_key``, SEP ownership, PPK and poli; the referral it records
must carry the values of the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask

from bridge.db import get_db
from bridge.demo import DEMO_DATA
from bridge.outbox import deliver_pending
from bridge.simulators.bpjs import create_app
from bridge.upstreams.bpjs.client import BpjsClient, BpjsConfig
from bridge.upstreams.bpjs.destination import BpjsDestination
from tests.e2e.conftest import outbox_states
from tests.helpers import make_app, new_key

CHANNEL = "hl7v2-bpjs-rujukan"
(REF,) = sorted((DEMO_DATA / CHANNEL).glob("*.hl7"))


@pytest.fixture
def bpjs_sim() -> Flask:
    return create_app()


@pytest.fixture
def gateway(tmp_path: Path, bpjs_sim: Flask) -> Iterator[Flask]:
    app = make_app(tmp_path)
    config = BpjsConfig(cons_id="1000", secret="sim-secret", user_keys={"vclaim": "uk-vclaim", "pcare": "uk-pcare"},
                        base_urls={"vclaim": "http://sim/vclaim-rest", "pcare": "http://sim/pcare-rest"})  # fmt: skip
    client = BpjsClient(config, transport=httpx.WSGITransport(app=bpjs_sim))
    app.extensions["jembatan.destinations"] = {"bpjs": BpjsDestination("bpjs", {}, get_db(app), client=client)}
    yield app
    get_db(app).dispose()


def post(app: Flask, body: bytes) -> Any:
    headers = {"Authorization": f"Bearer {new_key(app)}"}
    return app.test_client().post(f"/channels/{CHANNEL}/messages", data=body, headers=headers,
                                  content_type="x-application/hl7-v2+er7")  # fmt: skip


def outgoing(sim: Flask) -> list[dict[str, Any]]:
    return list(sim.extensions["bpjs_simulator"].outgoing.values())


def test_referral_reaches_bpjs_with_the_message_values(gateway: Flask, bpjs_sim: Flask) -> None:
    resp = post(gateway, REF.read_bytes())
    assert resp.status_code == 202, resp.json
    deliver_pending(gateway)
    assert outbox_states(gateway) == ["delivered"]
    (referral,) = outgoing(bpjs_sim)
    assert {k: referral[k] for k in ("noSep", "ppkDirujuk", "poliRujukan", "diagRujukan", "tipeRujukan",
                                     "jnsPelayanan", "tglRujukan", "tglRencanaKunjungan")} == {
        "noSep": "0301R0011126V000003", "ppkDirujuk": "0301R002", "poliRujukan": "JAN", "diagRujukan": "I20.9",
        "tipeRujukan": "0", "jnsPelayanan": "2", "tglRujukan": "2024-11-20", "tglRencanaKunjungan": "2024-11-21",
    }  # fmt: skip
    assert referral["noKartu"] == "0001234567890" and referral["catatan"].startswith("Nyeri dada")


def test_resent_referral_is_not_inserted_twice(gateway: Flask, bpjs_sim: Flask) -> None:
    body = REF.read_bytes()
    assert post(gateway, body).status_code == 202
    deliver_pending(gateway)
    again = post(gateway, body.replace(b"|DEMO-REF-0001|", b"|DEMO-REF-0001B|"))  # a new message, same referral
    assert again.status_code == 202
    deliver_pending(gateway)
    assert outbox_states(gateway) == ["delivered", "delivered"]
    assert len(outgoing(bpjs_sim)) == 1


def test_referral_bpjs_refuses_goes_dead_with_the_reason(gateway: Flask, bpjs_sim: Flask) -> None:
    unknown_ppk = REF.read_bytes().replace(b"^^^^0301R002", b"^^^^0301R099")
    assert post(gateway, unknown_ppk).status_code == 202
    report = deliver_pending(gateway)
    assert len(report.dead) == 1 and outbox_states(gateway) == ["dead"]
    assert outgoing(bpjs_sim) == []
