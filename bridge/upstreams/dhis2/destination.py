"""The outbox destination of type ``dhis2``: one outbox entry = one data value set (any of the four formats).

``DESTINATIONS = {name: {"type": "dhis2", "base_url": ..., "token" | "username"/"password", ...}}``
with the keys of :class:`~bridge.upstreams.dhis2.client.Dhis2Config` plus ``max_attempts`` (8),
``backoff_base`` (5 s), ``backoff_max`` (900 s) and ``warning_is_failure`` (False).

Retries are safe: DHIS2 imports are upserts keyed by (data element, period, org unit, COC, AOC),
so a replayed entry only counts as updated or ignored. Network faults, 429 and 5xx are retried
by the outbox; a whole-group rejection (HTTP 409) goes to the dead letters with its located
issues. A partial import (WARNING) is delivered and its conflicts are logged — or, with
``warning_is_failure``, the entry goes dead so an operator looks at it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bridge.upstreams.dhis2.client import Dhis2Client, Dhis2Config, Dhis2Rejected

log = logging.getLogger(__name__)


class Dhis2Destination:
    def __init__(self, name: str, settings: Mapping[str, Any], db: Any = None,
                 client: Dhis2Client | None = None) -> None:  # fmt: skip
        self.name = name
        self.max_attempts = int(settings.get("max_attempts") or 8)
        self.backoff_base = float(settings.get("backoff_base") or 5)
        self.backoff_max = float(settings.get("backoff_max") or 900)
        self.warning_is_failure = bool(settings.get("warning_is_failure", False))
        self.client = client or Dhis2Client(Dhis2Config.from_mapping(settings))

    def close(self) -> None:
        self.client.close()

    def deliver(self, payload: bytes, media_type: str) -> Any:
        result = self.client.deliver(payload, media_type)
        if result.status == "WARNING":
            for issue in result.outcome.issues:
                log.warning(
                    "DHIS2 %s rejected %s: %s %s",
                    self.name,
                    ",".join(issue.expression),
                    issue.message_id,
                    issue.message,
                )
            if self.warning_is_failure:
                raise Dhis2Rejected(
                    "GW-5257",
                    f"DHIS2 imported only part of the set ({len(result.rejected_indexes)} values rejected)",
                    status_code=result.http_status,
                    operation_outcome=result.outcome.to_operation_outcome(),
                )
        return _receipt(result.import_count)


def _receipt(counts: Mapping[str, int]) -> Any:
    try:
        from bridge.destinations import Receipt
    except ImportError:  # pragma: no cover - outbox feature absent from this build
        return dict(counts)
    return Receipt(created=counts.get("imported", 0), updated=counts.get("updated", 0) + counts.get("deleted", 0))
