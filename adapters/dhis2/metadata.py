"""A DHIS2 metadata snapshot and the pre-validation of data value sets against it (GW-43xx).

:class:`MetadataSnapshot` is a pure, read-only model of what a push needs from one DHIS2
instance (dataSets, data elements, category combos, categories, options, COCs, org units with
``path`` and attribute values), built from an ``/api/metadata`` JSON export. It resolves ids in
any id scheme (``uid``, ``code``, ``name``, ``attribute:<uid>``) and never invents a COC: category
option pairs resolve to an existing COC or to an issue.

:class:`MetadataValidator` checks a data value set the way DHIS2 would before it is sent, one
located issue per failure (``dataValues[3].period`` …). Message ids:

=========  ==================================================  DHIS2 2.43 / ≤ 2.42
GW-4301    unknown dataSet                                     E8100 / E7600
GW-4302    unknown data element                                E8101 / E7610
GW-4303    data element not in the dataSet                     E8020 / E7633
GW-4304    invalid period string                               E8102 / E7611
GW-4305    period does not fit the dataSet's periodType        E8021 / E7632
GW-4306    unknown org unit                                    E8103 / E7612
GW-4307    org unit not assigned to the dataSet                E8022 / E7613
GW-4308    unknown category option combo                       E8104 / E7614
GW-4309    COC not in the data element's category combo        E8024 / E7615
GW-4310    category options match no COC (never invented)      E8127 / -
GW-4311    unknown attribute option combo                      E8105 / E7616
GW-4312    AOC not in the dataSet's attribute combo            E8023 / E7617
GW-4313    value does not fit the data element's value type    E8120 / E7619
GW-4314    missing value (and not a deletion)                  E8121 / E7630
GW-4315    same key twice in one payload                       E8128 / -
GW-4316    completeDate is not yyyy-MM-dd                      E8009 / -
GW-4317    no dataSet given and none can be inferred           E8002 / -
GW-4318    period not open: future or expired                  E8030-E8031 / -
=========  ==================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from adapters.base import MapContext
from adapters.dhis2.model import AdxDocument, DataValue, DataValueSet, FlatValue, flatten
from adapters.dhis2.periods import Period, parse_period, period_containing, shift
from bridge.errors import ConformanceError, DecodeError, GatewayError
from conformance.outcome import Issue, Outcome

DEMO_PATH = Path(__file__).with_name("demo_metadata.json")
DEFAULT_COMBO_NAME = "default"


@dataclass(frozen=True)
class Named:
    id: str
    code: str | None
    name: str | None
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DataElement(Named):
    value_type: str = "NUMBER"
    category_combo: str = ""


@dataclass(frozen=True)
class CategoryCombo(Named):
    categories: tuple[str, ...] = ()
    cocs: tuple[str, ...] = ()
    is_default: bool = False


@dataclass(frozen=True)
class Category(Named):
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptionCombo(Named):
    category_combo: str = ""
    options: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OrgUnit(Named):
    path: str = ""
    level: int | None = None


@dataclass(frozen=True)
class DataSet(Named):
    period_type: str = "Monthly"
    category_combo: str = ""
    elements: tuple[tuple[str, str | None], ...] = ()  # (data element, combo override)
    org_units: frozenset[str] = frozenset()
    open_future_periods: int = 0
    expiry_days: int = 0


def _ref(obj: Any) -> str:
    return str(obj.get("id", "")) if isinstance(obj, Mapping) else ""


def _named(obj: Mapping[str, Any]) -> dict[str, Any]:
    attrs = tuple((_ref(a.get("attribute")), str(a.get("value"))) for a in obj.get("attributeValues") or [])
    return {"id": obj["id"], "code": obj.get("code"), "name": obj.get("name"), "attributes": attrs}


def _norm_scheme(scheme: str) -> str:
    """``UID``/``Code`` -> ``uid``/``code``; ``ATTRIBUTE:abc`` -> ``attribute:abc`` (the uid keeps its case)."""
    lowered = scheme.lower()
    return "attribute:" + scheme[10:] if lowered.startswith("attribute:") else lowered


@dataclass
class MetadataSnapshot:
    """Metadata of one DHIS2 instance, indexed by uid; ``last_updated`` is the newest object change seen."""

    data_sets: dict[str, DataSet] = field(default_factory=dict)
    data_elements: dict[str, DataElement] = field(default_factory=dict)
    category_combos: dict[str, CategoryCombo] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)
    options: dict[str, Named] = field(default_factory=dict)
    option_combos: dict[str, OptionCombo] = field(default_factory=dict)
    org_units: dict[str, OrgUnit] = field(default_factory=dict)
    last_updated: str | None = None
    _index: dict[tuple[str, str, str], str] = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------- building

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> MetadataSnapshot:
        """Build from an ``/api/metadata`` JSON export (one array per object type)."""
        snap = cls()
        for obj in meta.get("categoryOptions") or []:
            snap.options[obj["id"]] = Named(**_named(obj))
        for obj in meta.get("categories") or []:
            snap.categories[obj["id"]] = Category(
                **_named(obj), options=tuple(map(_ref, obj.get("categoryOptions") or []))
            )
        for obj in meta.get("categoryCombos") or []:
            snap.category_combos[obj["id"]] = CategoryCombo(
                **_named(obj),
                categories=tuple(map(_ref, obj.get("categories") or [])),
                cocs=tuple(map(_ref, obj.get("categoryOptionCombos") or [])),
                is_default=bool(obj.get("isDefault")) or obj.get("name") == DEFAULT_COMBO_NAME,
            )
        for obj in meta.get("categoryOptionCombos") or []:
            snap.option_combos[obj["id"]] = OptionCombo(
                **_named(obj),
                category_combo=_ref(obj.get("categoryCombo")),
                options=frozenset(map(_ref, obj.get("categoryOptions") or [])),
            )
        for obj in meta.get("dataElements") or []:
            snap.data_elements[obj["id"]] = DataElement(
                **_named(obj),
                value_type=obj.get("valueType", "NUMBER"),
                category_combo=_ref(obj.get("categoryCombo")),
            )
        for obj in meta.get("organisationUnits") or []:
            snap.org_units[obj["id"]] = OrgUnit(**_named(obj), path=obj.get("path", ""), level=obj.get("level"))
        for obj in meta.get("dataSets") or []:
            snap.data_sets[obj["id"]] = DataSet(
                **_named(obj),
                period_type=obj.get("periodType", "Monthly"),
                category_combo=_ref(obj.get("categoryCombo")),
                elements=tuple(
                    (_ref(e.get("dataElement")), _ref(e.get("categoryCombo")) or None)
                    for e in obj.get("dataSetElements") or []
                ),
                org_units=frozenset(map(_ref, obj.get("organisationUnits") or [])),
                open_future_periods=int(obj.get("openFuturePeriods") or 0),
                expiry_days=int(obj.get("expiryDays") or 0),
            )
        stamps = [
            str(o["lastUpdated"])
            for objs in meta.values()
            if isinstance(objs, list)
            for o in objs
            if isinstance(o, Mapping) and o.get("lastUpdated")
        ]
        snap.last_updated = max(stamps) if stamps else None
        snap._build_index()
        return snap

    def _build_index(self) -> None:
        for kind, table in self._tables().items():
            for uid, obj in table.items():
                self._index[(kind, "uid", uid)] = uid
                if obj.code:
                    self._index[(kind, "code", obj.code)] = uid
                if obj.name:
                    self._index[(kind, "name", obj.name)] = uid
                for attr, value in obj.attributes:
                    self._index[(kind, f"attribute:{attr}", value)] = uid

    def _tables(self) -> dict[str, Mapping[str, Named]]:
        return {
            "dataSet": self.data_sets,
            "dataElement": self.data_elements,
            "categoryCombo": self.category_combos,
            "category": self.categories,
            "categoryOption": self.options,
            "categoryOptionCombo": self.option_combos,
            "orgUnit": self.org_units,
        }

    # ---------------------------------------------------------------- lookups

    def resolve(self, kind: str, ident: str | None, scheme: str = "uid") -> str | None:
        """uid of the ``kind`` object known as ``ident`` in ``scheme`` (uid|code|name|attribute:<uid>)."""
        if ident is None:
            return None
        found = self._index.get((kind, scheme, ident))
        return found if found is not None else self._index.get((kind, _norm_scheme(scheme), ident))

    def identify(self, kind: str, uid: str, scheme: str = "uid") -> str | None:
        """The identifier of object ``uid`` in ``scheme`` (the reverse of :meth:`resolve`)."""
        obj = self._tables()[kind].get(uid)
        if obj is None:
            return None
        scheme = scheme.lower()
        if scheme == "uid":
            return obj.id
        if scheme in ("code", "name"):
            return getattr(obj, scheme)  # type: ignore[no-any-return]
        attr = scheme[len("attribute:") :]
        return next((v for a, v in obj.attributes if a.lower() == attr), None)

    def default_combo(self) -> CategoryCombo | None:
        return next((c for c in self.category_combos.values() if c.is_default), None)

    def default_coc(self) -> str | None:
        combo = self.default_combo()
        return combo.cocs[0] if combo and combo.cocs else None

    def element_combo(self, data_set: DataSet | None, element: DataElement) -> str:
        if data_set is not None:
            for de, override in data_set.elements:
                if de == element.id and override:
                    return override
        return element.category_combo

    def coc_for_options(self, combo_id: str, option_uids: Iterable[str]) -> str | None:
        """The existing COC of ``combo_id`` with exactly these options, else None (never invented)."""
        wanted = frozenset(option_uids)
        combo = self.category_combos.get(combo_id)
        for coc in combo.cocs if combo else ():
            if self.option_combos.get(coc) and self.option_combos[coc].options == wanted:
                return coc
        return None

    def options_for(
        self, combo_id: str, pairs: Iterable[tuple[str, str]], schemes: Mapping[str, str]
    ) -> list[str] | None:
        """Resolve category->option pairs (category/option id schemes) to option uids of ``combo_id``."""
        combo = self.category_combos.get(combo_id)
        if combo is None:
            return None
        out = []
        for cat_ident, opt_ident in pairs:
            cat = self.resolve("category", cat_ident, schemes.get("category", "uid"))
            opt = self.resolve("categoryOption", opt_ident, schemes.get("categoryOption", "uid"))
            if cat is None or cat not in combo.categories or opt not in self.categories[cat].options:
                return None
            out.append(opt)  # type: ignore[arg-type]
        return out if len(out) == len(combo.categories) else None

    def data_sets_with(self, element_uid: str) -> list[DataSet]:
        return [ds for ds in self.data_sets.values() if any(de == element_uid for de, _ in ds.elements)]


@lru_cache(maxsize=1)
def demo_snapshot() -> MetadataSnapshot:
    """The bundled Indonesian demo metadata (the simulator serves the same file)."""
    return MetadataSnapshot.from_metadata(json.loads(DEMO_PATH.read_text(encoding="utf-8")))


def snapshot_from_settings(settings: Mapping[str, Any]) -> MetadataSnapshot:
    found = settings.get("dhis2_metadata")
    if found is None:
        return demo_snapshot()
    if isinstance(found, MetadataSnapshot):
        return found
    if isinstance(found, Mapping):
        return MetadataSnapshot.from_metadata(found)
    if isinstance(found, str | Path) and Path(found).is_file():
        return MetadataSnapshot.from_metadata(json.loads(Path(found).read_text(encoding="utf-8")))
    raise ConformanceError("GW-4399", "settings['dhis2_metadata'] must be a MetadataSnapshot or /api/metadata JSON")


# -------------------------------------------------------------------- value types

_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_BOOL = {"true", "false", "1", "0", "t", "f"}


def _is_date(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


_VALUE_CHECKS: dict[str, Any] = {
    "INTEGER": lambda t: bool(_INT.match(t)),
    "INTEGER_POSITIVE": lambda t: bool(_INT.match(t)) and int(t) > 0,
    "INTEGER_NEGATIVE": lambda t: bool(_INT.match(t)) and int(t) < 0,
    "INTEGER_ZERO_OR_POSITIVE": lambda t: bool(_INT.match(t)) and int(t) >= 0,
    "NUMBER": lambda t: bool(_NUM.match(t)),
    "UNIT_INTERVAL": lambda t: bool(_NUM.match(t)) and 0 <= float(t) <= 1,
    "PERCENTAGE": lambda t: bool(_NUM.match(t)) and 0 <= float(t) <= 100,
    "BOOLEAN": lambda t: t.lower() in _BOOL,
    "TRUE_ONLY": lambda t: t.lower() in ("true", "1", "t"),
    "DATE": lambda t: _is_date(t, "%Y-%m-%d"),
    "TIME": lambda t: _is_date(t, "%H:%M"),
    "DATETIME": lambda t: _is_date(t[:19], "%Y-%m-%dT%H:%M:%S") or _is_date(t, "%Y-%m-%d"),
    "EMAIL": lambda t: bool(re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", t)),
    "LETTER": lambda t: len(t) == 1 and t.isalpha(),
}


def value_fits(value_type: str, text: str) -> bool:
    """Whether ``text`` is acceptable for a DHIS2 ``ValueType`` (the checks DHIS2 makes on import).

    Types without a syntactic rule (TEXT, LONG_TEXT, FILE_RESOURCE, ...) accept any text.
    """
    check = _VALUE_CHECKS.get(value_type)
    return True if check is None else bool(check(text))


# -------------------------------------------------------------------- validation


@dataclass
class _Check:
    snap: MetadataSnapshot
    schemes: dict[str, str]
    outcome: Outcome = field(default_factory=Outcome)
    today: date = field(default_factory=date.today)
    _cache: dict[str, str] = field(default_factory=dict)

    def issue(
        self, message_id: str, message: str, where: str, code: str = "business-rule", severity: str = "error"
    ) -> None:
        self.outcome.add(Issue(severity, code, message, expression=(where,), message_id=message_id))  # type: ignore[arg-type]

    def scheme(self, kind: str) -> str:
        found = self._cache.get(kind)
        if found is None:
            found = self._cache[kind] = _norm_scheme(self.schemes.get(kind) or self.schemes.get("id") or "uid")
        return found


_SCHEME_KEYS = {
    "idScheme": "id",
    "dataElementIdScheme": "dataElement",
    "orgUnitIdScheme": "orgUnit",
    "categoryOptionComboIdScheme": "categoryOptionCombo",
    "attributeOptionComboIdScheme": "attributeOptionCombo",
    "dataSetIdScheme": "dataSet",
    "categoryIdScheme": "category",
    "categoryOptionIdScheme": "categoryOption",
}


def id_schemes(dvs: DataValueSet, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Effective id schemes: payload beats ``extra`` (query/settings); specific beats ``idScheme``."""
    out = {_SCHEME_KEYS[k]: v for k, v in (extra or {}).items() if k in _SCHEME_KEYS}
    out.update({_SCHEME_KEYS[k]: v for k, v in dvs.id_schemes if k in _SCHEME_KEYS})
    return out


