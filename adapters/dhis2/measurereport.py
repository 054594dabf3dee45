"""DHIS2 aggregate data <-> FHIR R4 MeasureReport, following IHE mADX.

One MeasureReport per consecutive run of values sharing (dataSet, period, orgUnit, AOC,
completeDate): ``measure`` names the dataSet, ``subject`` the org unit (identifier), ``period``
the DHIS2 period (dates, plus the exact DHIS2 string in an extension). Inside it, one ``group``
per consecutive run of the same data element (``group.code``), one ``stratum`` per data value:
``stratum.value`` = COC id, ``stratum.component`` = category/option pairs, ``measureScore`` =
numeric value. Everything else DHIS2 carries (exact value text, comment, follow-up, deleted,
storedBy, created, lastUpdated, AOC) rides in extensions, so the mapping is lossless on
:func:`adapters.dhis2.model.flatten` rows both ways. A data element without strata but with a
``population.count`` (a plain mADX total) reads as one value with the default COC.

Import options (id schemes, dryRun, strategy) are transport parameters of a push, not data, and
are not carried.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, unquote

from fhir.resources.R4B.bundle import Bundle

from adapters.base import MapContext
from adapters.dhis2.model import (
    AdxDocument,
    DataValue,
    DataValueSet,
    FlatValue,
    flatten,
    flatten_adx,
    group_runs,
    run_to_group,
    single_set_possible,
    unflatten,
)
from adapters.dhis2.periods import format_period, parse_period, period_for_range
from bridge.errors import DecodeError, MappingError

NS = "urn:jembatan:dhis2:"
SYS_DE = NS + "dataElement"
SYS_CATEGORY = NS + "category"
SYS_OPTION = NS + "categoryOption"
SYS_COC = NS + "categoryOptionCombo"
SYS_OU = NS + "orgUnit"
DATASET_PREFIX = NS + "dataSet"
EXT = "urn:jembatan:fhir:extension:dhis2-"
CODE_TOKEN = re.compile(r"^[^\s]+( [^\s]+)*$")
_STR_EXT = (
    ("value", "value"),
    ("comment", "comment"),
    ("storedBy", "stored_by"),
    ("created", "created"),
    ("lastUpdated", "last_updated"),
)


# ------------------------------------------------------------------ helpers


def _str_ext(name: str, text: str) -> dict[str, Any]:
    if text == "":  # FHIR strings cannot be empty: mark presence with a nested flag
        return {"url": EXT + name, "extension": [{"url": "empty", "valueBoolean": True}]}
    return {"url": EXT + name, "valueString": text}


def _read_str_ext(ext: dict[str, Any]) -> str:
    return "" if "extension" in ext else str(ext.get("valueString", ""))


def _concept(system: str, code: str) -> dict[str, Any]:
    if CODE_TOKEN.match(code):
        return {"coding": [{"system": system, "code": code}]}
    return {"text": code}


def _from_concept(concept: dict[str, Any] | None, system: str) -> str | None:
    if not concept:
        return None
    codings = concept.get("coding") or []
    for coding in codings:
        if coding.get("system") == system and "code" in coding:
            return str(coding["code"])
    if "text" in concept:
        return str(concept["text"])
    return str(codings[0]["code"]) if codings and "code" in codings[0] else None


def _exts(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["url"][len(EXT) :]: e for e in obj.get("extension") or [] if str(e.get("url", "")).startswith(EXT)}


def measure_url(data_set: str | None) -> str:
    return DATASET_PREFIX if data_set is None else f"{DATASET_PREFIX}:{quote(data_set, safe='')}"


def data_set_of(url: str | None) -> str | None:
    if not url or not url.startswith(DATASET_PREFIX + ":"):
        return None
    return unquote(url[len(DATASET_PREFIX) + 1 :])


# ------------------------------------------------------------------ to FHIR


def _stratum(dv: DataValue) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ext = [_str_ext(name, getattr(dv, attr)) for name, attr in _STR_EXT if getattr(dv, attr) is not None]
    ext += [
        {"url": EXT + n, "valueBoolean": f}
        for n, f in (("followUp", dv.follow_up), ("deleted", dv.deleted))
        if f is not None
    ]
    if ext:
        out["extension"] = ext
    if dv.category_option_combo is not None:
        out["value"] = (
            _concept(SYS_COC, dv.category_option_combo)
            if dv.category_option_combo
            else {"extension": [{"url": EXT + "empty", "valueBoolean": True}]}
        )
    if dv.category_options:
        out["component"] = [
            {"code": _concept(SYS_CATEGORY, c), "value": _concept(SYS_OPTION, o)} for c, o in dv.category_options
        ]
    if dv.value is not None and (number := _decimal(dv.value)) is not None:
        out["measureScore"] = {"value": number}
    return out


def _decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() and abs(number.adjusted()) < 28 else None


def _report(run: list[FlatValue]) -> dict[str, Any]:
    head = run[0]
    if head.period is None:
        raise MappingError(
            "GW-1561", "a value without period cannot become a MeasureReport", location="dataValues.period"
        )
    try:
        period = parse_period(head.period)
    except DecodeError as exc:
        raise MappingError("GW-1561", exc.message, location="period") from exc
    ext = [_str_ext("period", head.period)]
    if head.complete_date is not None:
        ext.append(_str_ext("completeDate", head.complete_date))
    if head.attribute_option_combo is not None:
        ext.append(_str_ext("attributeOptionCombo", head.attribute_option_combo))
    ext += [
        {
            "url": EXT + "attributeOption",
            "extension": [{"url": "category", "valueString": c}, {"url": "option", "valueString": o}],
        }
        for c, o in head.attribute_options
    ]
    if head.attribute_category_options is not None:
        ext.append(
            {
                "url": EXT + "attributeCategoryOptions",
                "extension": [{"url": "option", "valueString": o} for o in head.attribute_category_options]
                or [{"url": "empty", "valueBoolean": True}],
            }
        )
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "extension": ext,
        "status": "complete",
        "type": "summary",
        "measure": measure_url(head.data_set),
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "group": [],
    }
    if head.org_unit is not None:
        report["subject"] = {"identifier": {"system": SYS_OU, "value": head.org_unit}}
    for values in _runs_by_element([r.value for r in run]):
        report["group"].append(
            {
                "code": _concept(SYS_DE, values[0].data_element),
                "stratifier": [{"stratum": [_stratum(dv) for dv in values]}],
            }
        )
    return report


def _runs_by_element(values: list[DataValue]) -> list[list[DataValue]]:
    runs: list[list[DataValue]] = []
    for dv in values:
        if runs and runs[-1][0].data_element == dv.data_element:
            runs[-1].append(dv)
        else:
            runs.append([dv])
    return runs


def rows_to_bundle(rows: tuple[FlatValue, ...]) -> Bundle:
    entries = [{"resource": _report(run)} for run in group_runs(rows)]
    return Bundle.model_validate({"resourceType": "Bundle", "type": "collection", "entry": entries})


# ------------------------------------------------------------------ from FHIR


def _value_from_stratum(data_element: str, stratum: dict[str, Any]) -> DataValue:
    ext = _exts(stratum)
    texts = {attr: _read_str_ext(ext[name]) if name in ext else None for name, attr in _STR_EXT}
    if texts["value"] is None and stratum.get("measureScore", {}).get("value") is not None:
        texts["value"] = _number_text(stratum["measureScore"]["value"])
    coc = None
    if "value" in stratum:
        coc = "" if "extension" in stratum["value"] else _from_concept(stratum["value"], SYS_COC)
    options = tuple(
        (_from_concept(c.get("code"), SYS_CATEGORY) or "", _from_concept(c.get("value"), SYS_OPTION) or "")
        for c in stratum.get("component") or []
    )
    return DataValue(
        data_element=data_element,
        category_option_combo=coc,
        category_options=options,
        follow_up=ext["followUp"]["valueBoolean"] if "followUp" in ext else None,
        deleted=ext["deleted"]["valueBoolean"] if "deleted" in ext else None,
        **texts,  # type: ignore[arg-type]
    )


def _number_text(number: Any) -> str:
    """A FHIR decimal/integer as plain DHIS2 value text (no exponent)."""
    return format(Decimal(str(number)), "f")


def _values_of_group(group: dict[str, Any], where: str) -> list[DataValue]:
    data_element = _from_concept(group.get("code"), SYS_DE)
    if not data_element:
        raise MappingError("GW-1562", "MeasureReport.group without a code (data element)", location=f"{where}.code")
    strata = [s for st in group.get("stratifier") or [] for s in st.get("stratum") or []]
    if strata:
        return [_value_from_stratum(data_element, s) for s in strata]
    counts = [p.get("count") for p in group.get("population") or [] if p.get("count") is not None]
    score = (group.get("measureScore") or {}).get("value")
    value = counts[0] if counts else score
    return [DataValue(data_element, value=_number_text(value))] if value is not None else []


def _period_text(report: dict[str, Any], ext: dict[str, dict[str, Any]]) -> str:
    if "period" in ext:
        return _read_str_ext(ext["period"])
    raw = report.get("period") or {}
    try:
        found = period_for_range(date.fromisoformat(raw["start"][:10]), date.fromisoformat(raw["end"][:10]))
    except (KeyError, ValueError):
        found = None
    if found is None:
        raise MappingError("GW-1563", "MeasureReport.period matches no DHIS2 period", location="MeasureReport.period")
    return format_period(found)


def _org_unit(report: dict[str, Any]) -> str | None:
    subject = report.get("subject") or {}
    identifier = subject.get("identifier") or {}
    if identifier.get("value"):
        return str(identifier["value"])
    ref = subject.get("reference")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def report_rows(report: dict[str, Any]) -> list[FlatValue]:
    ext = _exts(report)
    attribute_options = tuple(
        (_sub(e, "category"), _sub(e, "option"))
        for e in report.get("extension") or []
        if e.get("url") == EXT + "attributeOption"
    )
    acos = None
    if "attributeCategoryOptions" in ext:
        acos = tuple(
            str(e["valueString"]) for e in ext["attributeCategoryOptions"]["extension"] if e["url"] == "option"
        )
    common = dict(
        data_set=data_set_of(report.get("measure")),
        period=_period_text(report, ext),
        org_unit=_org_unit(report),
        attribute_option_combo=_read_str_ext(ext["attributeOptionCombo"]) if "attributeOptionCombo" in ext else None,
        attribute_options=attribute_options,
        complete_date=_read_str_ext(ext["completeDate"]) if "completeDate" in ext else None,
        attribute_category_options=acos,
    )
    rows = []
    for gi, group in enumerate(report.get("group") or []):
        for dv in _values_of_group(group, f"MeasureReport.group[{gi}]"):
            rows.append(FlatValue(value=dv, **common))  # type: ignore[arg-type]
    return rows


def _sub(ext: dict[str, Any], url: str) -> str:
    return next(str(e.get("valueString", "")) for e in ext.get("extension") or [] if e.get("url") == url)


def _reports(resource: Any) -> list[dict[str, Any]]:
    data = (
        resource if isinstance(resource, dict) else resource.model_dump(mode="json", exclude_none=True, by_alias=True)
    )
    if data.get("resourceType") == "MeasureReport":
        return [data]
    if data.get("resourceType") == "Bundle":
        return [
            e["resource"]
            for e in data.get("entry") or []
            if (e.get("resource") or {}).get("resourceType") == "MeasureReport"
        ]
    raise MappingError("GW-1560", f"expected a MeasureReport or Bundle, got {data.get('resourceType')!r}")


def fhir_rows(resource: Any) -> tuple[FlatValue, ...]:
    return tuple(row for report in _reports(resource) for row in report_rows(report))


class DataValueSetMapper:
    """dataValueSet (JSON/XML/CSV model) <-> Bundle of mADX MeasureReports."""

    def __init__(self, format_id: str) -> None:
        self.format_id = format_id

    def to_fhir(self, model: DataValueSet, ctx: MapContext) -> Bundle:
        return rows_to_bundle(flatten(model))

    def from_fhir(self, resource: Any, ctx: MapContext) -> DataValueSet:
        rows = fhir_rows(resource)
        if not single_set_possible(rows):
            raise MappingError("GW-1564", "the reports span several dataSets; send them as ADX or one set each")
        return unflatten(rows)


class AdxMapper:
    """ADX document <-> Bundle of mADX MeasureReports (one group per report)."""

    format_id = "dhis2.adx+xml"

    def to_fhir(self, model: AdxDocument, ctx: MapContext) -> Bundle:
        return rows_to_bundle(flatten_adx(model))

    def from_fhir(self, resource: Any, ctx: MapContext) -> AdxDocument:
        rows = fhir_rows(resource)
        exported = None
        if not isinstance(resource, dict) and getattr(resource, "timestamp", None) is not None:
            exported = resource.timestamp.isoformat()
        return AdxDocument(tuple(run_to_group(run) for run in group_runs(rows)), exported)
