"""DHIS2 aggregate data: dataValueSets (JSON, DXF2 XML, CSV) and ADX, mapped to FHIR MeasureReport (mADX).

Formats: ``dhis2.dvs+json``, ``dhis2.dvs+xml``, ``dhis2.dvs+csv``, ``dhis2.adx+xml``; profiles
``dhis2``, ``dhis2-adx`` and ``dhis2-measurereport`` = metadata pre-validation (see :mod:`adapters.dhis2.metadata`).

No idempotency key is derived: DHIS2 imports are upserts and a corrected resubmission of a monthly
report (same dataSet/period/org unit, new content) is legitimate, not a conflict.
"""

from __future__ import annotations

from typing import Any

from adapters.base import Format
from adapters.dhis2.adx_xml import AdxCodec
from adapters.dhis2.dvs_csv import DataValueSetCsvCodec
from adapters.dhis2.dvs_json import DataValueSetJsonCodec
from adapters.dhis2.dvs_xml import DataValueSetXmlCodec
from adapters.dhis2.measurereport import AdxMapper, DataValueSetMapper
from adapters.dhis2.model import AdxDocument, DataValue, DataValueSet, flatten

__all__ = [
    "AdxCodec",
    "AdxDocument",
    "DataValue",
    "DataValueSet",
    "DataValueSetCsvCodec",
    "DataValueSetJsonCodec",
    "DataValueSetXmlCodec",
    "flatten",
    "register",
]


def register(registry: Any) -> None:
    from adapters.dhis2.metadata import MetadataValidator

    validator = MetadataValidator()
    formats = (
        ("dhis2.dvs+json", DataValueSetJsonCodec(), "DHIS2 dataValueSets JSON (application/json)"),
        ("dhis2.dvs+xml", DataValueSetXmlCodec(), "DHIS2 dataValueSets DXF2 XML (application/xml)"),
        (
            "dhis2.dvs+csv",
            DataValueSetCsvCodec(),
            "DHIS2 dataValueSets CSV, version-proof header (application/csv)",
        ),
    )
    for format_id, codec, description in formats:
        registry.register(
            Format(
                format_id,
                codec,
                mapper=DataValueSetMapper(format_id),
                description=description,
            )
        )
    registry.register(
        Format(
            "dhis2.adx+xml",
            AdxCodec(),
            mapper=AdxMapper(),
            description="IHE ADX XML as DHIS2 reads it (application/adx+xml)",
        )
    )
    registry.register_profile(
        "dhis2",
        "dhis2.dvs+json",
        validator,
        "DHIS2 pre-validation of a JSON data value set against a metadata snapshot (periodType, COC, AOC, "
        "org unit, value type); snapshot from settings['dhis2_metadata'] or the bundled demo",
    )
    registry.register_profile("dhis2-adx", "dhis2.adx+xml", validator, "The same checks on an ADX message")
    registry.register_profile(
        "dhis2-measurereport", "fhir+json", validator, "The same checks on mADX MeasureReports (the FHIR pivot)"
    )
