import json
from pathlib import Path

from sqlalchemy import select

from bridge.db import get_db
from bridge.ingest import ingest
from bridge.models import OutboxEntry, Transaction
from tests.helpers import make_app

CHANNELS = """
[[channel]]
name = "gender"
source = "fhir+json"
target = "fhir+json"
destination = "archive"
validators = ["fhir+json"]
[channel.pins]
administrative-gender = "1.0.0"
[[channel.translate]]
resource = "Observation"
element = "valueCodeableConcept"
map = "administrative-gender"
system = "http://terminology.hl7.org/CodeSystem/v2-0001"
"""


def _app(tmp_path: Path):
    (tmp_path / "ch.toml").write_text(CHANNELS)
    return make_app(tmp_path, CHANNEL_PATHS=[str(tmp_path / "ch.toml")], DESTINATIONS={"archive": {"type": "none"}})


def _obs(code: str) -> bytes:
    concept = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0001", "code": code}]}
    return json.dumps(
        {"resourceType": "Observation", "status": "final", "code": {"text": "sex"}, "valueCodeableConcept": concept}
    ).encode()


def test_translation_adds_target_coding_and_records_mapping_digest(tmp_path):
    app = _app(tmp_path)
    with app.app_context():
        result = ingest("gender", _obs("F"))
    assert result.status == "queued"
    codings = json.loads(result.output)["valueCodeableConcept"]["coding"]
    assert {"system": "http://hl7.org/fhir/administrative-gender", "code": "female", "display": "Female"} in codings
    assert codings[0]["code"] == "F"  # the original is kept
    with get_db(app).session() as s:
        tx = s.get(Transaction, result.transaction_id)
        assert tx.mappings_used["administrative-gender"]["version"] == "1.0.0"
        assert tx.mappings_used["administrative-gender"]["digest"].startswith("sha256:")
        assert s.scalars(select(OutboxEntry)).one().transaction_id == tx.id


def test_unmapped_code_is_an_issue_and_nothing_is_queued(tmp_path):
    app = _app(tmp_path)
    with app.app_context():
        result = ingest("gender", _obs("X"))
    assert result.status == "rejected"
    issue = result.outcome.errors[0]
    assert issue.message_id == "GW-2201"
    assert issue.expression == ("Observation.valueCodeableConcept.coding[0]",)
    with get_db(app).session() as s:
        assert s.scalars(select(OutboxEntry)).all() == []


def test_retransmission_is_answered_from_the_store_once(tmp_path):
    app = _app(tmp_path)
    with app.app_context():
        first = ingest("gender", _obs("M"), idempotency_key="k1", make_response=lambda r, t, s: f"ack {t}".encode())
        second = ingest("gender", _obs("M"), idempotency_key="k1", make_response=lambda r, t, s: b"never")
    assert second.duplicate and second.transaction_id == first.transaction_id
    assert second.response == f"ack {first.transaction_id}".encode()
    with get_db(app).session() as s:
        assert len(s.scalars(select(OutboxEntry)).all()) == 1
        assert s.get(Transaction, first.transaction_id).duplicate_count == 1


def test_same_key_different_content_is_flagged_not_merged(tmp_path):
    app = _app(tmp_path)
    with app.app_context():
        ingest("gender", _obs("M"), idempotency_key="k2")
        other = ingest("gender", _obs("F"), idempotency_key="k2")
    assert other.conflict and other.status == "conflict"
    with get_db(app).session() as s:
        tx = s.get(Transaction, other.transaction_id)
        assert tx.flags == ["idempotency-conflict"]
        assert len(s.scalars(select(OutboxEntry)).all()) == 1


def test_fhir_intake_stores_generated_resources_unchanged(tmp_path):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tests.adapters.test_fhir_codec import observations, patients

    app = make_app(tmp_path)

    @settings(max_examples=25)
    @given(st.one_of(patients, observations))
    def check(resource):
        with app.app_context():
            result = ingest("fhir-intake", json.dumps(resource).encode())
        assert result.status == "accepted"
        assert json.loads(result.output) == resource

    check()


# ---------------------------------------------------------------- group commit (prepare + store_batch)


def _count(app, model) -> int:
    with get_db(app).session() as s:
        return len(s.scalars(select(model)).all())


