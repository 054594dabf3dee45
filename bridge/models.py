"""SQLAlchemy 2.x models of the gateway's own tables (terminology has its own in ``terminology``).

Every table is created by Alembic migrations under ``bridge/migrations``; the models and the
migrations are kept in step by a test that diffs them (``tests/bridge/test_migrations.py``).
Payloads are stored zlib-compressed (``*_z`` columns); use :func:`compress` / :func:`decompress`.
"""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def compress(data: bytes | None) -> bytes | None:
    # level 3: about twice as fast as 6 on FHIR JSON for ~15 % more bytes (compression runs per message)
    return None if data is None else zlib.compress(data, 3)


def decompress(data: bytes | None) -> bytes | None:
    return None if data is None else zlib.decompress(data)


class Transaction(Base):
    """One message through one channel: raw input, status history, mappings used, outcome, timings."""

    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("channel", "idempotency_key", "content_hash", name="uq_transactions_idem"),
        Index("ix_transactions_channel_created", "channel", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(100))
    source_format: Mapped[str] = mapped_column(String(60))
    target_format: Mapped[str | None] = mapped_column(String(60))
    idempotency_key: Mapped[str | None] = mapped_column(String(300), index=True)
    content_hash: Mapped[str] = mapped_column(String(71))  # "sha256:" + 64 hex
    raw_z: Mapped[bytes] = mapped_column(LargeBinary)
    output_z: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_z: Mapped[bytes | None] = mapped_column(LargeBinary)  # e.g. the HL7 ACK sent, replayed on duplicates
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    mappings_used: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    timings_ms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def set_status(self, status: str, note: str | None = None) -> None:
        entry = {"status": status, "at": utcnow().isoformat()}
        if note:
            entry["note"] = note
        self.status = status
        self.status_history = [*(self.status_history or []), entry]


class OutboxEntry(Base):
    """A payload waiting for (or done with) delivery to one destination."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    transaction_id: Mapped[str | None] = mapped_column(ForeignKey("transactions.id", ondelete="SET NULL"))
    destination: Mapped[str] = mapped_column(String(100))
    media_type: Mapped[str] = mapped_column(String(100))
    payload_z: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending|in_flight|delivered|dead
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class IdMap(Base):
    """Local business identifier <-> id the upstream assigned, per upstream and resource type."""

    __tablename__ = "id_map"
    __table_args__ = (UniqueConstraint("upstream", "resource_type", "local_key", name="uq_id_map_local"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    upstream: Mapped[str] = mapped_column(String(60))
    resource_type: Mapped[str] = mapped_column(String(60))
    local_key: Mapped[str] = mapped_column(String(300))
    remote_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    """An API key, stored as sha256 of the secret; ``channels`` null means every channel."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # the public prefix of the key
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64))
    channels: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
