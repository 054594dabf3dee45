"""Native model of DHIS2 aggregate data: data value sets (JSON/XML/CSV) and ADX documents.

Every field keeps the wire text (values are strings, as DHIS2 sends them) so each codec
round-trips exactly. ``None`` means "absent on the wire". Disaggregation is either a COC id
(``category_option_combo``) or category→option pairs (``category_options``: ADX attributes, the
2.43 JSON object form); the same holds for the attribute option combo.

:func:`flatten` resolves group-level keys into per-value :class:`FlatValue` rows; it is the
common ground every format agrees on (cross-format tests compare flattened rows).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

Pairs = tuple[tuple[str, str], ...]

ID_SCHEME_FIELDS: tuple[str, ...] = (
    "idScheme",
    "dataElementIdScheme",
    "orgUnitIdScheme",
    "categoryOptionComboIdScheme",
    "attributeOptionComboIdScheme",
    "dataSetIdScheme",
    "categoryIdScheme",
    "categoryOptionIdScheme",
)


@dataclass(frozen=True)
class DataValue:
    data_element: str
    period: str | None = None
    org_unit: str | None = None
    category_option_combo: str | None = None
    attribute_option_combo: str | None = None
    value: str | None = None
    stored_by: str | None = None
    created: str | None = None
    last_updated: str | None = None
    comment: str | None = None
    follow_up: bool | None = None
    deleted: bool | None = None
    category_options: Pairs = ()
    attribute_options: Pairs = ()


@dataclass(frozen=True)
class DataValueSet:
    """One ``dataValueSet`` (also one ADX ``group``): group-level keys apply to values lacking them."""

    data_values: tuple[DataValue, ...] = ()
    data_set: str | None = None
    complete_date: str | None = None
    period: str | None = None
    org_unit: str | None = None
    attribute_option_combo: str | None = None
    attribute_options: Pairs = ()
    attribute_category_options: tuple[str, ...] | None = None
    id_schemes: Pairs = ()
    dry_run: bool | None = None
    strategy: str | None = None


@dataclass(frozen=True)
class AdxDocument:
    """An ADX message: optional ``exported`` timestamp and its groups (periods in DHIS2 form)."""

    groups: tuple[DataValueSet, ...] = ()
    exported: str | None = None


@dataclass(frozen=True)
class FlatValue:
    """One data value with every key resolved (the form all formats agree on)."""

    data_set: str | None
    period: str | None
    org_unit: str | None
    attribute_option_combo: str | None
    attribute_options: Pairs
    complete_date: str | None
    value: DataValue = field(compare=True)
    attribute_category_options: tuple[str, ...] | None = None

    @property
    def group_key(self) -> tuple[object, ...]:
        return (
            self.data_set,
            self.period,
            self.org_unit,
            self.attribute_option_combo,
            self.attribute_options,
            self.complete_date,
            self.attribute_category_options,
        )


def flatten(dvs: DataValueSet) -> tuple[FlatValue, ...]:
    """Push group-level period/orgUnit/AOC into each value; keep dataSet and completeDate alongside."""
    rows = []
    for dv in dvs.data_values:
        own_aoc = dv.attribute_option_combo is not None or dv.attribute_options
        aoc = dv.attribute_option_combo if own_aoc else dvs.attribute_option_combo
        aoc_options = dv.attribute_options if own_aoc else dvs.attribute_options
        inner = _strip_keys(dv)
        rows.append(
            FlatValue(
                dvs.data_set,
                dv.period if dv.period is not None else dvs.period,
                dv.org_unit if dv.org_unit is not None else dvs.org_unit,
                aoc or None,
                aoc_options,
                dvs.complete_date,
                inner,
                dvs.attribute_category_options,
            )
        )
    return tuple(rows)


def _strip_keys(dv: DataValue) -> DataValue:
    """``dv`` without period/orgUnit/AOC (a fast ``dataclasses.replace``; flatten runs per value)."""
    if dv.period is None and dv.org_unit is None and dv.attribute_option_combo is None and not dv.attribute_options:
        return dv
    new = object.__new__(DataValue)
    new.__dict__.update(dv.__dict__)
    new.__dict__.update(period=None, org_unit=None, attribute_option_combo=None, attribute_options=())
    return new


def flatten_adx(doc: AdxDocument) -> tuple[FlatValue, ...]:
    return tuple(row for group in doc.groups for row in flatten(group))


def group_runs(rows: Iterable[FlatValue]) -> list[list[FlatValue]]:
    """Consecutive rows sharing a group key (order preserved)."""
    runs: list[list[FlatValue]] = []
    for row in rows:
        if runs and runs[-1][0].group_key == row.group_key:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def run_to_group(run: list[FlatValue]) -> DataValueSet:
    head = run[0]
    return DataValueSet(
        data_values=tuple(row.value for row in run),
        data_set=head.data_set,
        complete_date=head.complete_date,
        period=head.period,
        org_unit=head.org_unit,
        attribute_option_combo=head.attribute_option_combo,
        attribute_options=head.attribute_options,
        attribute_category_options=head.attribute_category_options,
    )


def to_adx_document(dvs: DataValueSet, exported: str | None = None) -> AdxDocument:
    """Regroup a data value set into ADX groups (one per consecutive run of the same group key)."""
    return AdxDocument(tuple(run_to_group(run) for run in group_runs(flatten(dvs))), exported)


def unflatten(rows: Iterable[FlatValue]) -> DataValueSet:
    """Rebuild one data value set: group-level keys when every row shares them, per-value otherwise.

    Rows of more than one dataSet or completeDate cannot share one set; callers check
    :func:`single_set_possible` first.
    """
    rows = list(rows)
    if not rows:
        return DataValueSet()
    runs = group_runs(rows)
    if len(runs) == 1:
        return run_to_group(runs[0])
    values = tuple(
        replace(
            r.value,
            period=r.period,
            org_unit=r.org_unit,
            attribute_option_combo=r.attribute_option_combo,
            attribute_options=r.attribute_options,
        )
        for r in rows
    )
    return DataValueSet(
        data_values=values,
        data_set=rows[0].data_set,
        complete_date=rows[0].complete_date,
        attribute_category_options=rows[0].attribute_category_options,
    )


def single_set_possible(rows: Iterable[FlatValue]) -> bool:
    return len({(r.data_set, r.complete_date, r.attribute_category_options) for r in rows}) <= 1
