"""TQ1 (timing/quantity) → the current order's ``occurrenceTiming``, quantity, priority (v2-to-FHIR IG).

Durations, periods and offsets keep the sender's unit only when it is one of FHIR's units of time
(the required ``units-of-time`` value set, compared case-insensitively) or a written form of one
that the versioned map ``v2-time-unit-to-units-of-time`` knows (``hr`` → ``h``); any other unit
leaves that element out with a warning, so an invalid Timing is never produced.
"""

from __future__ import annotations

from adapters.hl7v2.datatypes import Json, Rep, Scope, Seg, code_system, dtm, lookup, prune

#: the FHIR R4 ``units-of-time`` value set (required binding of Timing.repeat.*Unit)
UNITS_OF_TIME = frozenset({"s", "min", "h", "d", "wk", "mo", "a"})
#: the FHIR R4 ``event-timing`` codes TQ1 RPT-8 may carry (v2 table 0627 shares them)
EVENT_TIMING = frozenset(
    "MORN MORN.early MORN.late NOON AFT AFT.early AFT.late EVE EVE.early EVE.late NIGHT PHS HS WAKE C CM CD CV "
    "AC ACM ACD ACV PC PCM PCD PCV".split()
)
SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}
TIME_UNIT_MAP = "v2-time-unit-to-units-of-time"


def time_unit(text: str, scope: Scope, where: str) -> str | None:
    unit = text.strip()
    if not unit:
        return None
    if unit in UNITS_OF_TIME or unit.lower() in UNITS_OF_TIME:
        return unit if unit in UNITS_OF_TIME else unit.lower()
    synonym = unit_synonym(unit.lower(), scope)
    if synonym in UNITS_OF_TIME:
        return synonym
    scope.warn(f"time unit {unit!r} is not a FHIR unit of time (s, min, h, d, wk, mo, a); left out", where, "GW-1344")
    return None


def unit_synonym(unit: str, scope: Scope) -> str | None:
    """A written time unit (``hr``, ``days``) → its units-of-time code through ``v2-time-unit-to-units-of-time``."""
    registry = scope.ctx.mappings
    if registry is None or TIME_UNIT_MAP not in registry:
        return None
    cmap = registry.get(TIME_UNIT_MAP, scope.ctx.pins.get(TIME_UNIT_MAP))
    scope.ctx.used_mappings[cmap.map_id] = {"version": cmap.version, "digest": cmap.digest}
    return cmap.translate(None, unit).target


def number(text: str) -> int | float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


def cq(rep: Rep | None, scope: Scope, where: str) -> tuple[int | float | None, str | None]:
    """CQ (.1 quantity, .2 units as CWE subcomponents) → (value, unit of time)."""
    if rep is None:
        return None, None
    return number(rep.c(1)), time_unit(rep.c(2, 1) or rep.c(2, 2), scope, where)


def repeat_pattern(rep: Rep | None, scope: Scope, where: str) -> tuple[Json | None, Json]:
    """RPT → (Timing.code, Timing.repeat parts): .1 pattern code, .5/.6 period, .8 event, .9/.10 offset."""
    if rep is None:
        return None, {}
    code = None
    if rep.c(1, 1):
        system = code_system(rep.c(1, 3), scope, where) if rep.c(1, 3) else None
        code = prune({"coding": [{"system": system, "code": rep.c(1, 1), "display": rep.c(1, 2)}]})
    period, period_unit = number(rep.c(5)), time_unit(rep.c(6, 1), scope, where)
    repeat: Json = {}
    if period is not None and period_unit:
        repeat.update(period=period, periodUnit=period_unit)
    if rep.c(8) in EVENT_TIMING:
        repeat["when"] = [rep.c(8)]
    offset, offset_unit = number(rep.c(9)), time_unit(rep.c(10, 1), scope, where)
    if offset is not None and offset_unit in SECONDS:
        repeat["offset"] = int(offset * SECONDS[offset_unit] // 60)  # Timing.repeat.offset is in minutes
    return code, repeat


def apply_tq1(order: Json, seg: Seg, scope: Scope, where: str) -> None:
    """TQ1 onto the current ServiceRequest (``order``), in place."""
    quantity = seg.rep(2)
    if quantity is not None and number(quantity.c(1)) is not None:
        order["quantityQuantity"] = prune(
            {"value": number(quantity.c(1)), "unit": quantity.c(2, 2) or quantity.c(2, 1)}
        )
    code, repeat = repeat_pattern(seg.rep(3), scope, f"{where}-3")
    duration, duration_unit = cq(seg.rep(13), scope, f"{where}-13")
    if duration is not None and duration_unit:
        repeat.update(duration=duration, durationUnit=duration_unit)
    count = number(seg.v(14))
    if isinstance(count, int) and count >= 0:
        repeat["count"] = count
    repeat["boundsPeriod"] = {"start": dtm(seg.v(7), scope, f"{where}-7"), "end": dtm(seg.v(8), scope, f"{where}-8")}
    timing = prune({"code": code, "repeat": repeat})
    if timing:
        order["occurrenceTiming"] = timing
    priority = lookup(scope, "v2-0485-to-request-priority", "0485", seg.v(9), f"{where}-9")
    if priority:
        order["priority"] = priority
    if seg.v(10):
        order["asNeededCodeableConcept"] = {"text": seg.v(10)}
    if seg.v(11):
        order.setdefault("note", []).append({"text": seg.v(11)})
