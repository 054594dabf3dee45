from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, update

from adapters.base import MapContext
from adapters.satusehat import build_bundle
from bridge.db import Database
from bridge.destinations import SatusehatDestination, build_destinations
from bridge.errors import ConfigError
from bridge.models import IdMap, OutboxEntry, Transaction
from bridge.outbox import backoff_delay, claim, deliver_due, enqueue
from bridge.simulators.satusehat import DroppingTransport, create_app
from bridge.upstreams.satusehat.client import SatusehatClient, SatusehatConfig
from mappings.registry import MappingRegistry
from tests.satusehat.satusehat_payloads import FLOW_STEPS, ORG, flow_step

REGISTRY = MappingRegistry()
DEST = "satusehat"


def profiled(step: str, n: int = 1) -> bytes:
    bundle = build_bundle(flow_step(step, n), MapContext(mappings=REGISTRY, settings={"organization_id": ORG}))
    return json.dumps(bundle).encode()


def destination(sim: Any, db: Database, mode: str = "resource", **settings: Any) -> SatusehatDestination:
    config = SatusehatConfig("sim-client", "sim-secret", ORG, base_url="http://sim")
    client = SatusehatClient(config, transport=DroppingTransport(sim))
    return SatusehatDestination(DEST, {"mode": mode, "backoff_base": 0.001, "backoff_max": 0.001, **settings}, db,
                                client=client)  # fmt: skip


def put_in_outbox(db: Database, *payloads: bytes) -> list[str]:
    with db.session() as sess:
        entries = [enqueue(sess, DEST, p, "application/fhir+json") for p in payloads]
        sess.flush()
        return [e.id for e in entries]


def make_due(db: Database) -> None:
    from bridge.models import utcnow

    with db.session() as sess:
        sess.execute(update(OutboxEntry).where(OutboxEntry.state == "pending").values(next_attempt_at=utcnow()))


def drain(db: Database, dest: Any, rounds: int = 20) -> Counter[str]:
    for _ in range(rounds):
        make_due(db)
        if not deliver_due(db, {DEST: dest}).processed:
            break
    return states(db)


def states(db: Database) -> Counter[str]:
    with db.session() as sess:
        return Counter(sess.scalars(select(OutboxEntry.state)).all())


def stored(sim: Any, rtype: str) -> list[dict[str, Any]]:
    return list(sim.extensions["satusehat_sim"].resources.get(rtype, {}).values())


def posts(sim: Any, path: str) -> int:
    return sum(1 for r in sim.extensions["satusehat_sim"].log if r["method"] == "POST" and r["path"] == path)


@pytest.fixture
def sim() -> Any:
    return create_app()


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    yield database


def assert_flow_recorded(sim: Any, visits: int = 1) -> None:
    encounters = stored(sim, "Encounter")
    assert len(encounters) == visits
    for enc in encounters:
        assert enc["status"] == "finished"
        assert [h["status"] for h in enc["statusHistory"]] == ["arrived", "in-progress", "finished"]
        assert [d["rank"] for d in enc["diagnosis"]] == [1, 2]
    assert len(stored(sim, "Condition")) == 2 * visits
    assert len(stored(sim, "Observation")) == 4 * visits  # systolic, diastolic, heart rate, lab
    for rtype in ("ServiceRequest", "Specimen", "DiagnosticReport", "Medication", "MedicationRequest"):
        assert len(stored(sim, rtype)) == visits, rtype
    assert len(stored(sim, "Patient")) == 1  # the seeded patient, found by NIK


@pytest.mark.parametrize("mode", ["resource", "transaction"])
def test_outpatient_flow_end_to_end(sim: Any, db: Database, mode: str) -> None:
    put_in_outbox(db, *(profiled(step) for step in FLOW_STEPS))
    dest = destination(sim, db, mode)
    assert drain(db, dest) == Counter({"delivered": len(FLOW_STEPS)})
    assert_flow_recorded(sim)
    with db.session() as sess:
        assert sess.scalar(select(func.count()).select_from(IdMap)) >= 12


def test_lab_references_point_to_server_ids(sim: Any, db: Database) -> None:
    put_in_outbox(db, *(profiled(step) for step in FLOW_STEPS[:5]))
    drain(db, destination(sim, db))
    (report,) = stored(sim, "DiagnosticReport")
    (request,) = stored(sim, "ServiceRequest")
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{request['id']}"}]
    assert report["subject"] == {"reference": "Patient/100000030009"}


