"""The outbox: payloads waiting for delivery, written in the same database transaction as the message.

``enqueue`` is called by the ingest path; delivery (the worker) is added by the delivery feature.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bridge.models import OutboxEntry, compress


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
