"""Ingest one message into a channel: run the pipeline, detect retransmissions, store durably, enqueue.

The transaction row (raw payload, outcome, mapping versions and digests, timings, the response
sent) and its outbox entry are committed together **before** :func:`ingest` returns, so whatever
the caller acknowledges is on disk.

Idempotency: a format may derive a business key from the message (HL7 v2: MSH-3|MSH-4|MSH-10),
or the HTTP caller sends an ``Idempotency-Key``. Same key and same content hash → duplicate: the
stored response is returned, ``duplicate_count`` grows and nothing is enqueued again. Same key,
different content → a new transaction with status ``conflict``, flagged, never delivered.

Group commit (used by the MLLP listener): :func:`prepare` does the CPU part of an ingest (decode and
the whole pipeline) outside any database transaction, and a :class:`GroupCommitter` writer thread
stores what several connections prepared in **one** transaction — one commit, one fsync for up to
``max_batch`` messages — then wakes every waiting caller. Nothing is returned to a caller before
the transaction holding its message has committed. When a shared transaction fails, it is rolled
back and each of its messages is stored alone, so one bad message fails only itself.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge import outbox
from bridge.db import get_db
from bridge.gateway import get_gateway
from bridge.models import Transaction, compress, decompress, new_id
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
                return _store(session, pipeline, body, digest, key, run, make_response, conflict=True)[0]
        if run.failed_step is None:
            pipeline.run_decoded(run)
        try:
            return _store(session, pipeline, body, digest, key, run, make_response)[0]
        except IntegrityError:
            session.rollback()  # a concurrent copy won the race: answer as a duplicate
    with db.session() as session:
        winner = next(t for t in _earlier(session, channel_name, key or "") if t.content_hash == digest)
        return _duplicate(winner)


@dataclass
class Prepared:
    """A message run through its channel's pipeline, not yet stored (see :func:`prepare`)."""

    channel: str
    body: bytes
    digest: str
    key: str | None
    run: RunResult
    decoded: RunResult  # the run as it stood after decoding: what a conflict stores
    make_response: ResponseMaker | None = field(default=None, repr=False)
    # the payloads as stored (zlib), compressed by prepare(): CPU work kept out of the single writer
    raw_z: bytes | None = field(default=None, repr=False)
    output_z: bytes | None = field(default=None, repr=False)


def prepare(
    channel_name: str,
    body: bytes,
    *,
    idempotency_key: str | None = None,
    make_response: ResponseMaker | None = None,
) -> Prepared:
    """Decode ``body`` and run the rest of the pipeline, touching no database (needs an app context).

    The pipeline runs before the duplicate check (that needs the store), so a retransmission costs
    one wasted run; in exchange the write transaction holds no CPU-heavy work (the payloads are
    compressed here too).
    """
    pipeline = get_gateway().pipeline(channel_name)
    run = RunResult(Outcome())
    pipeline.decode(body, run)
    decoded = _decode_only(run)
    if run.failed_step is None:
        pipeline.run_decoded(run)
    key = idempotency_key or run.idempotency_key
    return Prepared(channel_name, body, content_hash(body), key, run, decoded, make_response,
                    raw_z=compress(body), output_z=compress(run.output) if run.ok else None)  # fmt: skip


def _decode_only(run: RunResult) -> RunResult:
    return RunResult(
        Outcome(list(run.outcome.issues)),
        source_model=run.source_model,
        timings_ms=dict(run.timings_ms),
        failed_step=run.failed_step,
        idempotency_key=run.idempotency_key,
    )