def test_retry_updates_instead_of_duplicating(sim: Any, db: Database) -> None:
    put_in_outbox(db, profiled("encounter"), profiled("encounter"))
    assert drain(db, destination(sim, db)) == Counter({"delivered": 2})
    assert len(stored(sim, "Encounter")) == 1
    assert posts(sim, "/fhir-r4/v1/Encounter") == 1


def test_new_patient_is_created_once_by_nik(sim: Any, db: Database) -> None:
    bundle = json.loads(profiled("register"))
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = "3174031002890077"
    payload = json.dumps(bundle).encode()
    put_in_outbox(db, payload, payload)
    drain(db, destination(sim, db))
    assert len(stored(sim, "Patient")) == 2
    assert posts(sim, "/fhir-r4/v1/Patient") == 1


@pytest.mark.parametrize("mode", ["resource", "transaction"])
def test_faults_lose_and_duplicate_nothing(sim: Any, db: Database, mode: str) -> None:
    put_in_outbox(db, *(profiled(step) for step in FLOW_STEPS))
    sim.extensions["satusehat_sim"].faults["script"] = [429, 500, "drop", 504, "expire", "drop", 500, "drop"]
    dest = destination(sim, db, mode)
    assert drain(db, dest, rounds=40) == Counter({"delivered": len(FLOW_STEPS)})
    assert_flow_recorded(sim)
    with db.session() as sess:
        retried = sess.scalars(select(OutboxEntry).where(OutboxEntry.attempts > 1)).all()
        assert retried, "the faults must have caused retries"
        assert all(e.last_error is None for e in retried)


def test_token_expiry_mid_batch(sim: Any, db: Database) -> None:
    put_in_outbox(db, *(profiled(step) for step in FLOW_STEPS))
    dest = destination(sim, db)
    sim.extensions["satusehat_sim"].faults["script"] = [None] * 9 + ["expire"]
    assert drain(db, dest) == Counter({"delivered": len(FLOW_STEPS)})
    assert dest.client.token_fetches == 2
    with db.session() as sess:
        assert max(sess.scalars(select(OutboxEntry.attempts)).all()) == 1  # refreshed in place, no retry


def test_permanent_rejection_goes_dead_with_operation_outcome(sim: Any, db: Database) -> None:
    bundle = json.loads(profiled("encounter"))
    encounter = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter")
    encounter["identifier"][0]["system"] = "http://sys-ids.kemkes.go.id/encounter/999"
    (bad,) = put_in_outbox(db, json.dumps(bundle).encode())
    good = put_in_outbox(db, profiled("encounter", n=2))
    assert drain(db, destination(sim, db)) == Counter({"delivered": 1, "dead": 1})
    with db.session() as sess:
        entry = sess.get(OutboxEntry, bad)
        assert entry is not None and entry.state == "dead"
        assert entry.last_error is not None
        assert entry.last_error["status_code"] == 400
        assert "10117" in json.dumps(entry.last_error["operation_outcome"])
        assert sess.get(OutboxEntry, good[0]).state == "delivered"  # type: ignore[union-attr]


def test_bounded_retries_end_dead(sim: Any, db: Database) -> None:
    put_in_outbox(db, profiled("encounter"))
    sim.extensions["satusehat_sim"].faults["script"] = [500] * 20
    assert drain(db, destination(sim, db, max_attempts=3)) == Counter({"dead": 1})
    with db.session() as sess:
        (entry,) = sess.scalars(select(OutboxEntry)).all()
        assert entry.attempts == 3
        assert entry.last_error["code"] == "GW-5104"  # type: ignore[index]


def test_unknown_destination_is_dead(db: Database) -> None:
    with db.session() as sess:
        enqueue(sess, "nowhere", b"{}", "application/json")
    report = deliver_due(db, {})
    assert len(report.dead) == 1


def test_retry_is_scheduled_with_backoff(sim: Any, db: Database) -> None:
    put_in_outbox(db, profiled("encounter"))
    sim.extensions["satusehat_sim"].faults["script"] = [429]
    dest = destination(sim, db, backoff_base=60, backoff_max=600)
    report = deliver_due(db, {DEST: dest})
    assert len(report.retried) == 1
    assert deliver_due(db, {DEST: dest}).processed == 0  # not due yet


def test_backoff_grows_with_jitter_and_cap() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, 5, 300, rng) for n in range(1, 10)]
    assert 2.5 <= delays[0] <= 5
    assert 5 <= delays[1] <= 10
    assert all(d <= 300 for d in delays)
    assert delays[-1] >= 150


def test_claim_never_hands_out_an_entry_twice(db: Database) -> None:
    put_in_outbox(db, *[b"{}"] * 10)
    first = claim(db, "w1", 6)
    second = claim(db, "w2", 6)
    assert len(first) == 6 and len(second) == 4
    assert not set(first) & set(second)


