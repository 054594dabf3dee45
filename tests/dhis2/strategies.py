"""Hypothesis strategies for DHIS2 data value sets, one domain per codec (what each format can carry)."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from adapters.dhis2.model import AdxDocument, DataValue, DataValueSet
from adapters.dhis2.periods import FINANCIAL_TYPES, WEEKLY_TYPES

UID = st.from_regex(r"[A-Za-z][A-Za-z0-9]{10}", fullmatch=True)
NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9 _]{0,10}[A-Za-z0-9]", fullmatch=True)
IDENT = UID | NAME
NCNAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: (
        s
        not in {
            "dataElement",
            "value",
            "comment",
            "followup",
            "deleted",
            "storedBy",
            "created",
            "lastUpdated",
            "categoryOptionCombo",
            "orgUnit",
            "period",
            "dataSet",
            "completeDate",
            "attributeOptionCombo",
        }
    )
)
TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co", "Zl", "Zp", "Zs")) | st.sampled_from(" \n\t"),
    max_size=15,
)
NONEMPTY = TEXT.filter(lambda s: s != "")
NUMERIC = st.from_regex(r"-?(0|[1-9][0-9]{0,6})(\.[0-9]{1,3})?", fullmatch=True)
VALUE = NUMERIC | TEXT
BOOL = st.none() | st.booleans()
STAMP = st.none() | st.sampled_from(["2024-02-01T10:00:00.000+0000", "2012-01-01", "1988-12-21T23:59:38.000"])


@st.composite
def periods(draw: st.DrawFn) -> str:
    year = draw(st.integers(2000, 2030))
    kind = draw(
        st.sampled_from(
            [
                "Daily",
                "Weekly",
                "BiWeekly",
                "Monthly",
                "BiMonthly",
                "Quarterly",
                "QuarterlyNov",
                "SixMonthly",
                "SixMonthlyApril",
                "SixMonthlyNov",
                "Yearly",
                "Financial",
            ]
        )
    )
    if kind == "Daily":
        return draw(st.dates(date(2000, 1, 1), date(2030, 12, 31))).strftime("%Y%m%d")
    if kind == "Weekly":
        return f"{year}{draw(st.sampled_from([i for i, _ in WEEKLY_TYPES.values()]))}W{draw(st.integers(1, 52))}"
    simple = {
        "BiWeekly": lambda: f"{year}BiW{draw(st.integers(1, 26))}",
        "Monthly": lambda: f"{year}{draw(st.integers(1, 12)):02d}",
        "BiMonthly": lambda: f"{year}{draw(st.sampled_from([1, 3, 5, 7, 9, 11])):02d}B",
        "Quarterly": lambda: f"{year}Q{draw(st.integers(1, 4))}",
        "QuarterlyNov": lambda: f"{year}NovQ{draw(st.integers(1, 4))}",
        "SixMonthly": lambda: f"{year}S{draw(st.integers(1, 2))}",
        "SixMonthlyApril": lambda: f"{year}AprilS{draw(st.integers(1, 2))}",
        "SixMonthlyNov": lambda: f"{year}NovS{draw(st.integers(1, 2))}",
        "Yearly": lambda: str(year),
        "Financial": lambda: f"{year}{draw(st.sampled_from([s for s, _ in FINANCIAL_TYPES.values()]))}",
    }
    return simple[kind]()


def pairs(names: st.SearchStrategy[str] = NCNAME) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    return st.lists(st.tuples(names, IDENT), min_size=1, max_size=3, unique_by=lambda p: p[0]).map(tuple)


@st.composite
def data_values(
    draw: st.DrawFn,
    *,
    keyed: bool,
    pairs_ok: bool,
    text: st.SearchStrategy[str | None] = TEXT,
    value: st.SearchStrategy[str | None] = VALUE,
    created: bool = True,
) -> DataValue:
    disagg = draw(st.sampled_from(["none", "coc", "pairs"] if pairs_ok else ["none", "coc"]))
    opt_text = st.none() | text
    return DataValue(
        data_element=draw(IDENT),
        period=draw(periods()) if keyed else None,
        org_unit=draw(IDENT) if keyed else None,
        category_option_combo=draw(IDENT) if disagg == "coc" else None,
        category_options=draw(pairs()) if disagg == "pairs" else (),
        attribute_option_combo=draw(st.none() | UID) if keyed else None,
        value=draw(st.none() | value),
        stored_by=draw(opt_text),
        created=draw(STAMP) if created else None,
        last_updated=draw(STAMP),
        comment=draw(opt_text),
        follow_up=draw(BOOL),
        deleted=draw(BOOL),
    )


@st.composite
def json_sets(draw: st.DrawFn) -> DataValueSet:
    """Anything the JSON codec carries (group-level or bulk, COC ids or category pairs)."""
    group = draw(st.booleans())
    values = draw(st.lists(data_values(keyed=not group, pairs_ok=True), max_size=6))
    aoc_pairs = draw(st.booleans()) and group
    return DataValueSet(
        data_values=tuple(values),
        data_set=draw(st.none() | IDENT),
        complete_date=draw(st.none() | st.just("2024-02-05")),
        period=draw(periods()) if group else None,
        org_unit=draw(IDENT) if group else None,
        attribute_option_combo=draw(st.none() | UID) if group and not aoc_pairs else None,
        attribute_options=draw(pairs()) if aoc_pairs else (),
        attribute_category_options=draw(st.none() | st.lists(UID, max_size=2).map(tuple)),
        id_schemes=draw(
            st.sampled_from([(), (("idScheme", "code"),), (("orgUnitIdScheme", "attribute:KodeFaskes1"),)])
        ),
        dry_run=draw(BOOL),
        strategy=draw(st.none() | st.sampled_from(["CREATE_AND_UPDATE", "DELETE"])),
    )


@st.composite
def xml_sets(draw: st.DrawFn) -> DataValueSet:
    group = draw(st.booleans())
    values = draw(st.lists(data_values(keyed=not group, pairs_ok=False), max_size=6))
    return DataValueSet(
        data_values=tuple(values),
        data_set=draw(st.none() | IDENT),
        complete_date=draw(st.none() | st.just("2024-02-05")),
        period=draw(periods()) if group else None,
        org_unit=draw(IDENT) if group else None,
        attribute_option_combo=draw(st.none() | UID) if group else None,
        attribute_category_options=draw(st.none() | st.lists(UID, max_size=2).map(tuple)),
        id_schemes=draw(st.sampled_from([(), (("dataElementIdScheme", "code"),)])),
        dry_run=draw(BOOL),
        strategy=draw(st.none() | st.just("UPDATE")),
    )


@st.composite
def csv_sets(draw: st.DrawFn) -> DataValueSet:
    """CSV: bulk rows, COC ids, no empty strings (an empty cell reads as absent), no created."""
    values = draw(
        st.lists(
            data_values(keyed=True, pairs_ok=False, text=NONEMPTY, value=NUMERIC | NONEMPTY, created=False), max_size=6
        )
    )
    return DataValueSet(data_values=tuple(values))


@st.composite
def adx_groups(draw: st.DrawFn) -> DataValueSet:
    values = draw(
        st.lists(data_values(keyed=False, pairs_ok=True, value=VALUE).filter(lambda v: v.value is not None), max_size=5)
    )
    return DataValueSet(
        data_values=tuple(values),
        data_set=draw(st.none() | IDENT),
        complete_date=draw(st.none() | st.just("2024-02-05")),
        period=draw(periods()),
        org_unit=draw(IDENT),
        attribute_option_combo=draw(st.none() | UID),
        attribute_options=draw(st.just(()) | pairs()),
    )


adx_documents = st.builds(
    AdxDocument,
    groups=st.lists(adx_groups(), max_size=3).map(tuple),
    exported=st.none() | st.just("2024-02-08T19:30:00Z"),
)


@st.composite
def common_sets(draw: st.DrawFn) -> DataValueSet:
    """What all four formats carry: group keys, COC ids, numeric values, comments, follow-up."""
    values = draw(
        st.lists(
            st.builds(
                DataValue,
                data_element=UID,
                category_option_combo=st.none() | UID,
                value=NUMERIC,
                comment=st.none() | NONEMPTY,
                follow_up=BOOL,
            ),
            max_size=6,
        )
    )
    return DataValueSet(
        data_values=tuple(values),
        data_set=draw(UID),
        period=draw(periods()),
        org_unit=draw(UID),
        attribute_option_combo=draw(st.none() | UID),
    )