def store_batch(items: list[Prepared]) -> list[IngestResult | Exception]:
    """Store prepared messages in one transaction; on any failure, store each alone (needs an app context).

    Returns, per item and in order, its :class:`IngestResult` or the exception that kept it from
    being stored. Idempotency is checked against the store *and* the earlier items of the batch:
    one query finds the stored transactions of every key in the batch; a key that an earlier item
    of the batch has just stored (a retransmission inside the group) is looked up again, which
    finds that uncommitted row in this transaction.
    """
    if len(items) > 1:
        try:
            with get_db().session() as session:
                known = _earlier_of_batch(session, items)
                stored: set[tuple[str, str]] = set()
                results: list[IngestResult | Exception] = []
                for item in items:
                    key = (item.channel, item.key or "")
                    earlier = _earlier(session, *key) if key in stored else known.get(key, [])
                    result, tx = _store_checked(session, item, earlier)
                    if tx is not None and item.key is not None:
                        stored.add(key)
                    results.append(result)
            return results
        except Exception:  # noqa: BLE001 - rolled back as a whole; retried one by one below
            log.warning("group commit of %d messages failed; storing them one by one", len(items), exc_info=True)
    return [_store_alone(item) for item in items]


def _store_alone(item: Prepared) -> IngestResult | Exception:
    db = get_db()
    try:
        try:
            with db.session() as session:
                return _store_prepared(session, item)
        except IntegrityError:  # a concurrent copy (e.g. over HTTP) won the race: answer as a duplicate
            with db.session() as session:
                winner = next(
                    t for t in _earlier(session, item.channel, item.key or "") if t.content_hash == item.digest
                )
                return _duplicate(winner)
    except Exception as exc:  # noqa: BLE001 - reported to this message's caller only
        return exc


def _store_prepared(session: Session, item: Prepared) -> IngestResult:
    earlier = _earlier(session, item.channel, item.key) if item.key is not None else []
    return _store_checked(session, item, earlier)[0]


def _store_checked(
    session: Session, item: Prepared, earlier: list[Transaction]
) -> tuple[IngestResult, Transaction | None]:
    """Store ``item`` given the transactions stored before under its key; the new row, if one was added."""
    pipeline = get_gateway().pipeline(item.channel)
    if item.key is not None:
        same = next((t for t in earlier if t.content_hash == item.digest), None)
        if same is not None:
            return _duplicate(same), None
        if earlier:
            conflict_run = _decode_only(item.decoded)  # a fresh copy: a retry must not add GW-6301 twice
            return _store(session, pipeline, item.body, item.digest, item.key, conflict_run, item.make_response,
                          conflict=True, raw_z=item.raw_z)  # fmt: skip
    return _store(session, pipeline, item.body, item.digest, item.key, item.run, item.make_response,
                  raw_z=item.raw_z, output_z=item.output_z)  # fmt: skip


def _earlier_of_batch(session: Session, items: list[Prepared]) -> dict[tuple[str, str], list[Transaction]]:
    """The stored transactions of every (channel, key) of ``items``, in one query per channel."""
    keys: dict[str, set[str]] = {}
    for item in items:
        if item.key is not None:
            keys.setdefault(item.channel, set()).add(item.key)
    found: dict[tuple[str, str], list[Transaction]] = {}
    for channel, channel_keys in keys.items():
        for tx in session.scalars(_BY_KEYS, {"channel": channel, "keys": list(channel_keys)}):
            found.setdefault((channel, tx.idempotency_key or ""), []).append(tx)
    return found


class _Pending:
    __slots__ = ("item", "done", "result")

    def __init__(self, item: Prepared) -> None:
        self.item = item
        self.done = threading.Event()
        self.result: IngestResult | Exception | None = None


