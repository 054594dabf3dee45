"""The dhis2-core fixtures imported into the simulator set up like the upstream tests: same outcome codes."""

from __future__ import annotations

import pytest

from bridge.simulators.dhis2 import create_app
from tests.helpers import SHARED

SAMPLES = SHARED / "samples/dhis2/dhis2-core/dxf2-datavalueset"
AUTH = {"Authorization": "ApiToken d2pat_jembatanDemoToken0000000000000000"}
ELEMENTS = {
    "f7n9E0hX8qk": "NUMBER",
    "Ix2HsbDMLea": "NUMBER",
    "eY5ehpbEsB7": "NUMBER",
    "jH26dja2f30": "BOOLEAN",
    "jH26dja2f31": "TRUE_ONLY",
}
# what the dhis2-core integration tests create before importing (the Sierra Leone demo uids)
META = {
    "categoryOptions": [{"id": "xYerKDKCefk", "name": "default"}],
    "categories": [{"id": "GLevLNI9wkl", "name": "default", "categoryOptions": [{"id": "xYerKDKCefk"}]}],
    "categoryCombos": [
        {
            "id": "bjDvmb4bfuf",
            "name": "default",
            "isDefault": True,
            "categories": [{"id": "GLevLNI9wkl"}],
            "categoryOptionCombos": [{"id": "HllvX50cXC0"}],
        }
    ],
    "categoryOptionCombos": [
        {
            "id": "HllvX50cXC0",
            "name": "default",
            "categoryCombo": {"id": "bjDvmb4bfuf"},
            "categoryOptions": [{"id": "xYerKDKCefk"}],
        }
    ],
    "dataElements": [
        {"id": de, "valueType": vt, "categoryCombo": {"id": "bjDvmb4bfuf"}} for de, vt in ELEMENTS.items()
    ],
    "organisationUnits": [
        {"id": "DiszpKrYNg8", "path": "/DiszpKrYNg8"},
        {"id": "BdfsJfj87js", "path": "/BdfsJfj87js"},
        {"id": "j7Hg26FpoIa", "path": "/j7Hg26FpoIa"},
    ],
    "dataSets": [
        {
            "id": "pBOMPrpg1QX",
            "periodType": "Monthly",
            "categoryCombo": {"id": "bjDvmb4bfuf"},
            "dataSetElements": [{"dataElement": {"id": de}} for de in ELEMENTS],
            "organisationUnits": [{"id": "DiszpKrYNg8"}, {"id": "BdfsJfj87js"}],
        }
    ],
}
CASES = [
    # file, http, status, error codes that must appear, import count subset, rejected indexes (None = unchecked)
    ("dataValueSetA.xml", 200, "SUCCESS", set(), {"imported": 3}, []),
    ("dataValueSetB.xml", 200, "SUCCESS", set(), {"imported": 12}, []),
    ("dataValueSetB.csv", 200, "SUCCESS", set(), {"imported": 12}, []),
    ("dataValueSetD2.xml", 200, "SUCCESS", set(), {"imported": 3}, []),
    ("dataValueSetANull.xml", 200, "WARNING", {"E8121"}, {"imported": 1, "ignored": 2}, None),
    ("dataValueSetBooleanTest.csv", 200, "WARNING", {"E8120"}, {"imported": 14, "ignored": 4}, [10, 11, 16, 17]),
    ("dataValueSetBooleanDuplicatesTest.csv", 409, "ERROR", {"E8128"}, {"imported": 0}, list(range(18))),
    ("dataValueSetG.xml", 409, "ERROR", {"E8020"}, {"imported": 0}, None),
    ("dataValueSetE.xml", 409, "ERROR", {"E8022"}, {"imported": 0}, None),
    ("dataValueSetIllegalOrgUnit.xml", 409, "ERROR", {"E8022"}, {"imported": 0}, None),
    ("dataValueSetNonStrict.xml", 409, "ERROR", {"E8021"}, {"imported": 0}, None),
]


@pytest.mark.parametrize(("name", "http", "status", "codes", "counts", "rejected"), CASES, ids=[c[0] for c in CASES])
def test_fixture_import_outcome(
    name: str, http: int, status: str, codes: set[str], counts: dict[str, int], rejected: list[int] | None
) -> None:
    client = create_app({"METADATA": META}).test_client()
    ctype = "application/csv" if name.endswith(".csv") else "application/xml"
    resp = client.post(
        "/api/dataValueSets", data=(SAMPLES / name).read_bytes(), headers={**AUTH, "Content-Type": ctype}
    )
    summary = resp.get_json()["response"]
    assert (resp.status_code, summary["status"]) == (http, status), summary
    assert codes <= {c["errorCode"] for c in summary["conflicts"]}
    assert counts.items() <= summary["importCount"].items()
    if rejected is not None:
        assert summary["rejectedIndexes"] == rejected


def test_headerless_csv_is_refused() -> None:
    client = create_app({"METADATA": META}).test_client()
    resp = client.post(
        "/api/dataValueSets",
        data=(SAMPLES / "dataValueSetBNoHeader.csv").read_bytes(),
        headers={**AUTH, "Content-Type": "application/csv"},
    )
    assert resp.status_code == 400 and "header" in resp.get_json()["message"]


def test_delete_flags_and_strategy() -> None:
    client = create_app({"METADATA": META}).test_client()
    post = {"headers": {**AUTH, "Content-Type": "application/xml"}}
    base = SAMPLES.parent / "datavalueset"
    client.post("/api/dataValueSets", data=(SAMPLES / "dataValueSetB.xml").read_bytes(), **post)
    summary = client.post(
        "/api/dataValueSets", data=(base / "dataValueSetBDeleted.xml").read_bytes(), **post
    ).get_json()["response"]
    assert summary["importCount"]["deleted"] == 4
    summary = client.post(
        "/api/dataValueSets?importStrategy=DELETE", data=(SAMPLES / "dataValueSetB.xml").read_bytes(), **post
    ).get_json()["response"]
    assert summary["importCount"]["deleted"] == 8
