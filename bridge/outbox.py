"""The outbox: payloads waiting for delivery, written in the same database transaction as the message.

``enqueue`` is called by the ingest path. :func:`deliver_pending` (the ``jembatan worker`` command)
claims due entries and hands each to its destination (:mod:`bridge.destinations`):

* **Claiming** never gives one entry to two workers: candidates are selected ``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL, and each is then taken with a compare-and-set ``UPDATE … WHERE state =
  'pending'`` (on SQLite, which has a single writer, the compare-and-set alone decides). An entry
  left ``in_flight`` by a crashed worker is taken again after ``lease_seconds``.
* **Outcomes**: delivered -> ``delivered``; a transient failure (timeout, dropped connection, 429,
  5xx) -> back to ``pending`` with exponential backoff and jitter (``Retry-After`` respected) until
  ``max_attempts``; a permanent failure (4xx) -> ``dead`` with the server's OperationOutcome in
  ``last_error``. Nothing is deleted.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bridge.db import Database
from bridge.errors import DeliveryError, GatewayError, PermanentDeliveryError, TransientDeliveryError
from bridge.models import OutboxEntry, Transaction, compress, decompress, utcnow

log = logging.getLogger(__name__)
LEASE_SECONDS = 300
BATCH = 20


def enqueue(
    session: Session,
    destination: str,
    payload: bytes,
    media_type: str,
    transaction_id: str | None = None,
) -> OutboxEntry:
    """Add a pending entry; the caller's commit makes it durable together with its transaction."""
    entry = OutboxEntry(
        destination=destination,
        payload_z=compress(payload),
        media_type=media_type,
        transaction_id=transaction_id,
        state="pending",
        attempts=0,
    )
    session.add(entry)
    return entry


@dataclass
class DeliveryReport:
    """What one :func:`deliver_due` run did, by entry id."""

    delivered: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return len(self.delivered) + len(self.retried) + len(self.dead)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"