class GroupCommitter:
    """A writer thread storing prepared messages in groups (one transaction, one fsync per group).

    :meth:`submit` blocks until the caller's message is committed and returns its result (or raises
    what kept it from being stored). A group is whatever is waiting when the writer is free — up
    to ``max_batch`` messages, optionally waiting up to ``max_wait_s`` for more — so under load one
    fsync covers many messages and a lone message is not delayed.
    """

    def __init__(self, app: Flask, *, max_batch: int = 64, max_wait_s: float = 0.0) -> None:
        self.app = app
        self.max_batch = max(1, max_batch)
        self.max_wait_s = max(0.0, max_wait_s)
        self.batches = 0  # statistics: groups committed and messages in them
        self.messages = 0
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="jembatan-group-commit", daemon=True)
        self._thread.start()

    def submit(self, item: Prepared) -> IngestResult:
        if self._closed:
            raise RuntimeError("group committer is closed")
        pending = _Pending(item)
        self._queue.put(pending)
        pending.done.wait()
        if isinstance(pending.result, Exception):
            raise pending.result
        assert pending.result is not None
        return pending.result

    def close(self, timeout: float = 10.0) -> None:
        """Store what was already submitted, then stop the writer."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._gather(first)
            self._commit(batch)
            if stop:
                return

    def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            try:
                wait = deadline - time.monotonic()
                nxt = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return batch, True
            batch.append(nxt)
        return batch, False

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            with self.app.app_context():
                results = store_batch([p.item for p in batch])
        except Exception as exc:  # noqa: BLE001 - e.g. a configuration fault: every caller hears of it
            results = [exc] * len(batch)
        self.batches += 1
        self.messages += len(batch)
        for pending, result in zip(batch, results, strict=True):
            pending.result = result
            pending.done.set()


# the idempotency lookups, built once (the writer runs them for every group)
_BY_KEY = select(Transaction).where(
    Transaction.channel == bindparam("channel"), Transaction.idempotency_key == bindparam("key")
)
_BY_KEYS = select(Transaction).where(
    Transaction.channel == bindparam("channel"), Transaction.idempotency_key.in_(bindparam("keys", expanding=True))
)


def _earlier(session: Session, channel: str, key: str) -> list[Transaction]:
    return list(session.scalars(_BY_KEY, {"channel": channel, "key": key}))


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
    raw_z: bytes | None = None,
    output_z: bytes | None = None,
) -> tuple[IngestResult, Transaction]:
    """Write the transaction row (then add its outbox entry) in ``session``'s transaction.

    The row is written at once, so a concurrent duplicate raises IntegrityError here. The
    returned :class:`Transaction` is not attached to the session (see :func:`_insert`).
    ``raw_z`` / ``output_z`` are ``body`` / ``run.output`` already compressed, when known.
    """
    channel = pipeline.channel
    tx = Transaction(
        id=new_id(),
        channel=channel.name,
        source_format=channel.source,
        target_format=channel.target,
        idempotency_key=key,
        content_hash=digest,
        raw_z=raw_z if raw_z is not None else compress(body),
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
    if status == "accepted" and run.output is not None:
        tx.output_z = output_z if output_z is not None else compress(run.output)
        if channel.destination != "none":
            tx.set_status("queued")
    response = make_response(run, tx.id, status) if make_response else None
    tx.response_z = compress(response)
    _insert(session, tx)
    if tx.status == "queued":  # after its transaction row, which the entry refers to
        outbox.enqueue(session, channel.destination, run.output or b"", pipeline.target.media_type, tx.id)
    log.info("message stored", extra={"transaction": tx.id, "channel": channel.name, "status": tx.status})
    result = IngestResult(tx.id, tx.status, run.outcome, run.output, conflict=conflict, response=response, run=run)
    return result, tx


_TRANSACTIONS = cast(Table, Transaction.__table__)
_COLUMNS = tuple(column.key for column in _TRANSACTIONS.columns)
_INSERT = insert(_TRANSACTIONS)


def _insert(session: Session, tx: Transaction) -> None:
    """One Core INSERT of ``tx``'s row, in the session's transaction.

    A new row is written with a plain INSERT rather than through the session's unit of work
    (identity map, attribute events, flush planning): that bookkeeping was most of the single
    writer's time, and nothing reads the object back. As in a flush, a column left unset gets its
    default (id, timestamps).
    """
    values = {key: value for key in _COLUMNS if (value := getattr(tx, key)) is not None}
    session.execute(_INSERT, values)


def _utc_iso(moment: datetime | None) -> str | None:
    """Stored times are UTC; SQLite returns them without an offset, so add it back."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


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
        "createdAt": _utc_iso(tx.created_at),
    }
    if include_payload:
        raw, out = decompress(tx.raw_z), decompress(tx.output_z)
        view["raw"] = raw.decode("utf-8", "replace") if raw else None
        view["output"] = out.decode("utf-8", "replace") if out else None
    return view
