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