def test_two_concurrent_workers_never_send_twice(sim: Any, db: Database) -> None:
    visits = 6
    put_in_outbox(db, *(profiled(step, n) for n in range(1, visits + 1) for step in ("encounter", "vitals")))
    sim.extensions["satusehat_sim"].faults["latency_ms"] = 3
    reports: list[Any] = []
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            reports.append(deliver_due(db, {DEST: destination(sim, db)}, worker=name))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    delivered = [entry for report in reports for entry in report.delivered]
    assert len(delivered) == len(set(delivered)) == 2 * visits
    assert states(db) == Counter({"delivered": 2 * visits})
    assert len(stored(sim, "Encounter")) == visits


def test_destinations_from_config(db: Database) -> None:
    built = build_destinations(
        {DEST: {"type": "satusehat", "client_id": "a", "client_secret": "b", "organization_id": ORG}}, db
    )
    assert isinstance(built[DEST], SatusehatDestination)
    assert built[DEST].mode == "resource"
    with pytest.raises(ConfigError):
        build_destinations({"x": {"type": "carrier-pigeon"}}, db)


def test_worker_command_and_deliver_pending(sim: Any, tmp_path: Any) -> None:
    from bridge.db import get_db
    from bridge.outbox import deliver_pending
    from tests.helpers import make_app

    app = make_app(tmp_path)
    db = get_db(app)
    app.extensions["jembatan.destinations"] = {DEST: destination(sim, db)}
    put_in_outbox(db, profiled("encounter"))
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "delivered 1" in result.output
    put_in_outbox(db, profiled("vitals"))
    assert len(deliver_pending(app, max_entries=5).delivered) == 1
    db.dispose()


class Broken:
    max_attempts, backoff_base, backoff_max = 2, 0.001, 0.001

    def deliver(self, payload: bytes, media_type: str) -> Any:
        raise KeyError("resourceType")

    def close(self) -> None:
        return None


def test_unexpected_errors_are_bounded_retries_not_stuck_entries(db: Database) -> None:
    put_in_outbox(db, b"{}")
    assert drain(db, Broken()) == Counter({"dead": 1})
    with db.session() as sess:
        (entry,) = sess.scalars(select(OutboxEntry)).all()
        assert entry.attempts == 2
        assert entry.last_error["code"] == "GW-5199"  # type: ignore[index]


CHANNEL = """
[[channel]]
name = "pivot-to-satusehat"
source = "fhir+json"
target = "satusehat+json"
destination = "satusehat"
validators = ["fhir+json"]
[channel.settings]
organization_id = "100025753"
timezone = "Asia/Jakarta"
"""


def test_channel_ingest_to_simulator(sim: Any, tmp_path: Any) -> None:
    from bridge.db import get_db
    from bridge.ingest import ingest
    from bridge.outbox import deliver_pending
    from tests.helpers import make_app

    (tmp_path / "channels").mkdir()
    (tmp_path / "channels" / "satusehat.toml").write_text(CHANNEL)
    settings = {"type": "satusehat", "client_id": "sim-client", "client_secret": "sim-secret",
                "organization_id": ORG, "base_url": "http://sim"}  # fmt: skip
    app = make_app(tmp_path, CHANNEL_PATHS=[str(tmp_path / "channels")], DESTINATIONS={DEST: settings})
    db = get_db(app)
    app.extensions["jembatan.destinations"] = {DEST: destination(sim, db)}
    tx_ids = []
    with app.app_context():
        for step in FLOW_STEPS:
            result = ingest("pivot-to-satusehat", json.dumps(flow_step(step)).encode())
            assert result.outcome.ok, [(i.message_id, i.expression, i.message) for i in result.outcome.errors]
            tx_ids.append(result.transaction_id)
        bad = flow_step("encounter", 9)
        enc = next(e["resource"] for e in bad["entry"] if e["resource"]["resourceType"] == "Encounter")
        enc["period"]["start"] = "2013-05-01T08:00:00+07:00"
        refused = ingest("pivot-to-satusehat", json.dumps(bad).encode())
        assert "GW-4109" in [i.message_id for i in refused.outcome.errors]
    assert len(deliver_pending(app).delivered) == len(FLOW_STEPS)  # the refused visit was never enqueued
    assert_flow_recorded(sim)
    with db.session() as sess:
        for tx_id in tx_ids:
            history = [h["status"] for h in sess.get(Transaction, tx_id).status_history]
            assert history == ["received", "accepted", "queued", "delivered"]
    db.dispose()
