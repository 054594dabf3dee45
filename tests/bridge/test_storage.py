import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from bridge.auth import create_key, revoke_key, verify
from bridge.db import current_revisions, is_current, upgrade
from bridge.errors import AuthError
from bridge.models import IdMap, OutboxEntry, Transaction, compress, decompress
from bridge.models_registry import load_metadata
from bridge.outbox import enqueue

CORE_TABLES = {"transactions", "outbox", "id_map", "api_keys"}


def test_migrations_create_core_tables(database):
    assert CORE_TABLES <= set(inspect(database.engine).get_table_names())
    assert is_current(database.engine)


def test_upgrade_twice_changes_nothing(database):
    before = current_revisions(database.engine)
    upgrade(database.engine)
    assert current_revisions(database.engine) == before


def test_models_and_migrations_agree(database):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), load_metadata())
    assert diff == []


def test_transaction_round_trips_compressed_payload_and_history(database):
    raw = b"MSH|^~\\&|SIMRS|RSUD|" * 200
    with database.session() as s:
        tx = Transaction(
            channel="c",
            source_format="hl7v2",
            content_hash="sha256:x",
            raw_z=compress(raw),
            status_history=[],
            mappings_used={"m": {"version": "1.0.0", "digest": "sha256:d"}},
            timings_ms={"decode": 1.5},
            flags=[],
            duplicate_count=0,
        )
        tx.set_status("received")
        tx.set_status("accepted")
        s.add(tx)
    with database.session() as s:
        stored = s.scalars(select(Transaction)).one()
        assert decompress(stored.raw_z) == raw
        assert len(stored.raw_z) < len(raw) / 10
        assert [h["status"] for h in stored.status_history] == ["received", "accepted"]
        assert stored.mappings_used["m"]["digest"] == "sha256:d"


def test_idempotency_key_and_hash_are_unique_per_channel(database):
    def tx():
        return Transaction(
            channel="c",
            source_format="f",
            idempotency_key="k",
            content_hash="sha256:1",
            raw_z=b"",
            status="accepted",
            status_history=[],
            mappings_used={},
            timings_ms={},
            flags=[],
            duplicate_count=0,
        )

    with database.session() as s:
        s.add(tx())
    with pytest.raises(IntegrityError), database.session() as s:
        s.add(tx())


def test_outbox_enqueue_is_pending_with_payload(database):
    with database.session() as s:
        enqueue(s, "satusehat", b'{"resourceType":"Bundle"}', "application/fhir+json")
    with database.session() as s:
        entry = s.scalars(select(OutboxEntry)).one()
        assert (entry.state, entry.attempts) == ("pending", 0)
        assert decompress(entry.payload_z) == b'{"resourceType":"Bundle"}'


def test_id_map_is_unique_per_upstream_type_and_local_key(database):
    with database.session() as s:
        s.add(IdMap(upstream="satusehat", resource_type="Patient", local_key="RM-1", remote_id="P0001"))
        s.add(IdMap(upstream="bpjs", resource_type="Patient", local_key="RM-1", remote_id="X"))
    with pytest.raises(IntegrityError), database.session() as s:
        s.add(IdMap(upstream="satusehat", resource_type="Patient", local_key="RM-1", remote_id="P0002"))


def test_api_keys_are_stored_hashed_and_can_be_revoked(database):
    with database.session() as s:
        row, plaintext = create_key(s, "simrs")
    assert plaintext not in row.key_hash
    with database.session() as s:
        assert verify(s, f"Bearer {plaintext}").name == "simrs"
        assert revoke_key(s, row.id)
    with database.session() as s, pytest.raises(AuthError) as info:
        verify(s, f"Bearer {plaintext}")
    assert info.value.code == "GW-6102"


def test_db_upgrade_command_reports_the_heads(tmp_path, db_url):
    from bridge.db import get_db
    from tests.helpers import make_app

    app = make_app(tmp_path, DATABASE_URL=db_url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0
    assert " is at [" in result.output
    assert is_current(get_db(app).engine)
    get_db(app).dispose()