def _where(index: int, name: str) -> str:
    return f"dataValues[{index}].{name}"


def _check_period(chk: _Check, ds: DataSet | None, text: str | None, where: str) -> None:
    if text is None:
        chk.issue("GW-4304", "period is missing", where, code="required")
        return
    try:
        period = parse_period(text)
    except DecodeError as exc:
        chk.issue("GW-4304", exc.message, where, code="value")
        return
    if ds is not None and period.type != ds.period_type:
        chk.issue("GW-4305", f"period {text!r} is {period.type}, dataSet {ds.id} is {ds.period_type}", where)
        return
    if ds is not None:
        _check_timely(chk, ds, period, text, where)


def untimely(ds: DataSet, period: Period, today: date) -> str | None:
    """Why ``period`` is closed for data entry in ``ds`` on ``today`` (None when open).

    Open: up to ``openFuturePeriods`` periods after the current one; closed ``expiryDays`` days after
    the period ended (0 = never). Approval and data input periods are not modelled.
    """
    last_open = shift(period_containing(ds.period_type, today), ds.open_future_periods)
    if period.start > last_open.end:
        return f"is in the future (dataSet {ds.id} opens {ds.open_future_periods} future periods)"
    if ds.expiry_days > 0 and today > period.end + timedelta(days=ds.expiry_days):
        return f"expired {ds.expiry_days} days after its end (dataSet {ds.id})"
    return None


