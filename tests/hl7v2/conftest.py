"""Shared helpers for the HL7 v2 tests: the sample corpus location and message lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SHARED

SAMPLES = SHARED / "hl7v2-samples"
MS = SAMPLES / "ms-fhir-converter"


def corpus_files() -> list[Path]:
    return sorted(p for p in SAMPLES.rglob("*") if p.suffix in (".hl7", ".txt") and p.is_file())


def golden_names() -> list[str]:
    return sorted(p.stem for p in (MS / "hl7v2").glob("*.hl7"))


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"sample corpus not found at {SAMPLES}")
    return SAMPLES
