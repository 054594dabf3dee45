"""A strict, in-memory DHIS2 (aggregate data) simulator built from the documented behaviour.

Serves the bundled Indonesian demo metadata (Jawa Barat → Kota Bandung / Kabupaten Bogor →
three puskesmas; TB, immunisation, KIA and outpatient dataSets with sex × age category combos)
and imports ``/api/dataValueSets`` in JSON, DXF2 XML, CSV and ADX with DHIS2's semantics:

* basic auth (``USERS``) or a personal access token (``Authorization: ApiToken d2pat_…``); 401 otherwise;
* ``VERSION`` ``"2.43"`` (default) reports set-level problems as E80xx (HTTP 409, status ERROR, no value
  of the group written) and value-level problems as E81xx (status WARNING, ``rejectedIndexes``); as in
  the dhis2-core fixtures, a uid that resolves to nothing is "not usable with the data set" (E8020 data
  element, E8022 org unit), while an unresolvable code/name/attribute id is E8101/E8103; a period not open
  for data entry (beyond ``openFuturePeriods``, or past ``expiryDays``) is E8030 (2.43 mode only);
  ``"2.42"`` reports E76xx value-level conflicts and imports the rest;
* id schemes from the payload or the query (payload wins, specific beats ``idScheme``; ADX defaults
  to CODE with UID fallback); ``dryRun``; ``importStrategy`` CREATE | UPDATE | CREATE_AND_UPDATE | DELETE;
  unchanged values count as ignored; duplicates in one payload are a whole-group error (E8128);
* ``async=true``: a job descriptor, ``/api/system/tasks/DATAVALUE_IMPORT/<id>`` (completed after
  ``ASYNC_POLLS`` polls) and ``/api/system/taskSummaries/DATAVALUE_IMPORT/<id>``;
* ``GET /api/dataValueSets`` (dataSet + period + orgUnit required, ``children=true``) in all four formats,
  ADX unfolding COCs into category codes; ``GET /api/metadata`` with a ``lastUpdated`` filter.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask, Response, g, jsonify, request

from adapters.dhis2.adx_xml import AdxCodec
from adapters.dhis2.dvs_csv import DataValueSetCsvCodec
from adapters.dhis2.dvs_json import DataValueSetJsonCodec
from adapters.dhis2.dvs_xml import DataValueSetXmlCodec
from adapters.dhis2.metadata import DEMO_PATH, MetadataSnapshot, id_schemes, untimely, value_fits
from adapters.dhis2.model import AdxDocument, DataValue, DataValueSet, FlatValue, flatten
from adapters.dhis2.periods import parse_period
from bridge.errors import CodecError

Key = tuple[str, str, str, str, str]  # de, period, ou, coc, aoc (uids; canonical period)
CODECS: dict[str, Any] = {
    "json": DataValueSetJsonCodec(followup_key="followUp"),
    "xml": DataValueSetXmlCodec(),
    "csv": DataValueSetCsvCodec(),
    "adx": AdxCodec(),
}
MEDIA = {"json": "application/json", "xml": "application/xml", "csv": "application/csv", "adx": "application/adx+xml"}
# (2.43 code, 2.42 code, set-level in 2.43)
RULES: dict[str, tuple[str, str, bool]] = {
    "no-data-set": ("E8002", "E7600", True),
    "unknown-data-set": ("E8100", "E7600", True),
    "unknown-element": ("E8101", "E7610", True),
    "bad-period": ("E8102", "E7611", True),
    "unknown-org-unit": ("E8103", "E7612", True),
    "unknown-coc": ("E8104", "E7614", True),
    "unknown-aoc": ("E8105", "E7615", True),
    "element-not-in-set": ("E8020", "E7633", True),
    "period-type": ("E8021", "E7632", True),
    "org-unit-not-in-set": ("E8022", "E7613", True),
    "aoc-not-in-set": ("E8023", "E7617", True),
    "coc-not-in-combo": ("E8024", "E7616", True),
    "options-no-coc": ("E8127", "E7616", True),
    "duplicate": ("E8128", "E7640", True),
    "untimely": ("E8030", "E8030", True),  # checked in 2.43 mode only
    "bad-value": ("E8120", "E7619", False),
    "no-value": ("E8121", "E7630", False),
}


@dataclass
class Stored:
    value: str | None
    comment: str | None
    follow_up: bool
    stored_by: str
    created: str
    last_updated: str
    deleted: bool = False


@dataclass
class Job:
    summary: dict[str, Any]
    polls: int = 0


@dataclass
class State:
    snap: MetadataSnapshot
    meta: dict[str, Any]
    version: str
    users: dict[str, str]
    tokens: dict[str, str]
    async_polls: int
    today: date
    values: dict[Key, Stored] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)


# ---------------------------------------------------------------------------- helpers


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def web_message(status: str, http: int, message: str, response: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {
        "httpStatus": {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict"}.get(
            http, "Error"
        ),
        "httpStatusCode": http,
        "status": status,
        "message": message,
    }
    if response is not None:
        body["response"] = response
    out = jsonify(body)
    out.status_code = http
    return out


def _state() -> State:
    return g.dhis2_state  # type: ignore[no-any-return]


def _authenticate(state: State) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("ApiToken "):
        return state.tokens.get(header[9:].strip())
    if header.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if state.users.get(user) == password else None
    return None


def _flag(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    return default if raw is None else raw.lower() == "true"


# ---------------------------------------------------------------------------- import


@dataclass
class Conflict:
    rule: str
    message: str
    obj: str
    indexes: list[int]


@dataclass
class Resolved:
    index: int
    key: Key
    value: DataValue


class Importer:
    """One import run over one payload (all of its groups) with DHIS2's status semantics."""

    def __init__(self, state: State, schemes: dict[str, str], strategy: str, dry_run: bool, user: str) -> None:
        self.state, self.snap = state, state.snap
        self.schemes, self.strategy, self.dry_run, self.user = schemes, strategy, dry_run, user
        self.conflicts: list[Conflict] = []
        self.counts = {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
        self.rejected: set[int] = set()
        self.set_error = False

    def scheme(self, kind: str) -> str:
        return self.schemes.get(kind) or self.schemes.get("id") or "uid"

    def resolve(self, kind: str, ident: str | None) -> str | None:
        table = "categoryOptionCombo" if kind == "attributeOptionCombo" else kind
        found = self.snap.resolve(table, ident, self.scheme(kind))
        if found is None and self.schemes.get("_fallback_uid"):
            found = self.snap.resolve(table, ident, "uid")
        return found

    def conflict(self, rule: str, message: str, obj: str, indexes: list[int]) -> None:
        self.conflicts.append(Conflict(rule, message, obj, indexes))

    def code(self, rule: str) -> str:
        new, old, _ = RULES[rule]
        return new if self.state.version >= "2.43" else old

    def set_level(self, rule: str) -> bool:
        return self.state.version >= "2.43" and RULES[rule][2]

    # -------------------------------------------------------------- per group

    def run_group(self, dvs: DataValueSet, offset: int) -> None:
        rows = flatten(dvs)
        ds_uid = self._data_set(dvs, rows, offset)
        if ds_uid is None:
            self._reject_all(rows, offset)
            return
        ds = self.snap.data_sets[ds_uid]
        resolved: list[Resolved] = []
        before = len(self.conflicts)
        for i, row in enumerate(rows):
            item = self._resolve_row(ds, row, offset + i)
            if item is not None:
                resolved.append(item)
        resolved = self._drop_duplicates(resolved)
        group_failed = any(self.set_level(c.rule) for c in self.conflicts[before:])
        if group_failed:
            self.set_error = True
            self._reject_all(rows, offset)
            return
        for item in resolved:
            self._write(item)

    def _reject_all(self, rows: tuple[FlatValue, ...], offset: int) -> None:
        new = set(range(offset, offset + len(rows))) - self.rejected
        self.rejected |= new
        self.counts["ignored"] += len(new)

    def _data_set(self, dvs: DataValueSet, rows: tuple[FlatValue, ...], offset: int) -> str | None:
        if dvs.data_set:
            uid = self.resolve("dataSet", dvs.data_set)
            if uid is None:
                self.set_error = True
                self.conflict(
                    "unknown-data-set", f"Data set not found or not accessible: `{dvs.data_set}`", dvs.data_set, []
                )
            return uid
        found: set[str] | None = None
        for row in rows:
            de = self.resolve("dataElement", row.value.data_element)
            sets = {d.id for d in self.snap.data_sets_with(de)} if de else set()
            found = sets if found is None else found & sets
        if found and len(found) == 1:
            return found.pop()
        if not rows:
            return None
        self.set_error = True
        self.conflict(
            "no-data-set",
            "Data set could not be detected from the data elements",
            "dataSet",
            list(range(offset, offset + len(rows))),
        )
        return None

    def _resolve_row(self, ds: Any, row: FlatValue, index: int) -> Resolved | None:
        dv = row.value
        checks = [
            self._element(ds, dv, index),
            self._period(ds, row.period, index),
            self._org_unit(ds, row.org_unit, index),
        ]
        if any(c is None for c in checks):
            self.rejected.add(index)
            self.counts["ignored"] += 1
            return None
        de, period, ou = checks
        coc = self._coc(ds, de, dv, index)  # type: ignore[arg-type]
        aoc = self._aoc(ds, row, index)
        if coc is None or aoc is None or not self._value_ok(de, dv, index):  # type: ignore[arg-type]
            self.rejected.add(index)
            self.counts["ignored"] += 1
            return None
        return Resolved(index, (de, period, ou, coc, aoc), dv)  # type: ignore[arg-type]

    def _element(self, ds: Any, dv: DataValue, index: int) -> str | None:
        de = self.resolve("dataElement", dv.data_element)
        if de is None:
            self.conflict(
                "unknown-element" if self.scheme("dataElement") != "uid" else "element-not-in-set",
                f"Data element not found or not accessible: `{dv.data_element}`",
                dv.data_element,
                [index],
            )
        elif not any(e == de for e, _ in ds.elements):
            self.conflict(
                "element-not-in-set",
                f"Data element `{dv.data_element}` is not part of data set `{ds.id}`",
                dv.data_element,
                [index],
            )
            return None
        return de

    def _period(self, ds: Any, text: str | None, index: int) -> str | None:
        try:
            period = parse_period(text or "")
        except CodecError:
            self.conflict("bad-period", f"Period not valid: `{text}`", str(text), [index])
            return None
        if period.type != ds.period_type:
            self.conflict(
                "period-type", f"Period type of period `{text}` not valid for data set `{ds.id}`", str(text), [index]
            )
            return None
        why = untimely(ds, period, self.state.today) if self.state.version >= "2.43" else None
        if why:
            self.conflict("untimely", f"Period `{text}` is not open for data entry: it {why}", str(text), [index])
            return None
        return period.iso

    def _org_unit(self, ds: Any, text: str | None, index: int) -> str | None:
        ou = self.resolve("orgUnit", text)
        if ou is None:
            rule = "unknown-org-unit" if self.scheme("orgUnit") != "uid" else "org-unit-not-in-set"
            self.conflict(rule, f"Organisation unit not found or not accessible: `{text}`", str(text), [index])
        elif ou not in ds.org_units:
            self.conflict(
                "org-unit-not-in-set",
                f"Organisation unit `{text}` is not assigned to data set `{ds.id}`",
                str(text),
                [index],
            )
            return None
        return ou

    def _coc(self, ds: Any, de: str, dv: DataValue, index: int) -> str | None:
        combo = self.snap.element_combo(ds, self.snap.data_elements[de])
        if dv.category_options and not dv.category_option_combo:
            return self._from_options(combo, dv.category_options, index, "options-no-coc")
        if not dv.category_option_combo:
            return self._default_in(combo, index, "coc-not-in-combo", "categoryOptionCombo")
        coc = self.resolve("categoryOptionCombo", dv.category_option_combo)
        if coc is None:
            self.conflict(
                "unknown-coc",
                f"Category option combo not found: `{dv.category_option_combo}`",
                dv.category_option_combo,
                [index],
            )
        elif self.snap.option_combos[coc].category_combo != combo:
            self.conflict(
                "coc-not-in-combo",
                f"Category option combo `{dv.category_option_combo}` is not part of "
                f"the category combo of data element `{dv.data_element}`",
                dv.category_option_combo,
                [index],
            )
            return None
        return coc

    def _aoc(self, ds: Any, row: FlatValue, index: int) -> str | None:
        if row.attribute_options:
            return self._from_options(ds.category_combo, row.attribute_options, index, "options-no-coc")
        if not row.attribute_option_combo:
            return self._default_in(ds.category_combo, index, "aoc-not-in-set", "attributeOptionCombo")
        aoc = self.resolve("attributeOptionCombo", row.attribute_option_combo)
        if aoc is None:
            self.conflict(
                "unknown-aoc",
                f"Attribute option combo not found: `{row.attribute_option_combo}`",
                row.attribute_option_combo,
                [index],
            )
        elif self.snap.option_combos[aoc].category_combo != ds.category_combo:
            self.conflict(
                "aoc-not-in-set",
                f"Attribute option combo `{row.attribute_option_combo}` is not usable with data set `{ds.id}`",
                row.attribute_option_combo,
                [index],
            )
            return None
        return aoc

    def _default_in(self, combo: str, index: int, rule: str, what: str) -> str | None:
        coc = self.snap.default_coc()
        if coc is None or coc not in self.snap.category_combos[combo].cocs:
            self.conflict(rule, f"{what} is required: category combo `{combo}` is not the default", what, [index])
            return None
        return coc

    def _from_options(self, combo: str, pairs: Any, index: int, rule: str) -> str | None:
        schemes = {"category": self.scheme("category"), "categoryOption": self.scheme("categoryOption")}
        options = self.snap.options_for(combo, pairs, schemes)
        if options is None and self.schemes.get("_fallback_uid"):
            options = self.snap.options_for(combo, pairs, {})
        coc = self.snap.coc_for_options(combo, options or [])
        if coc is None:
            self.conflict(
                rule,
                f"No category option combo matches {dict(pairs)} in combo `{combo}`",
                json.dumps(dict(pairs)),
                [index],
            )
        return coc

    def _value_ok(self, de: str, dv: DataValue, index: int) -> bool:
        if self.strategy == "DELETE" or dv.deleted:
            return True
        if dv.value is None or dv.value == "":
            self.conflict("no-value", "Data value is null or empty", dv.data_element, [index])
            return False
        value_type = self.snap.data_elements[de].value_type
        if not value_fits(value_type, dv.value):
            self.conflict("bad-value", f"Value `{dv.value}` is not a valid {value_type}", dv.data_element, [index])
            return False
        return True

    def _drop_duplicates(self, items: list[Resolved]) -> list[Resolved]:
        seen: dict[Key, int] = {}
        dupes: list[int] = []
        for item in items:
            if item.key in seen:
                dupes += [seen[item.key], item.index]
            seen.setdefault(item.key, item.index)
        if dupes:
            self.conflict(
                "duplicate",
                "Data values with the same key occur more than once in the payload",
                "dataValues",
                sorted(set(dupes)),
            )
        return items

    # -------------------------------------------------------------- writing

    def _write(self, item: Resolved) -> None:
        store, dv = self.state.values, item.value
        old = store.get(item.key)
        live = old if old is not None and not old.deleted else None
        if self.strategy == "DELETE" or dv.deleted:
            self._count("deleted" if live else "ignored")
            if live is not None and not self.dry_run:
                store[item.key] = replace(live, deleted=True, last_updated=_now())
            return
        if (self.strategy == "CREATE" and live) or (self.strategy == "UPDATE" and not live):
            self._count("ignored")
            return
        follow = bool(dv.follow_up)
        if live is not None and (live.value, live.comment, live.follow_up) == (dv.value, dv.comment, follow):
            self._count("ignored")
            return
        self._count("updated" if live else "imported")
        if not self.dry_run:
            now = _now()
            store[item.key] = Stored(dv.value, dv.comment, follow, self.user, live.created if live else now, now)

    def _count(self, name: str) -> None:
        self.counts[name] += 1

    # -------------------------------------------------------------- summary

    def summary(self) -> tuple[dict[str, Any], int]:
        if self.set_error:
            status, http = "ERROR", 409
        elif self.conflicts:
            status, http = "WARNING", 200
        else:
            status, http = "SUCCESS", 200
        conflicts = [
            {
                "object": c.obj,
                "objects": {"id": c.obj},
                "value": c.message,
                "errorCode": self.code(c.rule),
                "property": "value",
                "indexes": c.indexes,
            }
            for c in self.conflicts
        ]
        body = {
            "responseType": "ImportSummary",
            "status": status,
            "importOptions": {
                "dryRun": self.dry_run,
                "importStrategy": self.strategy,
                "idSchemes": {k: v for k, v in self.schemes.items() if not k.startswith("_")},
            },
            "description": {
                "SUCCESS": "Import process completed successfully",
                "WARNING": "Import process completed with warnings",
                "ERROR": "Import process failed",
            }[status],
            "importCount": dict(self.counts),
            "conflicts": conflicts,
            "rejectedIndexes": sorted(self.rejected),
            "dataSetComplete": "false",
        }
        return body, http


def _decode(state: State) -> tuple[str, list[DataValueSet]] | Response:
    ctype = (request.mimetype or "").lower()
    kind = (
        "adx"
        if "adx" in ctype
        else "csv"
        if "csv" in ctype
        else "xml"
        if "xml" in ctype
        else "json"
        if "json" in ctype
        else None
    )
    if kind is None:
        return web_message("ERROR", 415, f"Content type not supported: {ctype or '-'}")
    try:
        model = CODECS[kind].parse(request.get_data())
    except CodecError as exc:
        return web_message("ERROR", 400, f"Invalid payload: {exc.message}")
    if isinstance(model, AdxDocument):
        return kind, list(model.groups)
    if kind == "csv" and request.args.get("dataSet"):
        model = replace(model, data_set=request.args["dataSet"])
    return kind, [model]


def _schemes(kind: str, groups: list[DataValueSet]) -> dict[str, str]:
    query = {k: v for k, v in request.args.items() if k.endswith("IdScheme") or k == "idScheme"}
    schemes = id_schemes(groups[0] if groups else DataValueSet(), query)
    if kind == "adx":
        schemes.setdefault("id", "code")
        schemes["_fallback_uid"] = "1"
    return schemes


def import_data_values(user: str) -> Response:
    state = _state()
    decoded = _decode(state)
    if isinstance(decoded, Response):
        return decoded
    kind, groups = decoded
    strategy = (
        request.args.get("importStrategy") or (groups[0].strategy if groups else None) or "CREATE_AND_UPDATE"
    ).upper()
    dry_run = _flag("dryRun") or bool(groups and groups[0].dry_run)
    importer = Importer(state, _schemes(kind, groups), strategy, dry_run, user)
    offset = 0
    for group in groups:
        importer.run_group(group, offset)
        offset += len(group.data_values)
    summary, http = importer.summary()
    if _flag("async"):
        job_id = uuid.uuid4().hex[:11]
        state.jobs[job_id] = Job(summary)
        return web_message(
            "OK",
            200,
            "Initiated dataValueImport",
            {
                "name": "dataValueImport",
                "id": job_id,
                "created": _now(),
                "jobType": "DATAVALUE_IMPORT",
                "relativeNotifierEndpoint": f"/api/system/tasks/DATAVALUE_IMPORT/{job_id}",
            },
        )
    status = {"SUCCESS": "OK", "WARNING": "WARNING", "ERROR": "ERROR"}[summary["status"]]
    message = {
        "OK": "Import was successful.",
        "WARNING": "Import completed with warnings, please check import summary.",
        "ERROR": "An error occurred, please check import summary.",
    }[status]
    return web_message(status, http, message, summary)


# ---------------------------------------------------------------------------- export


def _export_kind(path_ext: str | None) -> str:
    if path_ext:
        return {"json": "json", "xml": "xml", "csv": "csv", "adx+xml": "adx", "adx": "adx"}.get(path_ext, "json")
    accept = request.headers.get("Accept", "")
    return "adx" if "adx" in accept else "csv" if "csv" in accept else "xml" if "xml" in accept else "json"


def _org_units(state: State, ident: str, children: bool) -> set[str]:
    uid = state.snap.resolve("orgUnit", ident) or ident
    if not children:
        return {uid}
    return {ou.id for ou in state.snap.org_units.values() if f"/{uid}" in ou.path}


def _unfold(state: State, coc: str) -> tuple[tuple[str, str], ...]:
    combo = state.snap.option_combos.get(coc)
    if combo is None or state.snap.category_combos[combo.category_combo].is_default:
        return ()
    out = []
    for cat_uid in state.snap.category_combos[combo.category_combo].categories:
        cat = state.snap.categories[cat_uid]
        option = next(o for o in cat.options if o in combo.options)
        out.append((cat.code or cat.id, state.snap.options[option].code or option))
    return tuple(out)


def export_data_values(path_ext: str | None) -> Response:
    state = _state()
    ds_id, period, ou = request.args.get("dataSet"), request.args.get("period"), request.args.get("orgUnit")
    if not (ds_id and period and ou):
        return web_message("ERROR", 409, "At least one data set, period and organisation unit must be specified")
    ds_uid = state.snap.resolve("dataSet", ds_id) or state.snap.resolve("dataSet", ds_id, "code")
    if ds_uid is None:
        return web_message("ERROR", 409, f"Data set not found: `{ds_id}`")
    ds = state.snap.data_sets[ds_uid]
    elements = {e for e, _ in ds.elements}
    units = _org_units(state, ou, _flag("children"))
    canonical = parse_period(period).iso
    kind = _export_kind(path_ext)
    rows = [
        (k, v)
        for k, v in sorted(state.values.items())
        if k[0] in elements and k[1] == canonical and k[2] in units and (not v.deleted or _flag("includeDeleted"))
    ]
    if kind == "adx":
        return _adx_export(state, ds, rows)
    values = tuple(
        DataValue(
            k[0],
            period=k[1],
            org_unit=k[2],
            category_option_combo=k[3],
            attribute_option_combo=k[4],
            value=v.value,
            stored_by=v.stored_by,
            created=v.created,
            last_updated=v.last_updated,
            comment=v.comment,
            follow_up=v.follow_up,
            deleted=True if v.deleted else None,
        )
        for k, v in rows
    )
    body = CODECS[kind].serialize(DataValueSet(data_values=values, data_set=ds.id))
    return Response(body, mimetype=MEDIA[kind])


def _adx_export(state: State, ds: Any, rows: list[tuple[Key, Stored]]) -> Response:
    snap, groups = state.snap, []
    for k, v in rows:
        dv = DataValue(
            snap.data_elements[k[0]].code or k[0],
            category_options=_unfold(state, k[3]),
            value=v.value or "",
            comment=v.comment,
        )
        groups.append(
            DataValueSet(
                data_values=(dv,),
                data_set=ds.code or ds.id,
                period=k[1],
                org_unit=snap.org_units[k[2]].code or k[2],
                attribute_options=_unfold(state, k[4]),
            )
        )
    merged: list[DataValueSet] = []
    for group in groups:
        if merged and replace(merged[-1], data_values=()) == replace(group, data_values=()):
            merged[-1] = replace(merged[-1], data_values=merged[-1].data_values + group.data_values)
        else:
            merged.append(group)
    body = CODECS["adx"].serialize(AdxDocument(tuple(merged), _now() + "Z"))
    return Response(body, mimetype=MEDIA["adx"])


# ---------------------------------------------------------------------------- metadata


def _after(stamp: str | None, since: str) -> bool:
    return bool(stamp) and str(stamp) > since


def metadata() -> Response:
    state = _state()
    since = request.args.get("lastUpdated")
    filt = request.args.get("filter", "")
    if filt.startswith("lastUpdated:gt:"):
        since = filt[len("lastUpdated:gt:") :]
    out: dict[str, Any] = {"system": state.meta.get("system", {})}
    for key, objs in state.meta.items():
        if isinstance(objs, list):
            out[key] = [o for o in objs if since is None or _after(o.get("lastUpdated"), since)]
    return jsonify(out)


# ---------------------------------------------------------------------------- app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The DHIS2 simulator. Config: ``METADATA`` (dict), ``VERSION``, ``USERS``, ``TOKENS``, ``ASYNC_POLLS``,
    ``TODAY`` (ISO date the timeliness rules use; default today)."""
    config = dict(config or {})
    meta = config.get("METADATA") or json.loads(DEMO_PATH.read_text(encoding="utf-8"))
    state = State(
        snap=MetadataSnapshot.from_metadata(meta),
        meta=meta,
        version=str(config.get("VERSION", "2.43")),
        users=dict(config.get("USERS", {"admin": "district"})),
        tokens=dict(config.get("TOKENS", {"d2pat_jembatanDemoToken0000000000000000": "admin"})),
        async_polls=int(config.get("ASYNC_POLLS", 1)),
        today=date.fromisoformat(str(config["TODAY"])) if config.get("TODAY") else date.today(),
    )
    app = Flask("dhis2-simulator")
    app.config.update(config)
    app.extensions["dhis2_state"] = state

    @app.before_request
    def _auth() -> Response | None:
        g.dhis2_state = state
        g.dhis2_user = _authenticate(state)
        if g.dhis2_user is None:
            return web_message("ERROR", 401, "Unauthorized")
        return None

    @app.get("/api/system/info")
    def _info() -> Response:
        return jsonify({"version": state.version, "calendar": "iso8601", "systemName": "Jembatan DHIS2 simulator"})

    @app.get("/api/metadata")
    def _metadata() -> Response:
        return metadata()

    @app.post("/api/dataValueSets")
    def _import() -> Response:
        return import_data_values(g.dhis2_user)

    @app.get("/api/dataValueSets")
    @app.get("/api/dataValueSets.<ext>")
    def _export(ext: str | None = None) -> Response:
        return export_data_values(ext)

    @app.get("/api/system/tasks/DATAVALUE_IMPORT/<job_id>")
    def _task(job_id: str) -> Response:
        job = state.jobs.get(job_id)
        if job is None:
            return web_message("ERROR", 404, f"Job not found: {job_id}")
        job.polls += 1
        done = job.polls > state.async_polls
        return jsonify(
            [
                {
                    "uid": job_id,
                    "level": "INFO",
                    "category": "DATAVALUE_IMPORT",
                    "time": _now(),
                    "message": "Import done" if done else "Importing data values",
                    "completed": done,
                }
            ]
        )

    @app.get("/api/system/taskSummaries/DATAVALUE_IMPORT/<job_id>")
    def _task_summary(job_id: str) -> Response:
        job = state.jobs.get(job_id)
        if job is None or job.polls <= state.async_polls:
            return web_message("ERROR", 404, f"No summary for job {job_id} (yet)")
        return jsonify(job.summary)

    return app