def _check_timely(chk: _Check, ds: DataSet, period: Period, text: str, where: str) -> None:
    why = untimely(ds, period, chk.today)
    if why:
        chk.issue("GW-4318", f"period {text!r} {why}", where)


def _check_org_unit(chk: _Check, ds: DataSet | None, text: str | None, where: str) -> None:
    uid = chk.snap.resolve("orgUnit", text, chk.scheme("orgUnit"))
    if uid is None:
        chk.issue(
            "GW-4306",
            f"org unit {text!r} is unknown ({chk.scheme('orgUnit')} scheme)",
            where,
            code="not-found",
        )
    elif ds is not None and uid not in ds.org_units:
        chk.issue("GW-4307", f"org unit {text!r} is not assigned to dataSet {ds.id}", where)


def _check_coc(chk: _Check, ds: DataSet | None, element: DataElement, dv: DataValue, index: int) -> None:
    combo = chk.snap.element_combo(ds, element)
    if dv.category_options and not dv.category_option_combo:
        schemes = {"category": chk.scheme("category"), "categoryOption": chk.scheme("categoryOption")}
        options = chk.snap.options_for(combo, dv.category_options, schemes)
        if options is None or chk.snap.coc_for_options(combo, options) is None:
            chk.issue(
                "GW-4310",
                f"category options {dict(dv.category_options)} match no COC of combo {combo}",
                _where(index, "categoryOptionCombo"),
            )
        return
    if not dv.category_option_combo:
        coc = chk.snap.default_coc()
        where = _where(index, "categoryOptionCombo")
        if coc not in chk.snap.category_combos.get(combo, CategoryCombo("", None, None)).cocs:
            chk.issue(
                "GW-4309",
                f"no categoryOptionCombo given but {element.id}'s combo {combo} is not default",
                where,
            )
        return
    _check_combo_member(
        chk,
        "categoryOptionCombo",
        dv.category_option_combo,
        combo,
        _where(index, "categoryOptionCombo"),
        ("GW-4308", "GW-4309"),
    )


