"""ORC-7 / OBR-27 TQ (the timing/quantity data type TQ1 replaced) → ServiceRequest, per the IG TQ[ServiceRequest] map.

TQ.1 quantity → ``quantityQuantity``; TQ.2 interval (RI: .1 repeat pattern of table 0335, .2 explicit
times) → ``occurrenceTiming.code`` / ``repeat.timeOfDay``; TQ.4/TQ.5 → ``repeat.boundsPeriod``; TQ.8
text → ``note``; TQ.12 total occurrences → ``repeat.count``. TQ.3 duration (``S50``, ``H2``…) and the
free-text TQ.6 priority are not mapped (no versioned map for them yet). Only the first repetition is
read; an empty TQ changes nothing.
"""

from __future__ import annotations

import re

from adapters.hl7v2.datatypes import V2_TABLE, Json, Rep, Scope, dtm, prune

TIME = re.compile(r"^(\d{2}):?(\d{2})(?::?(\d{2}))?$")
DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def moment(text: str, scope: Scope, where: str) -> str | None:
    """TS → FHIR dateTime, leaving out a date-only value with an impossible month or day (``200000``)."""
    out = dtm(text, scope, where)
    if out and len(out) <= 10 and not DATE.match(out):
        scope.warn(f"{text!r} is not a valid date; left out", where, "GW-1343")
        return None
    return out


def time_of_day(text: str) -> list[str]:
    """RI.2 explicit times (``0800,1200`` or ``12:30:05``) → FHIR ``time`` values; others are dropped."""
    out = []
    for part in text.split(","):
        match = TIME.match(part.strip())
        if match and int(match.group(1)) < 24 and int(match.group(2)) < 60 and int(match.group(3) or 0) < 60:
            out.append(f"{match.group(1)}:{match.group(2)}:{match.group(3) or '00'}")
    return out


def tq_quantity(rep: Rep) -> Json | None:
    """TQ.1 CQ (quantity & units as subcomponents) → Quantity (unit as text: CQ units are not coded here)."""
    text = rep.c(1, 1)
    try:
        value = float(text)
    except ValueError:
        return None
    number: int | float = int(value) if value.is_integer() and "." not in text else value
    return prune({"value": number, "unit": rep.c(1, 3) or rep.c(1, 2)})


def apply_tq(order: Json, rep: Rep | None, scope: Scope, where: str) -> None:
    """One TQ repetition onto ``order`` (a ServiceRequest dict), in place."""
    if rep is None:
        return
    quantity = tq_quantity(rep)
    if quantity is not None:
        order["quantityQuantity"] = quantity
    pattern = rep.c(2, 1)
    code = {"coding": [{"system": V2_TABLE + "0335", "code": pattern}]} if pattern else None
    count = rep.c(12)
    repeat = {
        "timeOfDay": time_of_day(rep.c(2, 2)),
        "boundsPeriod": {"start": moment(rep.c(4), scope, f"{where}.4"), "end": moment(rep.c(5), scope, f"{where}.5")},
        "count": int(count) if count.isdigit() and int(count) > 0 else None,
    }
    timing = prune({"code": code, "repeat": repeat})
    if timing:
        order["occurrenceTiming"] = timing
    if rep.c(8):
        order.setdefault("note", []).append({"text": rep.c(8)})