def backoff_delay(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random; never above ``cap``."""
    step = min(cap, base * (2 ** max(attempts - 1, 0)))
    return step / 2 + (rng or random).uniform(0, step / 2)


# ------------------------------------------------------------------------------------------ claiming


def claim(db: Database, worker: str, limit: int, lease_seconds: float = LEASE_SECONDS) -> list[str]:
    """Take up to ``limit`` due entries for ``worker``; returns their ids (committed as ``in_flight``)."""
    now = utcnow()
    stale = now - timedelta(seconds=lease_seconds)
    due = or_(
        (OutboxEntry.state == "pending") & (OutboxEntry.next_attempt_at <= now),
        (OutboxEntry.state == "in_flight") & (OutboxEntry.locked_at < stale),
    )
    query = select(OutboxEntry.id, OutboxEntry.state).where(due).order_by(OutboxEntry.created_at).limit(limit)
    with db.session() as sess:
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        taken = [entry_id for entry_id, state in sess.execute(query).all() if _take(sess, entry_id, state, worker, now)]
    return taken


def _take(sess: Session, entry_id: str, state: str, worker: str, now: datetime) -> bool:
    result = sess.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id == entry_id, OutboxEntry.state == state)
        .values(state="in_flight", locked_by=worker, locked_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


# ------------------------------------------------------------------------------------------ delivering


def deliver_due(
    db: Database,
    destinations: Mapping[str, Any],
    *,
    worker: str | None = None,
    max_entries: int | None = None,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Deliver due entries until none is left (or ``max_entries``); one pass, no sleeping."""
    worker = worker or worker_name()
    report = DeliveryReport()
    while max_entries is None or report.processed < max_entries:
        limit = BATCH if max_entries is None else min(BATCH, max_entries - report.processed)
        ids = claim(db, worker, limit)
        if not ids:
            break
        for entry_id in ids:
            _deliver_one(db, destinations, entry_id, worker, report, rng)
    return report


def _deliver_one(db: Database, destinations: Mapping[str, Any], entry_id: str, worker: str,
                 report: DeliveryReport, rng: random.Random | None) -> None:  # fmt: skip
    with db.session() as sess:
        entry = sess.get(OutboxEntry, entry_id)
        if entry is None or entry.locked_by != worker:
            return
        name, payload, media_type = entry.destination, decompress(entry.payload_z) or b"", entry.media_type
    destination = destinations.get(name)
    try:
        if destination is None:
            raise PermanentDeliveryError("GW-5230", f"no destination {name!r} is configured")
        destination.deliver(payload, media_type)
    except TransientDeliveryError as exc:
        _failed(db, entry_id, worker, exc, destination, report, rng)
    except DeliveryError as exc:
        _finish(db, entry_id, worker, "dead", _error_record(exc), report.dead)
    except GatewayError as exc:  # configuration faults of a destination: nothing a retry will fix
        _finish(db, entry_id, worker, "dead", _error_record(exc), report.dead)
    except Exception as exc:  # a bug must not strand the entry in_flight: retry, bounded like the rest
        log.exception("delivery of outbox entry %s to %s failed unexpectedly", entry_id, name)
        wrapped = TransientDeliveryError("GW-5199", f"unexpected {type(exc).__name__}: {exc}")
        _failed(db, entry_id, worker, wrapped, destination, report, rng)
    else:
        _finish(db, entry_id, worker, "delivered", None, report.delivered)


def _failed(db: Database, entry_id: str, worker: str, exc: TransientDeliveryError, destination: Any,
            report: DeliveryReport, rng: random.Random | None) -> None:  # fmt: skip
    with db.session() as sess:
        entry = sess.get(OutboxEntry, entry_id)
        if entry is None or entry.locked_by != worker:
            return
        entry.attempts += 1
        entry.last_error = _error_record(exc)
        entry.locked_by, entry.locked_at = None, None
        max_attempts = min(entry.max_attempts, getattr(destination, "max_attempts", entry.max_attempts))
        if entry.attempts >= max_attempts:
            entry.state = "dead"
            _mark_transaction(sess, entry)
            report.dead.append(entry_id)
            return
        delay = backoff_delay(entry.attempts, getattr(destination, "backoff_base", 5.0),
                              getattr(destination, "backoff_max", 900.0), rng)  # fmt: skip
        retry_after = getattr(exc, "retry_after", None)
        entry.next_attempt_at = utcnow() + timedelta(seconds=max(delay, retry_after or 0))
        entry.state = "pending"
        report.retried.append(entry_id)


def _finish(db: Database, entry_id: str, worker: str, state: str, error: dict[str, Any] | None,
            bucket: list[str]) -> None:  # fmt: skip
    with db.session() as sess:
        entry = sess.get(OutboxEntry, entry_id)
        if entry is None or entry.locked_by != worker:
            return
        entry.attempts += 1
        entry.state = state
        entry.last_error = error
        entry.locked_by, entry.locked_at = None, None
        _mark_transaction(sess, entry)
    bucket.append(entry_id)


def _mark_transaction(sess: Session, entry: OutboxEntry) -> None:
    """Reflect a final delivery state (``delivered`` / ``dead``) in the transaction's status history."""
    if entry.transaction_id is None:
        return
    tx = sess.get(Transaction, entry.transaction_id)
    if tx is not None and tx.status != entry.state:
        tx.set_status(entry.state, note=f"outbox {entry.id} -> {entry.destination}")


def _error_record(exc: GatewayError) -> dict[str, Any]:
    record: dict[str, Any] = {"code": exc.code, "message": exc.message, "at": utcnow().isoformat()}
    for attr in ("status_code", "operation_outcome"):
        value = getattr(exc, attr, None)
        if value is not None:
            record[attr] = value
    return record


# ------------------------------------------------------------------------------------------ the app


def app_destinations(app: Flask) -> dict[str, Any]:
    """Destinations of the app, built once from ``DESTINATIONS`` (tests may pre-fill the extension)."""
    from bridge.db import get_db
    from bridge.destinations import build_destinations

    if "jembatan.destinations" not in app.extensions:
        app.extensions["jembatan.destinations"] = build_destinations(app.config.get("DESTINATIONS") or {},
                                                                     get_db(app))  # fmt: skip
    return app.extensions["jembatan.destinations"]  # type: ignore[no-any-return]


def deliver_pending(app: Flask, *, max_entries: int | None = None, worker: str | None = None) -> DeliveryReport:
    """One delivery pass over the app's outbox (what ``jembatan worker --once`` runs)."""
    from bridge.db import get_db

    return deliver_due(get_db(app), app_destinations(app), worker=worker, max_entries=max_entries)


def run_worker(
    app: Flask,
    *,
    once: bool = False,
    max_entries: int | None = None,
    interval: float = 2.0,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Deliver until ``once`` pass is done, ``max_entries`` are processed, or ``stop`` is set."""
    total = DeliveryReport()
    stop = stop or threading.Event()
    while not stop.is_set():
        report = deliver_pending(app, max_entries=max_entries)
        for name in ("delivered", "retried", "dead"):
            getattr(total, name).extend(getattr(report, name))
        if once or (max_entries is not None and total.processed >= max_entries):
            return total
        if not report.processed:
            stop.wait(interval)
    return total


@click.command("worker")
@click.option("--once", is_flag=True, help="One pass over the due entries, then exit.")
@click.option("--max-entries", type=int, default=None, help="Stop after this many entries.")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Idle poll interval (seconds).")
@with_appcontext
def worker_command(once: bool, max_entries: int | None, interval: float) -> None:
    """Deliver outbox entries to their destinations (several workers may run at once)."""
    report = run_worker(current_app._get_current_object(), once=once, max_entries=max_entries,  # type: ignore[attr-defined]
                        interval=interval)  # fmt: skip
    click.echo(f"delivered {len(report.delivered)}, retried {len(report.retried)}, dead {len(report.dead)}")


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)