def _check_combo_member(chk: _Check, kind: str, ident: str, combo: str, where: str, ids: tuple[str, str]) -> None:
    uid = chk.snap.resolve("categoryOptionCombo", ident, chk.scheme(kind))
    if uid is None:
        chk.issue(ids[0], f"{kind} {ident!r} is unknown", where, code="not-found")
    elif chk.snap.option_combos[uid].category_combo != combo:
        chk.issue(ids[1], f"{kind} {ident!r} does not belong to category combo {combo}", where)


def _check_aoc(chk: _Check, ds: DataSet | None, row: FlatValue, index: int) -> None:
    if ds is None:
        return
    where = _where(index, "attributeOptionCombo")
    if row.attribute_options:
        schemes = {"category": chk.scheme("category"), "categoryOption": chk.scheme("categoryOption")}
        options = chk.snap.options_for(ds.category_combo, row.attribute_options, schemes)
        if options is None or chk.snap.coc_for_options(ds.category_combo, options) is None:
            chk.issue(
                "GW-4310",
                f"attribute options {dict(row.attribute_options)} match no AOC of {ds.category_combo}",
                where,
            )
        return
    if not row.attribute_option_combo:
        coc = chk.snap.default_coc()
        if coc not in chk.snap.category_combos.get(ds.category_combo, CategoryCombo("", None, None)).cocs:
            chk.issue(
                "GW-4312",
                f"no attributeOptionCombo given but dataSet {ds.id} has attribute combo {ds.category_combo}",
                where,
            )
        return
    _check_combo_member(
        chk,
        "attributeOptionCombo",
        row.attribute_option_combo,
        ds.category_combo,
        where,
        ("GW-4311", "GW-4312"),
    )


