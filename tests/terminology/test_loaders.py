"""Loaders on both databases: idempotent, versioned, hierarchy built, layout errors are clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.db import Database
from terminology import loaders
from terminology.errors import TxError
from terminology.service import TerminologyService

FIXTURES = Path(__file__).parent / "fixtures"


def test_bundled_load_is_idempotent(database: Database) -> None:
    first = loaders.load_bundled(database)
    again = loaders.load_bundled(database)
    assert first and all(r.changed for r in first) and not any(r.changed for r in again)
    svc = TerminologyService(database)
    assert svc.validate_code("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved") is True
    assert svc.display("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB") == "ambulatory"


def test_icd10_chapter_block_hierarchy(database: Database) -> None:
    result = loaders.load_icd10(database, limit_chapters=1)
    assert result.changed and result.concepts > 900
    assert not loaders.load_icd10(database, limit_chapters=1).changed
    svc = TerminologyService(database)
    ws = svc.workspace()
    cs = ws.code_system(loaders.ICD10_URL)
    assert cs is not None and cs.version == "2019"
    assert cs.subsumes("A00-A09", "A00.0") == "subsumes"
    assert cs.subsumes("I", "A00") == "subsumes"
    assert svc.display(loaders.ICD10_URL, "A00.0") == "Cholera due to Vibrio cholerae 01, biovar cholerae"


def test_csv_icd9_loinc_kfa_regions(database: Database) -> None:
    svc = TerminologyService(database)
    loaders.load_csv(database, FIXTURES / "simple.csv", "urn:test:simple", "1", "Simple")
    cs = svc.workspace().code_system("urn:test:simple")
    assert cs is not None and cs.subsumes("A", "A2") == "subsumes"
    loaders.load_icd9cm(database, FIXTURES / "icd9cm.csv", "2010")
    assert svc.workspace().code_system(loaders.ICD9CM_URL).subsumes("01", "01.01") == "subsumes"  # type: ignore[union-attr]
    loaders.load_loinc(database, FIXTURES, "2.77")
    assert svc.display(loaders.LOINC_URL, "33959-8") == "Procalcitonin [Mass/volume] in Serum or Plasma"
    loinc = svc.workspace().code_system(loaders.LOINC_URL)
    assert loinc is not None and loinc.get("99999-9").inactive  # type: ignore[union-attr]
    loaders.load_kfa(database, FIXTURES / "kfa-page-1.json", "2026-11")
    assert svc.display(loaders.KFA_URL, "91000329") == "Rifampicin"
    assert svc.validate_code(loaders.KFA_URL, "93001019") is True
    loaders.load_regions(database, FIXTURES / "wilayah.csv", "2024")
    regions = svc.workspace().code_system(loaders.REGIONS_URL)
    assert regions is not None and regions.subsumes("11", "1101012001") == "subsumes"


def test_layout_drift_gives_clear_errors(tmp_path: Path, database: Database) -> None:
    bad = tmp_path / "Loinc.csv"
    bad.write_text("LOINC,SOMETHING\n1-1,x\n")
    with pytest.raises(TxError, match="missing column"):
        loaders.load_loinc(database, bad, "3.0")
    regions = tmp_path / "w.csv"
    regions.write_text("kode,nama\n123,Bad\n")
    with pytest.raises(TxError, match="not 2, 4, 6 or 10 digits"):
        loaders.load_regions(database, regions, "x")
    kfa = tmp_path / "kfa.json"
    kfa.write_text('{"nothing": []}')
    with pytest.raises(TxError, match="no KFA items"):
        loaders.load_kfa(database, kfa, "x")


def test_full_release_supersedes_bundled_subset(database: Database) -> None:
    loaders.load_bundled(database)
    svc = TerminologyService(database)
    subset = svc.workspace().code_system(loaders.LOINC_URL)
    assert subset is not None and subset.content == "fragment" and svc.display(loaders.LOINC_URL, "8867-4")
    loaders.load_loinc(database, FIXTURES, "2.77")
    svc.backend.invalidate()
    latest = svc.workspace().code_system(loaders.LOINC_URL)
    assert latest is not None and latest.version == "2.77"


def test_protocol_cannot_reject_codes_of_a_fragment(database: Database) -> None:
    loaders.load_bundled(database)
    svc = TerminologyService(database)
    assert svc.validate_code("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB") is True
    assert svc.validate_code("http://terminology.hl7.org/CodeSystem/v3-ActCode", "NOT-IN-SUBSET") is None
    assert svc.validate_code("http://hl7.org/fhir/administrative-gender", "nope") is False
