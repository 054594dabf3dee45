"""dataValueSets CSV codec (``application/csv``) in the version-proof header form.

Writes the header ``dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,
storedby,lastupdated,comment,followup`` (plus ``deleted`` only when a value carries it): valid by
position for DHIS2 ≤ 2.42 and by name for 2.43+. Reads by header name, case-insensitively
(``timestamp`` is the legacy name of ``lastupdated``). As in 2.43, when there is no
``categoryoptioncombo`` column every unknown column is a category whose cells are options.
A file without a header row is refused (GW-1531), as 2.43 does.

CSV has no dataSet, completeDate or group level: :meth:`serialize` flattens the set, and an
empty cell reads back as absent (``None``).
"""

from __future__ import annotations

import csv
import io

from adapters.dhis2.model import DataValue, DataValueSet, flatten
from adapters.dhis2.safexml import check_count, check_size, parse_bool
from bridge.errors import CodecError, DecodeError

MEDIA_TYPE = "application/csv"
HEADER = (
    "dataelement",
    "period",
    "orgunit",
    "categoryoptioncombo",
    "attributeoptioncombo",
    "value",
    "storedby",
    "lastupdated",
    "comment",
    "followup",
)
_COLUMNS = {
    "dataelement": "data_element",
    "period": "period",
    "orgunit": "org_unit",
    "categoryoptioncombo": "category_option_combo",
    "attributeoptioncombo": "attribute_option_combo",
    "value": "value",
    "storedby": "stored_by",
    "lastupdated": "last_updated",
    "timestamp": "last_updated",
    "created": "created",
    "comment": "comment",
}
_FLAGS = {"followup": "follow_up", "deleted": "deleted"}


def _rows(data: bytes) -> list[list[str]]:
    check_size(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DecodeError("GW-1500", f"payload is not UTF-8: {exc.reason}") from exc
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    except csv.Error as exc:
        raise DecodeError("GW-1530", f"malformed CSV: {exc}") from exc


def _header(row: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in row]
    if "dataelement" not in names:
        raise DecodeError("GW-1531", "CSV without header row is not supported (DHIS2 2.43+)", location="line 1")
    return names


def _read_row(names: list[str], raw_names: list[str], row: list[str], line: int) -> DataValue:
    if len(row) > len(names):
        raise DecodeError("GW-1532", f"{len(row)} cells but {len(names)} header columns", location=f"line {line}")
    cells = dict(zip(names, row, strict=False))
    kw: dict[str, object] = {}
    categories: list[tuple[str, str]] = []
    has_coc = "categoryoptioncombo" in names
    for index, (name, cell) in enumerate(zip(names, row, strict=False)):
        if name in _COLUMNS:
            kw[_COLUMNS[name]] = cell or None
        elif name in _FLAGS:
            kw[_FLAGS[name]] = parse_bool(cell or None, f"line {line}, {name}")
        elif not has_coc and cell:
            categories.append((raw_names[index].strip(), cell))
    if not cells.get("dataelement"):
        raise DecodeError("GW-1506", "dataElement is required", location=f"line {line}")
    return DataValue(category_options=tuple(categories), **kw)  # type: ignore[arg-type]


def parse_csv(data: bytes) -> DataValueSet:
    rows = _rows(data)
    if not rows:
        return DataValueSet()
    names = _header(rows[0])
    check_count(len(rows) - 1)
    values = tuple(_read_row(names, rows[0], row, i + 2) for i, row in enumerate(rows[1:]))
    return DataValueSet(data_values=values)


def _flag_text(flag: bool | None) -> str:
    return "" if flag is None else ("true" if flag else "false")


def _categories(values: list[DataValue]) -> list[str]:
    """Category columns (2.43 form) when values carry category options instead of COC ids."""
    names: list[str] = []
    for dv in values:
        for category, _ in dv.category_options:
            if category not in names:
                names.append(category)
    if names and any(dv.category_option_combo is not None for dv in values):
        raise CodecError("GW-1533", "CSV cannot mix COC ids and category options in one file")
    clash = set(n.lower() for n in names) & (set(_COLUMNS) | set(_FLAGS))
    if clash:
        raise CodecError("GW-1533", f"category names clash with CSV columns: {sorted(clash)}")
    return names


def serialize_csv(dvs: DataValueSet) -> bytes:
    rows = flatten(dvs)
    values = [row.value for row in rows]
    if any(row.attribute_options for row in rows):
        raise CodecError("GW-1533", "CSV cannot carry attribute category options; resolve the AOC first")
    categories = _categories(values)
    header = list(HEADER)
    if categories:
        header[3:4] = categories
    with_deleted = any(dv.deleted is not None for dv in values)
    if with_deleted:
        header.append("deleted")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        dv = row.value
        coc = (
            [dict(dv.category_options).get(c, "") for c in categories]
            if categories
            else [dv.category_option_combo or ""]
        )
        line = [
            dv.data_element,
            row.period or "",
            row.org_unit or "",
            *coc,
            row.attribute_option_combo or "",
            dv.value or "",
            dv.stored_by or "",
            dv.last_updated or "",
            dv.comment or "",
            _flag_text(dv.follow_up),
        ]
        if with_deleted:
            line.append(_flag_text(dv.deleted))
        writer.writerow(line)
    return out.getvalue().encode("utf-8")


class DataValueSetCsvCodec:
    format_id = "dhis2.dvs+csv"
    media_type = MEDIA_TYPE

    def parse(self, data: bytes) -> DataValueSet:
        return parse_csv(data)

    def serialize(self, model: DataValueSet) -> bytes:
        return serialize_csv(model)
