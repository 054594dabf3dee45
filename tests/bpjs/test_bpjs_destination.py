"""The bpjs outbox destination through the real outbox: delivered, never duplicated, dead or retried."""

import datetime as dt
import json

import httpx
import pytest

from bridge import outbox
from bridge.db import get_db
from bridge.models import OutboxEntry
from bridge.simulators.bpjs import create_app
from bridge.upstreams.bpjs.client import BpjsClient, BpjsConfig
from bridge.upstreams.bpjs.destination import BpjsDestination
from tests.bpjs.bpjs_samples import INSERT, KUNJUNGAN

NOW = 1795500000.0
TODAY = dt.datetime.fromtimestamp(NOW, dt.UTC).date()


def _client(transport):
    config = BpjsConfig(
        cons_id="1000",
        secret="sim-secret",
        user_keys={"vclaim": "uk-vclaim", "pcare": "uk-pcare"},
        base_urls={"vclaim": "http://sim/vclaim-rest", "pcare": "http://sim/pcare-rest"},
        pcare_username="pcare-user",
        pcare_password="pcare-pass",
    )
    return BpjsClient(config, transport=transport, clock=lambda: NOW)


def _install(app, transport):
    dest = BpjsDestination("bpjs-rs", {"backoff_base": 60}, get_db(app), client=_client(transport))
    app.extensions["jembatan.destinations"] = {"bpjs-rs": dest}
    return dest


def _enqueue(app, body):
    with get_db(app).session() as sess:
        entry = outbox.enqueue(sess, "bpjs-rs", json.dumps(body).encode(), "application/json")
        sess.flush()
        return entry.id


def _state(app, entry_id):
    with get_db(app).session() as sess:
        entry = sess.get(OutboxEntry, entry_id)
        sess.expunge(entry)
        return entry


def _insert(**changes):
    t = dict(INSERT["request"]["t_rujukan"], tglRujukan=TODAY.isoformat(), tglRencanaKunjungan=TODAY.isoformat())
    t.update(changes)
    return {"request": {"t_rujukan": t}}


@pytest.fixture
def sim():
    return create_app({"CLOCK": lambda: NOW})


def test_insert_delivered_and_replay_is_not_a_second_referral(app, sim):
    _install(app, httpx.WSGITransport(app=sim))
    first, again = _enqueue(app, _insert()), _enqueue(app, _insert())
    report = outbox.deliver_pending(app)
    assert sorted(report.delivered) == sorted([first, again])
    assert len(sim.extensions["bpjs_simulator"].outgoing) == 1


def test_lost_answer_is_adopted_from_the_outgoing_list(app, sim):
    transport = httpx.WSGITransport(app=sim)
    number = _client(transport).insert_rujukan(_insert()["request"]["t_rujukan"])["rujukan"]["noRujukan"]
    dest = _install(app, transport)  # a fresh id map: the earlier answer never arrived
    receipt = dest.deliver(json.dumps(_insert()).encode(), "application/json")
    assert receipt.looked_up == 1 and receipt.created == 0 and list(receipt.ids.values()) == [number]
    assert len(sim.extensions["bpjs_simulator"].outgoing) == 1


def test_refusal_is_a_dead_letter_with_bpjs_message(app, sim):
    _install(app, httpx.WSGITransport(app=sim))
    entry_id = _enqueue(app, _insert(noSep="0301R0011126V999999"))
    assert outbox.deliver_pending(app).dead == [entry_id]
    error = _state(app, entry_id).last_error
    assert error["code"] == "GW-5241" and "No.SEP tidak ditemukan" in error["message"]


def test_outage_is_retried(app):
    _install(app, httpx.MockTransport(lambda request: httpx.Response(503, text="Service Unavailable")))
    entry_id = _enqueue(app, _insert())
    assert outbox.deliver_pending(app).retried == [entry_id]
    assert _state(app, entry_id).state == "pending"


def test_update_delete_and_repeated_delete(app, sim):
    dest = _install(app, httpx.WSGITransport(app=sim))
    created = dest.deliver(json.dumps(_insert()).encode(), "application/json")
    number = next(iter(created.ids.values()))
    update = {k: v for k, v in _insert(poliRujukan="SAR")["request"]["t_rujukan"].items() if k != "noSep"}
    updated = dest.deliver(json.dumps({"request": {"t_rujukan": {"noRujukan": number, **update}}}).encode(), "")
    assert updated.updated == 1
    delete = json.dumps({"request": {"t_rujukan": {"noRujukan": number, "user": "op"}}}).encode()
    assert dest.deliver(delete, "").updated == 1
    assert dest.deliver(delete, "").looked_up == 1  # already gone: a replay is harmless


def test_pcare_kunjungan_khusus_and_prb(app, sim):
    dest = _install(app, httpx.WSGITransport(app=sim))
    today = TODAY.strftime("%d-%m-%Y")
    visit = dest.deliver(json.dumps(dict(KUNJUNGAN, tglDaftar=today, tglPulang=today)).encode(), "")
    assert visit.created == 1 and "Y" in visit.ids["noKunjungan"]
    khusus = {"noRujukan": "030107010217Y000777", "diagnosa": [{"kode": "P;N18.5"}], "procedure": [], "user": "op"}
    assert dest.deliver(json.dumps(khusus).encode(), "").ids == {"noRujukan": "030107010217Y000777"}
    prb = {
        "request": {
            "t_prb": {
                "noSep": "0301R0011126V000003",
                "noKartu": "0001234567890",
                "alamat": "x",
                "email": "",
                "programPRB": "02",
                "kodeDPJP": "31486",
                "keterangan": "",
                "saran": "",
                "user": "op",
                "obat": [],
            }
        }
    }
    assert dest.deliver(json.dumps(prb).encode(), "").created == 1


def test_unknown_payloads_are_permanent_failures(app, sim):
    from bridge.errors import PermanentDeliveryError

    dest = _install(app, httpx.WSGITransport(app=sim))
    with pytest.raises(PermanentDeliveryError) as err:
        dest.deliver(b"not json", "")
    assert err.value.code == "GW-5243"
    with pytest.raises(PermanentDeliveryError) as err:
        dest.deliver(b'{"hello": "world"}', "")
    assert err.value.code == "GW-5244"


def test_destination_type_is_registered(app):
    from bridge.destinations import build_destinations, factory_for

    assert factory_for("bpjs") is BpjsDestination
    built = build_destinations({"x": {"type": "bpjs", "cons_id": "1", "secret": "s", "max_attempts": 3}}, get_db(app))
    assert built["x"].max_attempts == 3
    built["x"].close()