def test_store_batch_commits_once_and_keeps_idempotency_inside_the_batch(tmp_path, monkeypatch):
    from bridge import ingest as ingest_module

    app = _app(tmp_path)
    commits = []
    with app.app_context():
        db = get_db()
        original = db.session

        def counting_session():
            commits.append(1)
            return original()

        monkeypatch.setattr(db, "session", counting_session)
        items = [
            ingest_module.prepare("gender", _obs("M"), idempotency_key="b1"),
            ingest_module.prepare("gender", _obs("F"), idempotency_key="b2"),
            ingest_module.prepare("gender", _obs("M"), idempotency_key="b1"),  # retransmission in the same group
            ingest_module.prepare("gender", _obs("F"), idempotency_key="b1"),  # same key, other content
            ingest_module.prepare("gender", _obs("X")),  # unmapped: stored as rejected
        ]
        results = ingest_module.store_batch(items)
    assert len(commits) == 1
    first, second, again, clash, bad = results
    assert first.status == second.status == "queued"
    assert again.duplicate and again.transaction_id == first.transaction_id
    assert clash.conflict and clash.status == "conflict"
    assert [i.message_id for i in clash.outcome.errors] == ["GW-6301"]
    assert bad.status == "rejected"
    assert _count(app, Transaction) == 4 and _count(app, OutboxEntry) == 2
    with get_db(app).session() as s:
        assert s.get(Transaction, first.transaction_id).duplicate_count == 1


def test_a_failing_message_fails_only_itself(tmp_path):
    from bridge.ingest import prepare, store_batch

    app = _app(tmp_path)

    def explode(run, tx_id, status):
        raise RuntimeError("response builder broke")

    with app.app_context():
        items = [
            prepare("gender", _obs("M"), idempotency_key="g1", make_response=lambda r, t, s: b"ok1"),
            prepare("gender", _obs("F"), idempotency_key="g2", make_response=explode),
            prepare("gender", _obs("M"), idempotency_key="g3", make_response=lambda r, t, s: b"ok3"),
        ]
        ok1, failed, ok3 = store_batch(items)
    assert isinstance(failed, RuntimeError)
    assert ok1.response == b"ok1" and ok3.response == b"ok3"
    with get_db(app).session() as s:
        assert sorted(t.idempotency_key for t in s.scalars(select(Transaction))) == ["g1", "g3"]
        assert len(s.scalars(select(OutboxEntry)).all()) == 2


def test_group_committer_answers_only_after_commit_and_groups_concurrent_callers(tmp_path):
    import threading

    from bridge.ingest import GroupCommitter, prepare

    app = _app(tmp_path)
    committer = GroupCommitter(app, max_batch=8, max_wait_s=0.05)
    results = {}

    def send(n):
        with app.app_context():
            item = prepare("gender", _obs("M" if n % 2 else "F"), idempotency_key=f"c{n}")
        result = committer.submit(item)
        with get_db(app).session() as s:  # visible to another connection: committed
            results[n] = s.get(Transaction, result.transaction_id) is not None

    threads = [threading.Thread(target=send, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    committer.close()
    assert results == {n: True for n in range(12)}
    assert committer.messages == 12 and committer.batches < 12
    assert _count(app, Transaction) == 12


def test_group_committer_reports_storage_failure_to_the_caller(tmp_path, monkeypatch):
    import pytest

    from bridge import ingest as ingest_module

    app = _app(tmp_path)
    committer = ingest_module.GroupCommitter(app)

    def broken(items):
        raise OSError("disk full")

    monkeypatch.setattr(ingest_module, "store_batch", broken)
    with app.app_context():
        item = ingest_module.prepare("gender", _obs("M"))
    with pytest.raises(OSError):
        committer.submit(item)
    committer.close()
    assert _count(app, Transaction) == 0


def test_a_group_stores_every_column_of_its_rows(tmp_path):
    from bridge.ingest import prepare, store_batch
    from bridge.models import decompress

    app = _app(tmp_path)
    with app.app_context():
        items = [
            prepare("gender", _obs("M"), idempotency_key="r1", make_response=lambda r, t, s: b"ack " + s.encode()),
            prepare("gender", _obs("X"), idempotency_key="r2", make_response=lambda r, t, s: b"ack " + s.encode()),
        ]
        queued, rejected = store_batch(items)
    with get_db(app).session() as s:
        row = s.get(Transaction, queued.transaction_id)
        assert (row.channel, row.source_format, row.target_format) == ("gender", "fhir+json", "fhir+json")
        assert (row.idempotency_key, row.content_hash) == ("r1", items[0].digest)
        assert decompress(row.raw_z) == _obs("M") and decompress(row.response_z) == b"ack accepted"
        assert json.loads(decompress(row.output_z)) == json.loads(queued.output)
        assert [h["status"] for h in row.status_history] == ["received", "accepted", "queued"]
        assert row.mappings_used["administrative-gender"]["version"] == "1.0.0"
        assert row.created_at is not None and row.updated_at is not None and row.duplicate_count == 0
        assert row.flags == [] and "decode" in row.timings_ms and row.outcome["resourceType"] == "OperationOutcome"
        other = s.get(Transaction, rejected.transaction_id)
        assert other.status == "rejected" and other.output_z is None
        assert s.scalars(select(OutboxEntry)).one().transaction_id == queued.transaction_id
