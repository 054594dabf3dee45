"""DHIS2 periods: every ISO-style period type, parsed to ``Period`` and written back, plus the ADX form.

A :class:`Period` is a period type name (DHIS2 ``PeriodTypeEnum`` spelling) and an inclusive
``start``/``end`` date. :func:`parse_period` reads the DHIS2 strings (``20240315``, ``2024W5``,
``2024SunW8``, ``2024BiW1``, ``202401``, ``202401B``, ``2024Q1``, ``2024NovQ1``, ``2024S1``,
``2024AprilS2``, ``2024NovS1``, ``2024``, ``2024April`` …) and the lenient 2.43 variants
(``2024-03-15``, ``2024-01``, ``2024W05``); :func:`format_period` writes the canonical form.
:func:`parse_adx_period` / :func:`format_adx_period` handle ADX ``<start>/<ISO 8601 duration>``.

Week rule (assumption, documented in the README, DHIS2 section): a week belongs to the year in which its
fourth day falls. For Monday weeks this is ISO 8601; other start days generalise it. BiWeekly
period *n* is ISO weeks 2n-1 and 2n. ``2024NovQ1`` / ``2024NovS1`` start in November of the
previous year; financial years (``2024April``) start in the named month of the given year.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from bridge.errors import DecodeError

WEEKLY_TYPES: dict[str, tuple[str, int]] = {  # type -> (string infix, weekday Monday=0)
    "Weekly": ("", 0),
    "WeeklyWednesday": ("Wed", 2),
    "WeeklyThursday": ("Thu", 3),
    "WeeklyFriday": ("Fri", 4),
    "WeeklySaturday": ("Sat", 5),
    "WeeklySunday": ("Sun", 6),
}
FINANCIAL_TYPES: dict[str, tuple[str, int]] = {  # type -> (suffix, start month)
    "FinancialFeb": ("Feb", 2),
    "FinancialApril": ("April", 4),
    "FinancialJuly": ("July", 7),
    "FinancialAug": ("Aug", 8),
    "FinancialSep": ("Sep", 9),
    "FinancialOct": ("Oct", 10),
    "FinancialNov": ("Nov", 11),
}
PERIOD_TYPES: tuple[str, ...] = (
    "Daily",
    *WEEKLY_TYPES,
    "BiWeekly",
    "Monthly",
    "BiMonthly",
    "Quarterly",
    "QuarterlyNov",
    "SixMonthly",
    "SixMonthlyApril",
    "SixMonthlyNov",
    "Yearly",
    *FINANCIAL_TYPES,
)
_WEEK_RE = re.compile(r"^(\d{4})(Wed|Thu|Fri|Sat|Sun)?W(\d{1,2})$")
_BIWEEK_RE = re.compile(r"^(\d{4})BiW(\d{1,2})$")
_ADX_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})/P(\d+)([DMY])$")


@dataclass(frozen=True, order=True)
class Period:
    """One DHIS2 period: ``type`` (e.g. ``Monthly``) and inclusive ``start`` .. ``end``."""

    type: str
    start: date
    end: date

    @property
    def iso(self) -> str:
        return format_period(self)

    @property
    def adx(self) -> str:
        return format_adx_period(self)


def _bad(text: str, why: str = "") -> DecodeError:
    return DecodeError("GW-1540", f"invalid DHIS2 period {text!r}{': ' + why if why else ''}", location="period")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_span(ptype: str, start: date, months: int) -> Period:
    return Period(ptype, start, _add_months(start, months) - timedelta(days=1))


def _week_one(year: int, weekday: int) -> date:
    """Start of week 1: the week (starting on ``weekday``) whose fourth day lies in ``year``."""
    jan4 = date(year, 1, 4)
    return jan4 - timedelta(days=(jan4.weekday() - weekday) % 7)


def _weeks_in_year(year: int, weekday: int) -> int:
    return (_week_one(year + 1, weekday) - _week_one(year, weekday)).days // 7


def _week(ptype: str, year: int, week: int, text: str) -> Period:
    weekday = WEEKLY_TYPES[ptype][1]
    if not 1 <= week <= _weeks_in_year(year, weekday):
        raise _bad(text, f"week {week} does not exist in {year}")
    start = _week_one(year, weekday) + timedelta(weeks=week - 1)
    return Period(ptype, start, start + timedelta(days=6))


def _biweek(year: int, number: int, text: str) -> Period:
    if not 1 <= number <= (_weeks_in_year(year, 0) + 1) // 2:
        raise _bad(text, f"bi-week {number} does not exist in {year}")
    start = _week_one(year, 0) + timedelta(weeks=2 * (number - 1))
    return Period("BiWeekly", start, start + timedelta(days=13))


def _ymd(text: str, year: str, month: str, day: str) -> date:
    try:
        return date(int(year), int(month), int(day))
    except ValueError as exc:
        raise _bad(text, str(exc)) from None


def _month(text: str, year: str, month: str) -> date:
    if not 1 <= int(month) <= 12:
        raise _bad(text, "month out of range")
    return date(int(year), int(month), 1)


def _parse_numeric(text: str) -> Period | None:
    if re.fullmatch(r"\d{8}", text):
        day = _ymd(text, text[:4], text[4:6], text[6:])
        return Period("Daily", day, day)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = _ymd(text, text[:4], text[5:7], text[8:])
        return Period("Daily", day, day)
    if re.fullmatch(r"\d{6}", text) or re.fullmatch(r"\d{4}-\d{2}", text):
        return _month_span("Monthly", _month(text, text[:4], text[-2:]), 1)
    if re.fullmatch(r"\d{6}B", text):
        month = int(text[4:6])
        if month % 2 == 0:
            raise _bad(text, "bi-months start in odd months")
        return _month_span("BiMonthly", _month(text, text[:4], text[4:6]), 2)
    if re.fullmatch(r"\d{4}", text):
        return _month_span("Yearly", date(int(text), 1, 1), 12)
    return None


def _parse_named(text: str) -> Period | None:
    year = int(text[:4])
    rest = text[4:]
    if match := re.fullmatch(r"(Nov)?Q([1-4])", rest):
        if match.group(1):
            return _month_span("QuarterlyNov", _add_months(date(year - 1, 11, 1), 3 * (int(match.group(2)) - 1)), 3)
        return _month_span("Quarterly", date(year, 3 * int(match.group(2)) - 2, 1), 3)
    if match := re.fullmatch(r"(April|Nov)?S([12])", rest):
        half = int(match.group(2)) - 1
        kind = match.group(1)
        if kind == "April":
            return _month_span("SixMonthlyApril", _add_months(date(year, 4, 1), 6 * half), 6)
        if kind == "Nov":
            return _month_span("SixMonthlyNov", _add_months(date(year - 1, 11, 1), 6 * half), 6)
        return _month_span("SixMonthly", date(year, 1 + 6 * half, 1), 6)
    for ptype, (suffix, month) in FINANCIAL_TYPES.items():
        if rest == suffix:
            return _month_span(ptype, date(year, month, 1), 12)
    return None


def parse_period(text: str) -> Period:
    """Parse a DHIS2 period string (or the ADX ``start/duration`` form); raise DecodeError GW-1540.

    Results are cached (periods are immutable; a payload repeats a handful of periods many times).
    """
    if not isinstance(text, str) or not 4 <= len(text) <= 24:
        raise _bad(str(text), "wrong length")
    return _parse_period(text)


@lru_cache(maxsize=16384)
def _parse_period(text: str) -> Period:
    if "/" in text:
        return parse_adx_period(text)
    if not text[:4].isdigit():
        raise _bad(text, "must start with a 4-digit year")
    if match := _WEEK_RE.fullmatch(text):
        ptype = next(t for t, (infix, _) in WEEKLY_TYPES.items() if infix == (match.group(2) or ""))
        return _week(ptype, int(match.group(1)), int(match.group(3)), text)
    if match := _BIWEEK_RE.fullmatch(text):
        return _biweek(int(match.group(1)), int(match.group(2)), text)
    period = _parse_numeric(text) or _parse_named(text)
    if period is None:
        raise _bad(text, "unknown period format")
    return period


def _week_number(period: Period, weekday: int) -> tuple[int, int]:
    fourth = period.start + timedelta(days=3)
    year = fourth.year
    return year, (period.start - _week_one(year, weekday)).days // 7 + 1


def format_period(period: Period) -> str:
    """Canonical DHIS2 string of ``period``."""
    ptype, start = period.type, period.start
    if ptype == "Daily":
        return start.strftime("%Y%m%d")
    if ptype in WEEKLY_TYPES:
        infix, weekday = WEEKLY_TYPES[ptype]
        year, week = _week_number(period, weekday)
        return f"{year}{infix}W{week}"
    if ptype == "BiWeekly":
        year, week = _week_number(period, 0)
        return f"{year}BiW{(week + 1) // 2}"
    if ptype == "Monthly":
        return start.strftime("%Y%m")
    if ptype == "BiMonthly":
        return start.strftime("%Y%mB")
    return _format_long(period)


def _format_long(period: Period) -> str:
    ptype, start = period.type, period.start
    if ptype == "Quarterly":
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    if ptype == "QuarterlyNov":
        index = ((start.month - 11) % 12) // 3 + 1
        return f"{start.year + 1 if start.month == 11 else start.year}NovQ{index}"
    if ptype == "SixMonthly":
        return f"{start.year}S{1 if start.month == 1 else 2}"
    if ptype == "SixMonthlyApril":
        return f"{start.year}AprilS{1 if start.month == 4 else 2}"
    if ptype == "SixMonthlyNov":
        return f"{start.year + 1}NovS1" if start.month == 11 else f"{start.year}NovS2"
    if ptype == "Yearly":
        return str(start.year)
    if ptype in FINANCIAL_TYPES:
        return f"{start.year}{FINANCIAL_TYPES[ptype][0]}"
    raise _bad(ptype, "unknown period type")


def canonical(text: str) -> str:
    """The canonical DHIS2 spelling of any accepted period string."""
    return format_period(parse_period(text))


# ---------------------------------------------------------------- ADX


def _adx_type(text: str, start: date, amount: int, unit: str) -> str | None:
    month = start.month
    if unit == "D":
        if amount == 1:
            return "Daily"
        if amount == 7:
            return next((t for t, (_, wd) in WEEKLY_TYPES.items() if wd == start.weekday()), None)
        return "BiWeekly" if amount == 14 and start.weekday() == 0 else None
    if start.day != 1:
        return None
    if unit == "Y" and amount == 1:
        if month == 1:
            return "Yearly"
        return next((t for t, (_, m) in FINANCIAL_TYPES.items() if m == month), None)
    by_months = {
        1: {m: "Monthly" for m in range(1, 13)},
        2: {m: "BiMonthly" for m in (1, 3, 5, 7, 9, 11)},
        3: {**{m: "Quarterly" for m in (1, 4, 7, 10)}, **{m: "QuarterlyNov" for m in (2, 5, 8, 11)}},
        6: {
            1: "SixMonthly",
            7: "SixMonthly",
            4: "SixMonthlyApril",
            10: "SixMonthlyApril",
            5: "SixMonthlyNov",
            11: "SixMonthlyNov",
        },
        12: {1: "Yearly"},
    }
    return by_months.get(amount, {}).get(month) if unit == "M" else None


def parse_adx_period(text: str) -> Period:
    """``2024-01-01/P1M`` -> Monthly 2024-01; the start weekday/month selects the DHIS2 type."""
    match = _ADX_RE.fullmatch(text)
    if not match:
        raise _bad(text, "ADX periods are <yyyy-MM-dd>/P<n><D|M|Y>")
    start = _ymd(text, *match.group(1).split("-"))
    ptype = _adx_type(text, start, int(match.group(2)), match.group(3))
    if ptype is None:
        raise _bad(text, "start and duration match no DHIS2 period type")
    period = parse_period(format_period(_span(ptype, start)))
    if period.start != start:
        raise _bad(text, "start is not the first day of a period")
    return period


def _span(ptype: str, start: date) -> Period:
    if ptype == "Daily":
        return Period(ptype, start, start)
    if ptype in WEEKLY_TYPES:
        return Period(ptype, start, start + timedelta(days=6))
    if ptype == "BiWeekly":
        return Period(ptype, start, start + timedelta(days=13))
    months = {
        "Monthly": 1,
        "BiMonthly": 2,
        "Quarterly": 3,
        "QuarterlyNov": 3,
        "SixMonthly": 6,
        "SixMonthlyApril": 6,
        "SixMonthlyNov": 6,
    }.get(ptype, 12)
    return _month_span(ptype, start, months)


ADX_DURATIONS: dict[str, str] = {
    "Daily": "P1D",
    "BiWeekly": "P14D",
    "Monthly": "P1M",
    "BiMonthly": "P2M",
    "Quarterly": "P3M",
    "QuarterlyNov": "P3M",
    "SixMonthly": "P6M",
    "SixMonthlyApril": "P6M",
    "SixMonthlyNov": "P6M",
    "Yearly": "P1Y",
    **{t: "P7D" for t in WEEKLY_TYPES},
    **{t: "P1Y" for t in FINANCIAL_TYPES},
}


def format_adx_period(period: Period) -> str:
    return f"{period.start.isoformat()}/{ADX_DURATIONS[period.type]}"


def to_adx(text: str) -> str:
    """DHIS2 period string -> ADX form (raise DecodeError GW-1540 when not a period)."""
    return format_adx_period(parse_period(text))


def period_for_range(start: date, end: date) -> Period | None:
    """The DHIS2 period exactly covering ``start`` .. ``end`` (first matching type), else None."""
    days = (end - start).days + 1
    candidates = {1: "P1D", 7: "P7D", 14: "P14D"}
    if days in candidates:
        text = f"{start.isoformat()}/{candidates[days]}"
    else:
        months = (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1
        text = f"{start.isoformat()}/P{1 if months == 12 else months}{'Y' if months == 12 else 'M'}"
    try:
        period = parse_adx_period(text)
    except DecodeError:
        return None
    return period if period.end == end else None


def last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


_MONTH_SPANS: dict[str, tuple[int, int]] = {  # type -> (length in months, first month of the cycle)
    "Monthly": (1, 1),
    "BiMonthly": (2, 1),
    "Quarterly": (3, 1),
    "QuarterlyNov": (3, 11),
    "SixMonthly": (6, 1),
    "SixMonthlyApril": (6, 4),
    "SixMonthlyNov": (6, 11),
    "Yearly": (12, 1),
    **{t: (12, m) for t, (_, m) in FINANCIAL_TYPES.items()},
}


def period_containing(ptype: str, day: date) -> Period:
    """The ``ptype`` period that contains ``day`` (e.g. the current period of a dataSet)."""
    if ptype == "Daily":
        return Period(ptype, day, day)
    if ptype in WEEKLY_TYPES:
        return _span(ptype, day - timedelta(days=(day.weekday() - WEEKLY_TYPES[ptype][1]) % 7))
    if ptype == "BiWeekly":
        monday = day - timedelta(days=day.weekday())
        _, week = _week_number(Period("Weekly", monday, monday + timedelta(days=6)), 0)
        return _span(ptype, monday - timedelta(days=7 * ((week - 1) % 2)))
    if ptype not in _MONTH_SPANS:
        raise _bad(ptype, "unknown period type")
    length, first = _MONTH_SPANS[ptype]
    index = day.year * 12 + day.month - 1
    start = index - (index - (first - 1)) % length
    return _span(ptype, date(start // 12, start % 12 + 1, 1))


def shift(period: Period, count: int) -> Period:
    """The period ``count`` periods after ``period`` (``count`` >= 0)."""
    for _ in range(count):
        period = _span(period.type, period.end + timedelta(days=1))
    return period