def _check_value(chk: _Check, element: DataElement, dv: DataValue, index: int) -> None:
    where = _where(index, "value")
    if dv.value is None or dv.value == "":
        if not dv.deleted:
            chk.issue("GW-4314", "value is missing", where, code="required")
        return
    if not value_fits(element.value_type, dv.value):
        chk.issue("GW-4313", f"value {dv.value!r} is not a valid {element.value_type}", where, code="value")


def _data_set(chk: _Check, dvs: DataValueSet, rows: tuple[FlatValue, ...]) -> DataSet | None:
    if dvs.data_set is not None:
        uid = chk.snap.resolve("dataSet", dvs.data_set, chk.scheme("dataSet"))
        if uid is None:
            chk.issue("GW-4301", f"dataSet {dvs.data_set!r} is unknown", "dataSet", code="not-found")
            return None
        return chk.snap.data_sets[uid]
    candidates: set[str] | None = None
    for row in rows:
        de = chk.snap.resolve("dataElement", row.value.data_element, chk.scheme("dataElement"))
        found = {ds.id for ds in chk.snap.data_sets_with(de)} if de else set()
        candidates = found if candidates is None else candidates & found
    if candidates and len(candidates) == 1:
        return chk.snap.data_sets[candidates.pop()]
    if rows:
        chk.issue(
            "GW-4317",
            "no dataSet given and the data elements do not select exactly one",
            "dataSet",
            code="required",
        )
    return None


