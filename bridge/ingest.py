"""Ingest one message into a channel: run the pipeline, detect retransmissions, store durably, enqueue.

The transaction row (raw payload, outcome, mapping versions and digests, timings, the response
sent) and its outbox entry are committed together **before** :func:`ingest` returns, so whatever
the caller acknowledges is on disk.

Idempotency: a format may derive a business key from the message (HL7 v2: MSH-3|MSH-4|MSH-10),
or the HTTP caller sends an ``Idempotency-Key``. Same key and same content hash → duplicate: the
stored response is returned, ``duplicate_count`` grows and nothing is enqueued again. Same key,
different content → a new transaction with status ``conflict``, flagged, never delivered.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge import outbox
from bridge.db import get_db
from bridge.gateway import get_gateway
from bridge.models import Transaction, compress, decompress
from bridge.pipeline import Pipeline, RunResult
from conformance.outcome import Issue, Outcome

log = logging.getLogger("jembatan.ingest")

ResponseMaker = Callable[[RunResult, str, str], bytes]  # (result, transaction id, status) -> bytes


@dataclass
class IngestResult:
    transaction_id: str
    status: str  # accepted | rejected | conflict | duplicate of the stored status
    outcome: Outcome
    output: bytes | None
    duplicate: bool = False
    conflict: bool = False
    response: bytes | None = None
    run: RunResult | None = None


def content_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def ingest(
    channel_name: str,
    body: bytes,
    *,
    idempotency_key: str | None = None,
    make_response: ResponseMaker | None = None,
) -> IngestResult:
    """Run ``body`` through the channel and store the transaction; see the module docstring."""
    pipeline = get_gateway().pipeline(channel_name)
    run = RunResult(Outcome())
    digest = content_hash(body)
    pipeline.decode(body, run)
    key = idempotency_key or run.idempotency_key
    db = get_db()
    with db.session() as session:
        if key is not None:
            earlier = _earlier(session, channel_name, key)
            same = next((t for t in earlier if t.content_hash == digest), None)
            if same is not None:
                return _duplicate(same)
            if earlier:
                return _store(session, pipeline, body, digest, key, run, make_response, conflict=True)
        if run.failed_step is None:
            pipeline.run_decoded(run)
        try:
            return _store(session, pipeline, body, digest, key, run, make_response)
        except IntegrityError:
            session.rollback()  # a concurrent copy won the race: answer as a duplicate
    with db.session() as session:
        winner = next(t for t in _earlier(session, channel_name, key or "") if t.content_hash == digest)
        return _duplicate(winner)


def _earlier(session: Session, channel: str, key: str) -> list[Transaction]:
    stmt = select(Transaction).where(Transaction.channel == channel, Transaction.idempotency_key == key)
    return list(session.scalars(stmt))


def _duplicate(tx: Transaction) -> IngestResult:
    tx.duplicate_count = (tx.duplicate_count or 0) + 1
    log.info("duplicate message", extra={"transaction": tx.id, "channel": tx.channel})
    return IngestResult(
        tx.id,
        tx.status,
        Outcome.from_operation_outcome(tx.outcome or {}),
        decompress(tx.output_z),
        duplicate=True,
        response=decompress(tx.response_z),
    )


def _store(
    session: Session,
    pipeline: Pipeline,
    body: bytes,
    digest: str,
    key: str | None,
    run: RunResult,
    make_response: ResponseMaker | None,
    *,
    conflict: bool = False,
) -> IngestResult:
    channel = pipeline.channel
    tx = Transaction(
        channel=channel.name,
        source_format=channel.source,
        target_format=channel.target,
        idempotency_key=key,
        content_hash=digest,
        raw_z=compress(body),
        mappings_used=run.used_mappings,
        timings_ms=run.timings_ms,
        status_history=[],
        flags=[],
        duplicate_count=0,
    )
    tx.set_status("received")
    if conflict:
        run.outcome.add(
            Issue.error(
                "duplicate", f"idempotency key {key!r} was already used with different content", message_id="GW-6301"
            )
        )
        tx.flags = ["idempotency-conflict"]
    status = "conflict" if conflict else ("accepted" if run.ok else "rejected")
    tx.set_status(status, note=run.failed_step)
    tx.outcome = run.outcome.to_operation_outcome()
    session.add(tx)
    session.flush()  # assigns the id, raises IntegrityError on a concurrent duplicate
    if status == "accepted" and run.output is not None:
        tx.output_z = compress(run.output)
        if channel.destination != "none":
            outbox.enqueue(session, channel.destination, run.output, pipeline.target.media_type, tx.id)
            tx.set_status("queued")
    response = make_response(run, tx.id, status) if make_response else None
    tx.response_z = compress(response)
    session.flush()
    log.info("message stored", extra={"transaction": tx.id, "channel": channel.name, "status": tx.status})
    return IngestResult(tx.id, tx.status, run.outcome, run.output, conflict=conflict, response=response, run=run)


def transaction_view(tx: Transaction, *, include_payload: bool = False) -> dict[str, Any]:
    """The JSON shape of ``GET /transactions/<id>`` (payloads only on request)."""
    view: dict[str, Any] = {
        "id": tx.id,
        "channel": tx.channel,
        "sourceFormat": tx.source_format,
        "targetFormat": tx.target_format,
        "idempotencyKey": tx.idempotency_key,
        "contentHash": tx.content_hash,
        "status": tx.status,
        "statusHistory": tx.status_history,
        "mappingsUsed": tx.mappings_used,
        "timingsMs": tx.timings_ms,
        "duplicateCount": tx.duplicate_count,
        "flags": tx.flags,
        "outcome": tx.outcome,
        "createdAt": tx.created_at.isoformat() if tx.created_at else None,
    }
    if include_payload:
        raw, out = decompress(tx.raw_z), decompress(tx.output_z)
        view["raw"] = raw.decode("utf-8", "replace") if raw else None
        view["output"] = out.decode("utf-8", "replace") if out else None
    return view
