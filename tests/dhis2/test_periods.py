from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given

from adapters.dhis2.periods import (
    PERIOD_TYPES,
    format_adx_period,
    format_period,
    parse_adx_period,
    parse_period,
    period_for_range,
)
from bridge.errors import DecodeError
from tests.dhis2.strategies import periods

CASES = [
    ("20240315", "Daily", "2024-03-15", "2024-03-15", "2024-03-15/P1D"),
    ("2024W1", "Weekly", "2024-01-01", "2024-01-07", "2024-01-01/P7D"),
    ("2020W53", "Weekly", "2020-12-28", "2021-01-03", "2020-12-28/P7D"),
    ("2024WedW1", "WeeklyWednesday", "2024-01-03", "2024-01-09", "2024-01-03/P7D"),
    ("2024ThuW2", "WeeklyThursday", "2024-01-11", "2024-01-17", "2024-01-11/P7D"),
    ("2024FriW1", "WeeklyFriday", "2023-12-29", "2024-01-04", "2023-12-29/P7D"),
    ("2024SatW1", "WeeklySaturday", "2023-12-30", "2024-01-05", "2023-12-30/P7D"),
    ("2024SunW8", "WeeklySunday", "2024-02-18", "2024-02-24", "2024-02-18/P7D"),
    ("2024BiW1", "BiWeekly", "2024-01-01", "2024-01-14", "2024-01-01/P14D"),
    ("202402", "Monthly", "2024-02-01", "2024-02-29", "2024-02-01/P1M"),
    ("202403B", "BiMonthly", "2024-03-01", "2024-04-30", "2024-03-01/P2M"),
    ("2024Q2", "Quarterly", "2024-04-01", "2024-06-30", "2024-04-01/P3M"),
    ("2024NovQ1", "QuarterlyNov", "2023-11-01", "2024-01-31", "2023-11-01/P3M"),
    ("2024S2", "SixMonthly", "2024-07-01", "2024-12-31", "2024-07-01/P6M"),
    ("2024AprilS1", "SixMonthlyApril", "2024-04-01", "2024-09-30", "2024-04-01/P6M"),
    ("2024NovS1", "SixMonthlyNov", "2023-11-01", "2024-04-30", "2023-11-01/P6M"),
    ("2024NovS2", "SixMonthlyNov", "2024-05-01", "2024-10-31", "2024-05-01/P6M"),
    ("2024", "Yearly", "2024-01-01", "2024-12-31", "2024-01-01/P1Y"),
    ("2024Feb", "FinancialFeb", "2024-02-01", "2025-01-31", "2024-02-01/P1Y"),
    ("2024April", "FinancialApril", "2024-04-01", "2025-03-31", "2024-04-01/P1Y"),
    ("2024July", "FinancialJuly", "2024-07-01", "2025-06-30", "2024-07-01/P1Y"),
    ("2024Aug", "FinancialAug", "2024-08-01", "2025-07-31", "2024-08-01/P1Y"),
    ("2024Sep", "FinancialSep", "2024-09-01", "2025-08-31", "2024-09-01/P1Y"),
    ("2024Oct", "FinancialOct", "2024-10-01", "2025-09-30", "2024-10-01/P1Y"),
    ("2024Nov", "FinancialNov", "2024-11-01", "2025-10-31", "2024-11-01/P1Y"),
]


@pytest.mark.parametrize(("text", "ptype", "start", "end", "adx"), CASES)
def test_every_period_type_parses_writes_and_maps_to_adx(text: str, ptype: str, start: str, end: str, adx: str) -> None:
    period = parse_period(text)
    assert (period.type, period.start.isoformat(), period.end.isoformat()) == (ptype, start, end)
    assert format_period(period) == text
    assert format_adx_period(period) == adx
    assert parse_adx_period(adx) == period


def test_case_table_covers_every_type() -> None:
    assert {c[1] for c in CASES} == set(PERIOD_TYPES)


@pytest.mark.parametrize(
    ("lenient", "canonical"), [("2024-03-15", "20240315"), ("2024-01", "202401"), ("2024W05", "2024W5")]
)
def test_243_lenient_forms(lenient: str, canonical: str) -> None:
    assert format_period(parse_period(lenient)) == canonical


@pytest.mark.parametrize(
    "bad",
    [
        "2024W54",
        "2021W53",
        "202413",
        "202402B",
        "2024Q5",
        "20240230",
        "24",
        "abcd01",
        "2024-01-02/P1M",
        "2024-01-02/P7D",
        "2024-01-01/P5M",
        "2024-03-01/P1Y",
    ],
)
def test_invalid_periods_raise_gw1540(bad: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_period(bad)
    assert info.value.code == "GW-1540"


def test_tuesday_weeks_do_not_exist_in_adx() -> None:
    with pytest.raises(DecodeError):
        parse_adx_period("2024-01-02/P7D")


@given(periods())
def test_period_round_trip_through_string_and_adx(text: str) -> None:
    period = parse_period(text)
    assert format_period(period) == text
    assert parse_adx_period(period.adx) == period
    assert period.start <= period.end


@given(periods())
def test_period_for_range_finds_the_same_span(text: str) -> None:
    period = parse_period(text)
    found = period_for_range(period.start, period.end)
    assert found is not None and (found.start, found.end) == (period.start, period.end)


def test_consecutive_weeks_tile_the_year() -> None:
    starts = [parse_period(f"2026W{n}").start for n in range(1, 54) if n <= 53]
    assert starts[0] == date(2025, 12, 29)
    assert all((b - a).days == 7 for a, b in zip(starts, starts[1:], strict=False))


@given(periods())
def test_period_containing_and_shift(text: str) -> None:
    from datetime import timedelta

    from adapters.dhis2.periods import period_containing, shift

    period = parse_period(text)
    assert period_containing(period.type, period.start) == period == period_containing(period.type, period.end)
    following = shift(period, 1)
    assert following.type == period.type and following.start == period.end + timedelta(days=1)
    assert parse_period(following.iso) == following