def validate_data_value_set(
    dvs: DataValueSet, snap: MetadataSnapshot, schemes: Mapping[str, str] | None = None, today: date | None = None
) -> Outcome:
    """All GW-43xx issues of ``dvs`` against ``snap`` (timeliness judged on ``today``); never raises for bad input."""
    chk = _Check(snap, id_schemes(dvs, schemes), today=today or date.today())
    rows = flatten(dvs)
    ds = _data_set(chk, dvs, rows)
    if dvs.complete_date is not None and not _is_date(dvs.complete_date, "%Y-%m-%d"):
        chk.issue("GW-4316", f"completeDate {dvs.complete_date!r} is not yyyy-MM-dd", "completeDate", code="value")
    seen: dict[tuple[object, ...], int] = {}
    for index, row in enumerate(rows):
        _check_row(chk, ds, row, index)
        key = (
            row.value.data_element,
            row.period,
            row.org_unit,
            row.value.category_option_combo or None,
            row.value.category_options,
            row.attribute_option_combo,
            row.attribute_options,
        )
        if key in seen:
            chk.issue("GW-4315", f"same key as dataValues[{seen[key]}]", f"dataValues[{index}]", code="duplicate")
        seen.setdefault(key, index)
    return chk.outcome


def _check_row(chk: _Check, ds: DataSet | None, row: FlatValue, index: int) -> None:
    dv = row.value
    de = chk.snap.resolve("dataElement", dv.data_element, chk.scheme("dataElement"))
    _check_period(chk, ds, row.period, _where(index, "period"))
    _check_org_unit(chk, ds, row.org_unit, _where(index, "orgUnit"))
    _check_aoc(chk, ds, row, index)
    if de is None:
        chk.issue(
            "GW-4302",
            f"data element {dv.data_element!r} is unknown",
            _where(index, "dataElement"),
            code="not-found",
        )
        return
    if ds is not None and not any(e == de for e, _ in ds.elements):
        chk.issue(
            "GW-4303",
            f"data element {dv.data_element!r} is not in dataSet {ds.id}",
            _where(index, "dataElement"),
        )
    element = chk.snap.data_elements[de]
    _check_coc(chk, ds, element, dv, index)
    _check_value(chk, element, dv, index)


