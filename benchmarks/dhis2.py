"""DHIS2 benchmark: 100,000 data values built, validated and serialized (JSON and ADX), and the four
indicators evaluated over 100,000 synthetic outpatient encounters. Prints seconds and values/s.

Run from the repository root: ``python benchmarks/dhis2.py [--values N] [--encounters N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from itertools import islice, product
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.base import MapContext  # noqa: E402
from adapters.dhis2.adx_xml import AdxCodec  # noqa: E402
from adapters.dhis2.dvs_json import DataValueSetJsonCodec  # noqa: E402
from adapters.dhis2.indicators import Index, available, evaluate, load_measure  # noqa: E402
from adapters.dhis2.metadata import demo_snapshot, unfold_option_combos, validate_data_value_set  # noqa: E402
from adapters.dhis2.model import DataValue, DataValueSet, to_adx_document  # noqa: E402
from tests.dhis2.synthetic import FACILITY_SYSTEM, generate  # noqa: E402


def timed(label: str, count: int, unit: str, work: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds:8.3f} s  {count / seconds:>12,.0f} {unit}/s")
    return result


def build(n: int) -> DataValueSet:
    """n valid values of the demo TB dataSet: 2 elements x 8 COCs x 3 puskesmas x monthly periods."""
    snap = demo_snapshot()
    cocs = snap.category_combos["CcSexAgeTb1"].cocs
    periods = (f"{y}{m:02d}" for y in range(1900, 2200) for m in range(1, 13))
    keys = product(periods, ("PkmPuter001", "PkmGaruda01", "PkmCibinon1"), ("DeTbNew0001", "DeTbBact001"), cocs)
    values = tuple(
        DataValue(
            de,
            period=pe,
            org_unit=ou,
            category_option_combo=coc,
            attribute_option_combo="CocFund0001",
            value=str(i % 97),
        )
        for i, (pe, ou, de, coc) in enumerate(islice(keys, n))
    )
    return DataValueSet(data_values=values, data_set="DsTbMonth01")


def adx_ready(dvs: DataValueSet) -> DataValueSet:
    """The same values with category codes instead of COC uids (ADX carries disaggregation as attributes)."""
    unfolded, outcome = unfold_option_combos(dvs, demo_snapshot())
    assert outcome.ok, outcome.issues[:3]
    return unfolded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--encounters", type=int, default=100_000)
    args = parser.parse_args()
    n = args.values
    print(f"DHIS2 benchmark ({n:,} data values, {args.encounters:,} encounters)")
    dvs = timed("build data value set", n, "values", lambda: build(n))
    outcome = timed(
        "validate against metadata snapshot", n, "values", lambda: validate_data_value_set(dvs, demo_snapshot())
    )
    assert outcome.ok, outcome.issues[:3]
    body = timed("serialize dataValueSets JSON", n, "values", lambda: DataValueSetJsonCodec().serialize(dvs))
    timed("parse dataValueSets JSON", n, "values", lambda: DataValueSetJsonCodec().parse(body))
    adx_set = timed("unfold COC uids into category codes", n, "values", lambda: adx_ready(dvs))
    adx = timed("serialize ADX (regroup + XML)", n, "values", lambda: AdxCodec().serialize(to_adx_document(adx_set)))
    timed("parse ADX (XSD-validated)", n, "values", lambda: AdxCodec().parse(adx))
    print(f"  JSON {len(body) / 1e6:.1f} MB, ADX {len(adx) / 1e6:.1f} MB")
    resources = generate(args.encounters)
    print(f"  synthetic facility data: {len(resources):,} FHIR resources")

    def indicators() -> int:
        total = 0
        index = Index.of(resources)
        for measure_id in sorted(available()):
            bundle = evaluate(load_measure(measure_id), index, "202401", MapContext(), facility_system=FACILITY_SYSTEM)
            total += sum(
                len(s.stratum or []) for r in bundle.entry for g in r.resource.group for s in g.stratifier or []
            )
        return total

    values = timed("evaluate 4 indicators over the encounters", args.encounters, "encounters", indicators)
    print(f"  indicator data values produced: {values}")


if __name__ == "__main__":
    main()
