"""Property: the pre-validator and the simulator (two implementations of the documented rules) agree.

A set the validator passes is imported by the simulator without conflict, and every value the
simulator rejects carries a validator issue.
"""

from __future__ import annotations

import json
import re

from hypothesis import event, given
from hypothesis import strategies as st

from adapters.dhis2.dvs_json import to_dict
from adapters.dhis2.metadata import demo_snapshot, validate_data_value_set
from adapters.dhis2.model import DataValue, DataValueSet
from bridge.simulators.dhis2 import create_app

SNAP = demo_snapshot()
ALL_COCS = sorted(SNAP.option_combos)
ALL_ELEMENTS = sorted(SNAP.data_elements)
ALL_UNITS = sorted(SNAP.org_units)


def pick(draw: st.DrawFn, good: list, bad: list) -> object:
    """Mostly a valid choice (5 in 6), sometimes anything from ``bad``."""
    return draw(st.sampled_from(good)) if draw(st.integers(0, 5)) else draw(st.sampled_from(bad))


@st.composite
def data_value_sets(draw: st.DrawFn) -> DataValueSet:
    ds = SNAP.data_sets[draw(st.sampled_from(sorted(SNAP.data_sets)))]
    own = [e for e, _ in ds.elements]
    aoc = pick(draw, list(SNAP.category_combos[ds.category_combo].cocs), [*ALL_COCS, None])
    if aoc == "HllvX50cXC0" and draw(st.booleans()):
        aoc = None  # the default AOC may be omitted
    values = []
    for _ in range(draw(st.integers(1, 4))):
        de = pick(draw, own, ALL_ELEMENTS)
        combo = SNAP.category_combos[SNAP.data_elements[de].category_combo]
        coc = pick(draw, list(combo.cocs), [*ALL_COCS, None])
        if SNAP.data_elements[de].value_type == "INTEGER_ZERO_OR_POSITIVE":
            value = pick(draw, ["0", "3", "12"], ["-1", "x", "", None, "1.5"])
        else:
            value = pick(draw, ["t", "false", "stok aman"], ["", None, "maybe"])
        values.append(DataValue(de, category_option_combo=coc, value=value))
    period = pick(
        draw,
        ["202401", "202402"] if ds.period_type == "Monthly" else ["2024Q1", "2024Q2"],
        ["2024Q3", "2024", "2024W3", "202405"],
    )
    return DataValueSet(
        data_values=tuple(values),
        data_set=ds.id,
        period=period,
        org_unit=pick(draw, sorted(ds.org_units), ALL_UNITS),
        attribute_option_combo=aoc,
    )


def _indexes(expressions: list[str]) -> set[int]:
    return {int(m.group(1)) for e in expressions if (m := re.match(r"dataValues\[(\d+)\]", e))}


@given(data_value_sets())
def test_validator_and_simulator_agree(dvs: DataValueSet) -> None:
    outcome = validate_data_value_set(dvs, SNAP)
    sim = create_app().test_client()
    resp = sim.post(
        "/api/dataValueSets",
        data=json.dumps(to_dict(dvs)),
        headers={
            "Authorization": "ApiToken d2pat_jembatanDemoToken0000000000000000",
            "Content-Type": "application/json",
        },
    )
    summary = resp.get_json()["response"]
    event(f"simulator status {summary['status']}")
    assert outcome.ok == (summary["status"] == "SUCCESS"), (outcome.issues, summary["conflicts"])
    if summary["status"] == "WARNING":
        flagged = _indexes([e for i in outcome.errors for e in i.expression])
        assert set(summary["rejectedIndexes"]) <= flagged