class MetadataValidator:
    """Profiles ``dhis2`` (JSON data value sets), ``dhis2-adx`` and ``dhis2-measurereport`` (the FHIR pivot).

    The snapshot comes from ``ctx.settings['dhis2_metadata']`` (a :class:`MetadataSnapshot`, an
    ``/api/metadata`` JSON object or the path of one) or is the bundled demo; id schemes from
    ``ctx.settings['dhis2_id_schemes']`` (ADX defaults to ``code``, as DHIS2 documents).
    Issues on the pivot point at the MeasureReport entries (``Bundle.entry[i]``) of the derived values.
    """

    def validate(self, doc: Any, ctx: MapContext) -> Outcome:
        snap = snapshot_from_settings(ctx.settings)
        schemes = dict(ctx.settings.get("dhis2_id_schemes") or {})
        raw_today = ctx.settings.get("dhis2_today")
        today = date.fromisoformat(str(raw_today)) if raw_today else None
        if isinstance(doc, DataValueSet):
            return validate_data_value_set(doc, snap, schemes, today)
        if isinstance(doc, AdxDocument):
            return _validate_adx(doc, snap, {"idScheme": "code", **schemes}, today)
        if _resource_type(doc) in ("Bundle", "MeasureReport"):
            return _validate_pivot(doc, snap, schemes, today)
        raise ConformanceError(
            "GW-4398", f"the dhis2 profiles validate DHIS2 models or MeasureReports, got {type(doc).__name__}"
        )


def _resource_type(doc: Any) -> str | None:
    if isinstance(doc, Mapping):
        return doc.get("resourceType")  # type: ignore[no-any-return]
    return getattr(doc, "__resource_type__", None) or getattr(doc, "resource_type", None)


def _prefixed(outcome: Outcome, prefix: str) -> list[Issue]:
    return [replace(i, expression=tuple(prefix + e for e in i.expression)) for i in outcome.issues]


def _validate_adx(doc: AdxDocument, snap: MetadataSnapshot, schemes: Mapping[str, str], today: date | None) -> Outcome:
    outcome = Outcome()
    for index, group in enumerate(doc.groups):
        outcome.extend(_prefixed(validate_data_value_set(group, snap, schemes, today), f"group[{index}]."))
    return outcome


def _validate_pivot(doc: Any, snap: MetadataSnapshot, schemes: Mapping[str, str], today: date | None) -> Outcome:
    from adapters.dhis2.measurereport import fhir_rows
    from adapters.dhis2.model import group_runs, run_to_group

    outcome = Outcome()
    try:
        rows = fhir_rows(doc)
    except GatewayError as exc:
        return Outcome.of(Issue.error("structure", exc.message, message_id=exc.code))
    for index, run in enumerate(group_runs(rows)):
        where = f"Bundle.entry[{index}].resource." if _resource_type(doc) == "Bundle" else "MeasureReport."
        outcome.extend(_prefixed(validate_data_value_set(run_to_group(run), snap, schemes, today), where))
    return outcome


# -------------------------------------------------------------------- COC resolution


def resolve_option_combos(
    dvs: DataValueSet, snap: MetadataSnapshot, schemes: Mapping[str, str] | None = None
) -> tuple[DataValueSet, Outcome]:
    """Replace category option pairs by the existing COC/AOC uids of ``snap`` (issues where none exists).

    Values whose pairs match no COC keep their pairs and get a GW-4310 issue: a COC uid is never
    made up. Values are otherwise untouched.
    """
    chk = _Check(snap, id_schemes(dvs, schemes))
    ds_uid = snap.resolve("dataSet", dvs.data_set, chk.scheme("dataSet"))
    ds = snap.data_sets.get(ds_uid) if ds_uid else None
    values = [_resolve_value(chk, ds, dv, i) for i, dv in enumerate(dvs.data_values)]
    out = replace(dvs, data_values=tuple(values))
    if dvs.attribute_options and ds is not None:
        options = snap.options_for(
            ds.category_combo,
            dvs.attribute_options,
            {"category": chk.scheme("category"), "categoryOption": chk.scheme("categoryOption")},
        )
        aoc = snap.coc_for_options(ds.category_combo, options or [])
        if aoc is None:
            chk.issue(
                "GW-4310",
                f"attribute options {dict(dvs.attribute_options)} match no AOC",
                "attributeOptionCombo",
            )
        else:
            out = replace(
                out,
                attribute_option_combo=snap.identify("categoryOptionCombo", aoc, chk.scheme("attributeOptionCombo"))
                or aoc,
                attribute_options=(),
            )
    return out, chk.outcome


