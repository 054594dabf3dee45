"""Indicators over what the gateway has processed: FHIR resources read back from stored transactions.

A transaction contributes its FHIR content when its channel produced FHIR (``fhir+json`` or
``satusehat+json`` output) or took FHIR in (``fhir+json`` source). Rejected and conflicting
transactions are skipped. The evaluation itself is pure (:mod:`adapters.dhis2.indicators`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import select

from adapters.base import MapContext
from adapters.dhis2.indicators import Index, evaluate, load_measure, to_data_value_set
from adapters.dhis2.model import DataValueSet
from bridge.db import Database
from bridge.models import Transaction, decompress

FHIR_FORMATS = ("fhir+json", "satusehat+json")
SKIPPED_STATUSES = ("received", "rejected", "conflict")


def _fhir_payload(tx: Transaction) -> bytes | None:
    if tx.target_format in FHIR_FORMATS and tx.output_z is not None:
        return decompress(tx.output_z)
    if tx.source_format in FHIR_FORMATS:
        return decompress(tx.raw_z)
    return None


def processed_resources(db: Database, channels: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """FHIR resources (Bundles as stored) of the accepted transactions, optionally of some channels only."""
    query = select(Transaction).where(Transaction.status.not_in(SKIPPED_STATUSES)).order_by(Transaction.created_at)
    wanted = tuple(channels)
    if wanted:
        query = query.where(Transaction.channel.in_(wanted))
    with db.session() as sess:
        for tx in sess.scalars(query):
            payload = _fhir_payload(tx)
            if not payload:
                continue
            try:
                doc = json.loads(payload)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("resourceType"):
                yield doc


def indicator_data_value_set(
    measure_id: str,
    period: str,
    resources: Iterable[dict[str, Any]],
    ctx: MapContext,
    *,
    version: str | None = None,
    facility_system: str | None = None,
    org_unit_scheme: str = "code",
) -> DataValueSet:
    """Evaluate one indicator for one period and return the data value set (issues go to ``ctx``)."""
    bundle = evaluate(load_measure(measure_id, version), Index.of(resources), period, ctx,
                      facility_system=facility_system)  # fmt: skip
    return to_data_value_set(bundle, org_unit_scheme=org_unit_scheme)
