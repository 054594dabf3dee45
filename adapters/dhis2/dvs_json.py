"""dataValueSets JSON codec (``application/json``), ≤ 2.42 and 2.43+ shapes.

Reads both ``followup`` and ``followUp``; reads ``categoryOptionCombo`` / ``attributeOptionCombo``
either as an id or as the 2.43 object ``{category: option}``. Non-string scalar values (numbers,
booleans) are read as their JSON text. Writes values as strings and ``followup`` by default
(``followup_key="followUp"`` for the 2.43 reader); unknown keys (legacy ``timestamp``) are ignored.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.dhis2.model import ID_SCHEME_FIELDS, DataValue, DataValueSet, Pairs
from adapters.dhis2.safexml import check_count, check_size
from bridge.errors import DecodeError

MEDIA_TYPE = "application/json"
_TEXT_FIELDS = {
    "dataElement": "data_element",
    "period": "period",
    "orgUnit": "org_unit",
    "storedBy": "stored_by",
    "created": "created",
    "lastUpdated": "last_updated",
    "comment": "comment",
}


def _text(raw: Any, where: str) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return json.dumps(raw)
    raise DecodeError("GW-1505", f"expected a string, got {type(raw).__name__}", location=where)


def _flag(raw: Any, where: str) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise DecodeError("GW-1505", f"expected a boolean, got {raw!r}", location=where)


def _combo(raw: Any, where: str) -> tuple[str | None, Pairs]:
    """An option combo: an id string, or ``{category: option}`` (2.43)."""
    if isinstance(raw, dict):
        pairs = tuple((str(k), _text(v, f"{where}.{k}") or "") for k, v in raw.items())
        return None, pairs
    return _text(raw, where), ()


def _value(obj: Any, where: str) -> DataValue:
    if not isinstance(obj, dict):
        raise DecodeError("GW-1505", "a data value must be an object", location=where)
    kw: dict[str, Any] = {attr: _text(obj.get(key), f"{where}.{key}") for key, attr in _TEXT_FIELDS.items()}
    if not kw["data_element"]:
        raise DecodeError("GW-1506", "dataElement is required", location=f"{where}.dataElement")
    coc, cos = _combo(obj.get("categoryOptionCombo"), f"{where}.categoryOptionCombo")
    aoc, aos = _combo(obj.get("attributeOptionCombo"), f"{where}.attributeOptionCombo")
    follow = obj["followUp"] if "followUp" in obj else obj.get("followup")
    return DataValue(
        category_option_combo=coc,
        category_options=cos,
        attribute_option_combo=aoc,
        attribute_options=aos,
        value=_text(obj.get("value"), f"{where}.value"),
        follow_up=_flag(follow, f"{where}.followUp"),
        deleted=_flag(obj.get("deleted"), f"{where}.deleted"),
        **kw,
    )


def from_dict(obj: Any) -> DataValueSet:
    if not isinstance(obj, dict):
        raise DecodeError("GW-1505", "a dataValueSet must be a JSON object", location="$")
    if "dataElement" in obj and "dataValues" not in obj:  # a single /api/dataValues object
        return DataValueSet(data_values=(_value(obj, "$"),))
    if "dataValues" not in obj:
        raise DecodeError("GW-1505", "not a dataValueSet: no dataValues array", location="dataValues")
    values = obj.get("dataValues") or []
    if not isinstance(values, list):
        raise DecodeError("GW-1505", "dataValues must be an array", location="dataValues")
    check_count(len(values))
    aoc, aos = _combo(obj.get("attributeOptionCombo"), "attributeOptionCombo")
    acos = obj.get("attributeCategoryOptions")
    if acos is not None and not (isinstance(acos, list) and all(isinstance(x, str) for x in acos)):
        raise DecodeError(
            "GW-1505", "attributeCategoryOptions must be a list of ids", location="attributeCategoryOptions"
        )
    return DataValueSet(
        data_values=tuple(_value(v, f"dataValues[{i}]") for i, v in enumerate(values)),
        data_set=_text(obj.get("dataSet"), "dataSet"),
        complete_date=_text(obj.get("completeDate"), "completeDate"),
        period=_text(obj.get("period"), "period"),
        org_unit=_text(obj.get("orgUnit"), "orgUnit"),
        attribute_option_combo=aoc,
        attribute_options=aos,
        attribute_category_options=tuple(acos) if acos is not None else None,
        id_schemes=tuple((k, str(obj[k])) for k in ID_SCHEME_FIELDS if obj.get(k) is not None),
        dry_run=_flag(obj.get("dryRun"), "dryRun"),
        strategy=_text(obj.get("strategy"), "strategy"),
    )


def _put_combo(out: dict[str, Any], key: str, uid: str | None, pairs: Pairs) -> None:
    if pairs:
        out[key] = dict(pairs)
    elif uid is not None:
        out[key] = uid


def value_to_dict(dv: DataValue, followup_key: str = "followup") -> dict[str, Any]:
    out: dict[str, Any] = {"dataElement": dv.data_element}
    for key in ("period", "orgUnit"):
        if (text := getattr(dv, _TEXT_FIELDS[key])) is not None:
            out[key] = text
    _put_combo(out, "categoryOptionCombo", dv.category_option_combo, dv.category_options)
    _put_combo(out, "attributeOptionCombo", dv.attribute_option_combo, dv.attribute_options)
    if dv.value is not None:
        out["value"] = dv.value
    for key in ("storedBy", "created", "lastUpdated", "comment"):
        if (text := getattr(dv, _TEXT_FIELDS[key])) is not None:
            out[key] = text
    if dv.follow_up is not None:
        out[followup_key] = dv.follow_up
    if dv.deleted is not None:
        out["deleted"] = dv.deleted
    return out


def to_dict(dvs: DataValueSet, followup_key: str = "followup") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, attr in (
        ("dataSet", "data_set"),
        ("completeDate", "complete_date"),
        ("period", "period"),
        ("orgUnit", "org_unit"),
    ):
        if (text := getattr(dvs, attr)) is not None:
            out[key] = text
    _put_combo(out, "attributeOptionCombo", dvs.attribute_option_combo, dvs.attribute_options)
    if dvs.attribute_category_options is not None:
        out["attributeCategoryOptions"] = list(dvs.attribute_category_options)
    out.update(dict(dvs.id_schemes))
    if dvs.dry_run is not None:
        out["dryRun"] = dvs.dry_run
    if dvs.strategy is not None:
        out["strategy"] = dvs.strategy
    out["dataValues"] = [value_to_dict(dv, followup_key) for dv in dvs.data_values]
    return out


class DataValueSetJsonCodec:
    format_id = "dhis2.dvs+json"
    media_type = MEDIA_TYPE

    def __init__(self, followup_key: str = "followup", max_bytes: int | None = None) -> None:
        self.followup_key = followup_key
        self.max_bytes = max_bytes

    def parse(self, data: bytes) -> DataValueSet:
        check_size(data, self.max_bytes) if self.max_bytes else check_size(data)
        try:
            obj = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise DecodeError("GW-1500", f"payload is not UTF-8: {exc.reason}") from exc
        except json.JSONDecodeError as exc:
            raise DecodeError(
                "GW-1501", f"malformed JSON: {exc.msg}", location=f"line {exc.lineno}, col {exc.colno}"
            ) from exc
        return from_dict(obj)

    def serialize(self, model: DataValueSet) -> bytes:
        return json.dumps(to_dict(model, self.followup_key), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
