"""Store on SQLite and PostgreSQL: versions, idempotent saves, concept rows and the word index."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.db import Database
from terminology.codesystem import CodeSystemIndex
from terminology.params import Params
from terminology.service import TerminologyService
from terminology.store import Store, WordIndex
from terminology.text import words_of


def cs(version: str, display: str = "Alpha") -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "url": "urn:test:cs",
        "version": version,
        "name": "T",
        "status": "active",
        "content": "complete",
        "concept": [
            {"code": "A", "display": display, "concept": [{"code": "A1", "display": "Alpha one"}]},
            {"code": "B", "display": "Beta blocker"},
        ],
    }


def test_save_is_idempotent_and_versioned(database: Database) -> None:
    with database.session() as session:
        store = Store(session)
        row1, changed1 = store.save(cs("1.0"))
        _, again = store.save(cs("1.0"))
        row2, changed2 = store.save(cs("2.0", "Alpha v2"))
        assert (changed1, again, changed2) == (True, False, True)
        assert row1.id != row2.id and row1.concept_count == 3
        total, rows = store.search("CodeSystem", {"url": "urn:test:cs"})
        assert total == 2 and {r.version for r in rows} == {"1.0", "2.0"}


def test_latest_version_is_default_and_pinning_works(database: Database) -> None:
    with database.session() as session:
        Store(session).save(cs("1.0"))
        Store(session).save(cs("1.10", "Alpha 1.10"))
        Store(session).save(cs("1.9", "Alpha 1.9"))
    svc = TerminologyService(database)
    assert svc.display("urn:test:cs", "A") == "Alpha 1.10"
    assert svc.validate_code("urn:test:cs", "A1") is True
    assert svc.validate_code("urn:test:cs", "Z") is False
    assert svc.validate_code("urn:unknown", "A") is None
    out = svc.lookup(
        Params.from_resource(
            {
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "system", "valueUri": "urn:test:cs"},
                    {"name": "code", "valueCode": "A"},
                    {"name": "version", "valueString": "1.0"},
                ],
            }
        )
    )
    assert {"name": "display", "valueString": "Alpha"} in out["parameter"]


def test_word_index_prefix_search(database: Database) -> None:
    with database.session() as session:
        row, _ = Store(session).save(cs("1.0"))
        store = Store(session)
        assert sorted(store.search_words(row.id, "alp")) == ["A", "A1"]
        assert store.search_words(row.id, "alpha on") == ["A1"]
        assert store.search_words(row.id, "beta block") == ["B"]
        assert store.search_words(row.id, "zzz") == []


def test_in_memory_word_index_agrees_with_the_stored_one(database: Database) -> None:
    """The served path searches a per-process index of the cached code system; same answers as SQL."""
    resource = cs("1.0")
    resource["concept"].append({"code": "C9", "display": "Alphabet soup", "designation": [{"value": "Sop huruf"}]})
    with database.session() as session:
        row, _ = Store(session).save(resource)
        store = Store(session)
        index = WordIndex(CodeSystemIndex(resource))
        for text in ("alp", "alpha on", "beta block", "zzz", "sop", "c9", "a", "HURUF alph"):
            assert index.search(words_of(text)) == sorted(store.search_words(row.id, text)), text


def test_update_replaces_concepts_and_delete_cascades(database: Database) -> None:
    with database.session() as session:
        store = Store(session)
        row, _ = store.save(cs("1.0"))
        changed = cs("1.0")
        changed["concept"] = [{"code": "C", "display": "Gamma"}]
        row2, did = store.save(changed)
        assert did and row2.id == row.id and row2.concept_count == 1
        assert store.search_words(row.id, "alpha") == []
        store.delete("CodeSystem", row.fhir_id)
        assert store.get("CodeSystem", row.fhir_id) is None


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"resourceType": "Patient"},
        {"resourceType": "CodeSystem", "url": 5},
        {"resourceType": "CodeSystem", "id": "bad id!"},
    ],
)
def test_bad_resources_are_refused(database: Database, bad: Any) -> None:
    from terminology.errors import TxError

    with database.session() as session, pytest.raises(TxError):
        Store(session).save(bad)
