"""Golden comparison with the 22 Microsoft FHIR-Converter bundles (prints per-type reproduction)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.hl7v2.conftest import golden_names
from tests.hl7v2.golden import DELIBERATE, Rule, compare_all, leaves, load_rules, missed, missed_report, report

# floors just under the figures reached (issue #4 asks >= 90 each); a mapping regression fails here
FLOORS = {"Patient": 93.0, "Encounter": 97.5, "Observation": 97.0, "Condition": 94.0, "AllergyIntolerance": 99.5,
          "Immunization": 99.5, "DiagnosticReport": 95.5, "ServiceRequest": 91.5,
          # not targets of issue #4, guarded against regressions all the same
          "Coverage": 98.5, "Account": 90.0, "RelatedPerson": 88.5, "Procedure": 62.0}  # fmt: skip


def test_golden_reproduction(samples_dir: Path) -> None:
    names = golden_names()
    assert len(names) == 22
    scores = compare_all(names)
    print("\n" + report(scores))
    for rtype, floor in FLOORS.items():
        matched, total, _, _ = scores[rtype]
        assert 100.0 * matched / total >= floor, (rtype, matched, total)


def test_missed_paths_account_for_the_gap(samples_dir: Path) -> None:
    """The missed-path report explains exactly the leaves the score says are missing."""
    names = golden_names()[:3]
    scores = compare_all(names)
    misses = missed(names, top=10_000)
    for rtype, (matched, total, _, _) in scores.items():
        assert sum(n for _, n in misses.get(rtype, [])) == total - matched, rtype
    assert "Patient:" in missed_report(misses)


def test_deliberate_rules_exclude_only_what_they_name() -> None:
    race = Rule("Patient", "US realm", 10, subtree=(("url", "us-core-race"),))
    narrative = Rule("Patient", "no narrative", 19, path="text.status", value="generated")
    extensions = [{"url": "us-core-race", "valueString": "x"}, {"url": "other", "valueString": "y"}]
    patient = {"resourceType": "Patient", "text": {"status": "generated"}, "gender": "female", "extension": extensions}
    got = dict(leaves(patient, rules=(race, narrative)))
    assert got["text.status"] == DELIBERATE and got["gender"] == '"female"'
    excluded = [leaf for leaf in leaves(patient, rules=(race, narrative)) if leaf[1] == DELIBERATE]
    assert len(excluded) == 3  # text.status + the race extension's url and value; "other" stays
    assert ("extension.url", '"other"') in list(leaves(patient, rules=(race,)))


def test_every_bundled_rule_has_a_reason_and_item() -> None:
    rules = load_rules()
    assert rules, "the deliberate/ folder holds rules"
    for per_type in rules.values():
        for rule in per_type:
            assert rule.reason and rule.item > 0 and (rule.subtree or rule.path)


def test_every_rule_names_an_item_of_the_document() -> None:
    document = (Path(__file__).with_name("deliberate_differences.md")).read_text(encoding="utf-8")
    items = {int(n) for n in re.findall(r"^(\d+)\. \*\*", document, re.M)}
    for per_type in load_rules().values():
        for rule in per_type:
            assert rule.item in items, (rule.resource, rule.item, rule.reason)


def test_a_rule_without_reason_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Patient.toml").write_text('[[rule]]\nitem = 1\npath = "gender"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="reason"):
        load_rules(tmp_path)
