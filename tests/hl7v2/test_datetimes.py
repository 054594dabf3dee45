"""v2 DTM → FHIR date/dateTime: precision kept, facility zone added, impossible dates refused."""

from __future__ import annotations

import pytest

from adapters.base import MapContext
from adapters.hl7v2.datatypes import Scope, dtm


def scope() -> Scope:
    return Scope(MapContext(settings={"timezone": "Asia/Makassar"}), sender="RSUD")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2024", "2024"), ("202402", "2024-02"), ("20240229", "2024-02-29"),
     ("202402291530", "2024-02-29T15:30:00+08:00"), ("20240229153000+0700", "2024-02-29T15:30:00+07:00")],
)  # fmt: skip
def test_precision_and_zone(value: str, expected: str) -> None:
    assert dtm(value, scope(), "PID-7") == expected


@pytest.mark.parametrize("value", ["200000", "20000100", "20230229", "202402301200", "202402291260"])
def test_impossible_dates_are_left_out_with_a_warning(value: str) -> None:
    where = scope()
    assert dtm(value, where, "PID-7") is None
    assert [i.message_id for i in where.ctx.outcome.issues] == ["GW-1343"]
