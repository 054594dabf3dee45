"""Fixtures of the end-to-end tests: a gateway on a fresh SQLite file, its MLLP listener on a free
port, and an in-process SATUSEHAT simulator reached through :class:`DroppingTransport`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bridge.db import get_db
from bridge.demo import DEMO_DATA, DEMO_MLLP_CHANNEL
from bridge.destinations import SatusehatDestination
from bridge.mllp import start_mllp_server
from bridge.models import OutboxEntry
from bridge.outbox import deliver_pending
from bridge.simulators.satusehat import DroppingTransport, create_app
from bridge.upstreams.satusehat.client import SatusehatClient, SatusehatConfig
from tests.helpers import make_app

ORG = "100025753"
NIK = "https://fhir.kemkes.go.id/id/nik"
FILES = sorted((DEMO_DATA / DEMO_MLLP_CHANNEL).glob("*.hl7"))


@pytest.fixture
def sim() -> Flask:
    return create_app()


@pytest.fixture
def gateway(tmp_path: Path, sim: Flask) -> Iterator[Flask]:
    app = make_app(tmp_path, MLLP_CHANNEL=DEMO_MLLP_CHANNEL)
    config = SatusehatConfig("sim-client", "sim-secret", ORG, base_url="http://sim")
    client = SatusehatClient(config, transport=DroppingTransport(sim))
    settings = {"backoff_base": 0.001, "backoff_max": 0.001}
    app.extensions["jembatan.destinations"] = {"satusehat": SatusehatDestination("satusehat", settings, get_db(app),
                                                                                 client=client)}  # fmt: skip
    yield app
    get_db(app).dispose()


@pytest.fixture
def mllp(gateway: Flask) -> Iterator[int]:
    handle = start_mllp_server(gateway, "127.0.0.1", 0)
    yield handle.port
    handle.close()


def ack_code(ack: bytes) -> str:
    msa = next(s for s in ack.replace(b"\n", b"\r").split(b"\r") if s.startswith(b"MSA|"))
    return msa.split(b"|")[1].decode()


def held(sim: Flask, rtype: str) -> list[dict[str, Any]]:
    return list(sim.extensions["satusehat_sim"].resources.get(rtype, {}).values())


def posts(sim: Flask, rtype: str) -> int:
    log = sim.extensions["satusehat_sim"].log
    return sum(1 for r in log if r["method"] == "POST" and r["path"] == f"/fhir-r4/v1/{rtype}")


def outbox_states(app: Flask) -> list[str]:
    with get_db(app).session() as sess:
        return list(sess.scalars(select(OutboxEntry.state).order_by(OutboxEntry.created_at)))


def deliver(app: Flask) -> None:
    report = deliver_pending(app)
    assert not report.dead and not report.retried, report