def _resolve_value(chk: _Check, ds: DataSet | None, dv: DataValue, index: int) -> DataValue:
    if not dv.category_options or dv.category_option_combo:
        return dv
    de = chk.snap.resolve("dataElement", dv.data_element, chk.scheme("dataElement"))
    if de is None:
        chk.issue("GW-4302", f"data element {dv.data_element!r} is unknown", _where(index, "dataElement"))
        return dv
    combo = chk.snap.element_combo(ds, chk.snap.data_elements[de])
    schemes = {"category": chk.scheme("category"), "categoryOption": chk.scheme("categoryOption")}
    coc = chk.snap.coc_for_options(combo, chk.snap.options_for(combo, dv.category_options, schemes) or [])
    if coc is None:
        chk.issue(
            "GW-4310",
            f"category options {dict(dv.category_options)} match no COC of {combo}",
            _where(index, "categoryOptionCombo"),
        )
        return dv
    ident = chk.snap.identify("categoryOptionCombo", coc, chk.scheme("categoryOptionCombo")) or coc
    return replace(dv, category_option_combo=ident, category_options=())


# -------------------------------------------------------------------- COC unfolding (for ADX)


def unfold_combo(snap: MetadataSnapshot, coc_uid: str, category_scheme: str = "code",
                 option_scheme: str = "code") -> tuple[tuple[str, str], ...] | None:  # fmt: skip
    """COC uid -> ((category, option), ...) in the given schemes; () for the default combo, None if unknown."""
    combo = snap.option_combos.get(coc_uid)
    if combo is None:
        return None
    cat_combo = snap.category_combos.get(combo.category_combo)
    if cat_combo is None or cat_combo.is_default:
        return ()
    pairs = []
    for cat_uid in cat_combo.categories:
        option = next((o for o in snap.categories[cat_uid].options if o in combo.options), None)
        category = snap.identify("category", cat_uid, category_scheme)
        named = snap.identify("categoryOption", option, option_scheme) if option else None
        if option is None or category is None or named is None:
            return None
        pairs.append((category, named))
    return tuple(pairs)


def unfold_option_combos(dvs: DataValueSet, snap: MetadataSnapshot, schemes: Mapping[str, str] | None = None
                         ) -> tuple[DataValueSet, Outcome]:  # fmt: skip
    """Replace COC/AOC ids by category->option codes (what ADX carries), the inverse of :func:`resolve_option_combos`.

    Ids are read in the set's COC/AOC schemes; categories and options are written by code. A COC
    that is unknown, or whose category/option has no code, stays as it is with a GW-4308 issue.
    """
    chk = _Check(snap, id_schemes(dvs, schemes))
    values = []
    cache: dict[str, tuple[tuple[str, str], ...] | None] = {}
    for index, dv in enumerate(dvs.data_values):
        if not dv.category_option_combo:
            values.append(dv)
            continue
        if dv.category_option_combo not in cache:
            uid = snap.resolve("categoryOptionCombo", dv.category_option_combo, chk.scheme("categoryOptionCombo"))
            cache[dv.category_option_combo] = unfold_combo(snap, uid) if uid else None
        pairs = cache[dv.category_option_combo]
        if pairs is None:
            chk.issue(
                "GW-4308",
                f"categoryOptionCombo {dv.category_option_combo!r} cannot be unfolded into codes",
                _where(index, "categoryOptionCombo"),
            )
            values.append(dv)
        else:
            values.append(replace(dv, category_option_combo=None, category_options=pairs))
    out = replace(dvs, data_values=tuple(values))
    if dvs.attribute_option_combo:
        uid = snap.resolve("categoryOptionCombo", dvs.attribute_option_combo, chk.scheme("attributeOptionCombo"))
        pairs = unfold_combo(snap, uid) if uid else None
        if pairs is None:
            chk.issue(
                "GW-4311",
                f"attributeOptionCombo {dvs.attribute_option_combo!r} cannot be unfolded",
                "attributeOptionCombo",
            )
        else:
            out = replace(out, attribute_option_combo=None, attribute_options=pairs)
    return out, chk.outcome
