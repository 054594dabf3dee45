"""Persistence of terminology resources (CRUD, search, concept rows, word index) and the cached backend."""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from cachetools import TTLCache
from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from bridge.models import compress, decompress
from terminology.codesystem import CodeSystemIndex, version_key
from terminology.errors import invalid, not_found
from terminology.models import TxConcept, TxConceptWord, TxResource
from terminology.shape import check_shape
from terminology.text import words_of

RESOURCE_TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
SEARCH_PARAMS = ("url", "version", "name", "title", "status", "_id")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def digest_of(resource: dict[str, Any]) -> str:
    body = {k: v for k, v in resource.items() if k not in ("meta", "id", "text")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sortable_version(version: str | None) -> str:
    parts = []
    for item in version_key(version):
        kind, number, text = item
        parts.append(f"{kind}{number:012d}{text}")
    return ".".join(parts)[:400]


def check_resource(resource: Any, expected_type: str | None = None) -> dict[str, Any]:
    if not isinstance(resource, dict):
        raise invalid("the body must be a JSON object")
    kind = resource.get("resourceType")
    if kind not in RESOURCE_TYPES or (expected_type and kind != expected_type):
        raise invalid(f"expected a {expected_type or ' / '.join(RESOURCE_TYPES)} resource, got {kind!r}")
    if resource.get("id") is not None and not (isinstance(resource["id"], str) and _ID.match(resource["id"])):
        raise invalid("resource id must match [A-Za-z0-9-.]{1,64}")
    for key in ("url", "version", "name", "title", "status"):
        if resource.get(key) is not None and not isinstance(resource[key], str):
            raise invalid(f"'{key}' must be a string")
    return check_shape(resource)


def to_resource(row: TxResource) -> dict[str, Any]:
    data = json.loads(decompress(row.resource_z) or b"{}")
    data["id"] = row.fhir_id
    data["meta"] = {**data.get("meta", {}), "versionId": str(row.version_id), "lastUpdated": row.updated_at.isoformat()}
    return data  # type: ignore[no-any-return]


class Store:
    """CRUD over :class:`TxResource` within a caller-provided session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, resource_type: str, fhir_id: str) -> TxResource | None:
        return self.session.scalar(
            select(TxResource).where(TxResource.resource_type == resource_type, TxResource.fhir_id == fhir_id)
        )

    def find(self, resource_type: str, url: str, version: str | None) -> TxResource | None:
        stmt = select(TxResource).where(TxResource.resource_type == resource_type, TxResource.url == url)
        stmt = stmt.where(TxResource.version == version) if version else stmt.where(TxResource.version.is_(None))
        return self.session.scalars(stmt).first()

    def save(self, resource: dict[str, Any], fhir_id: str | None = None) -> tuple[TxResource, bool]:
        """Create or update; the same url+version (or id) with the same content changes nothing.

        Returns ``(row, changed)``.
        """
        resource = check_resource(resource)
        kind = resource["resourceType"]
        fhir_id = fhir_id or resource.get("id")
        row = self.get(kind, fhir_id) if fhir_id else None
        if row is None and resource.get("url"):
            row = self.find(kind, resource["url"], resource.get("version"))
        digest = digest_of(resource)
        if row is not None and row.digest == digest:
            return row, False
        if row is None:
            row = TxResource(resource_type=kind, fhir_id=fhir_id or uuid.uuid4().hex[:32], version_id=0)
            self.session.add(row)
        self._fill(row, resource, digest)
        self.session.flush()
        if kind == "CodeSystem":
            self._index_concepts(row, resource)
        return row, True

    @staticmethod
    def _fill(row: TxResource, resource: dict[str, Any], digest: str) -> None:
        body = {k: v for k, v in resource.items() if k != "meta"}
        body["id"] = row.fhir_id
        row.url = resource.get("url")
        row.version = resource.get("version")
        row.version_key = sortable_version(resource.get("version"))
        row.name = (resource.get("name") or "")[:300] or None
        row.title = (resource.get("title") or "")[:500] or None
        row.status = resource.get("status")
        row.content = resource.get("content")
        row.digest = digest
        row.version_id = (row.version_id or 0) + 1
        row.resource_z = compress(json.dumps(body, separators=(",", ":")).encode()) or b""

    def _index_concepts(self, row: TxResource, resource: dict[str, Any]) -> None:
        self.session.execute(delete(TxConceptWord).where(TxConceptWord.resource_id == row.id))
        self.session.execute(delete(TxConcept).where(TxConcept.resource_id == row.id))
        index = CodeSystemIndex(resource)
        concepts = []
        for concept in index:
            concepts.append(
                TxConcept(
                    resource_id=row.id,
                    code=concept.code[:200],
                    display=concept.display,
                    inactive=concept.inactive,
                    abstract=concept.abstract,
                    parents=list(concept.parents),
                    data={
                        "definition": concept.definition,
                        "designation": concept.designations,
                        "property": concept.properties,
                    },
                )
            )
        self.session.add_all(concepts)
        self.session.flush()
        words: list[TxConceptWord] = []
        for item in concepts:
            texts = [item.code, item.display, *(d.get("value") for d in item.data["designation"])]
            words.extend(TxConceptWord(resource_id=row.id, concept_id=item.id, word=w) for w in words_of(*texts))
        self.session.add_all(words)
        row.concept_count = len(concepts)

    def delete(self, resource_type: str, fhir_id: str) -> None:
        row = self.get(resource_type, fhir_id)
        if row is None:
            raise not_found(f"{resource_type}/{fhir_id} is not known")
        self.session.execute(delete(TxConceptWord).where(TxConceptWord.resource_id == row.id))
        self.session.execute(delete(TxConcept).where(TxConcept.resource_id == row.id))
        self.session.delete(row)

    def search(
        self, resource_type: str, criteria: dict[str, str], count: int = 50, offset: int = 0
    ) -> tuple[int, list[TxResource]]:
        stmt = select(TxResource).where(TxResource.resource_type == resource_type)
        columns = {
            "url": TxResource.url,
            "version": TxResource.version,
            "status": TxResource.status,
            "_id": TxResource.fhir_id,
        }
        for key, value in criteria.items():
            if key in columns:
                stmt = stmt.where(columns[key] == value)
            elif key in ("name", "title"):
                column = TxResource.name if key == "name" else TxResource.title
                stmt = stmt.where(func.lower(column).like(_escape_like(value.lower()) + "%", escape="\\"))
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(
            stmt.order_by(TxResource.url, TxResource.version_key, TxResource.id).offset(offset).limit(count)
        ).all()
        return total, list(rows)

    def rows(self, resource_type: str, url: str | None = None) -> Iterator[TxResource]:
        stmt = select(TxResource).where(TxResource.resource_type == resource_type)
        if url is not None:
            stmt = stmt.where(TxResource.url == url)
        yield from self.session.scalars(stmt)

    def search_words(self, resource_id: int, text: str, limit: int = 1000) -> list[str]:
        """Codes whose words start with every word of ``text`` (indexed range scan per word)."""
        terms = sorted(words_of(text), key=len, reverse=True)
        if not terms:
            return []
        ids: set[int] | None = None
        for term in terms:
            upper = term[:-1] + chr(ord(term[-1]) + 1)
            stmt = select(TxConceptWord.concept_id).where(
                and_(TxConceptWord.resource_id == resource_id, TxConceptWord.word >= term, TxConceptWord.word < upper)
            )
            found = set(self.session.scalars(stmt))
            ids = found if ids is None else ids & found
            if not ids:
                return []
        chosen = sorted(ids or [])[:limit]
        return list(self.session.scalars(select(TxConcept.code).where(TxConcept.id.in_(chosen))))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class StoreBackend:
    """The engine's view of the store, with a per-process cache of parsed code systems.

    Parsed :class:`CodeSystemIndex` objects are kept per row id and digest, so a stored code system
    is parsed once per process; a changed row (new digest) is parsed again.
    """

    _lock = threading.Lock()

    def __init__(self, session_factory: Any, cache: dict[Any, Any], meta_ttl: float = 2.0) -> None:
        self.session_factory = session_factory
        self.cache = cache
        self.meta_cache: TTLCache[Any, Any] = TTLCache(maxsize=4096, ttl=meta_ttl)

    def invalidate(self) -> None:
        """Forget cached metadata (called after every write through this process)."""
        self.meta_cache.clear()

    def _with_session(self) -> Any:
        return self.session_factory()

    def _meta(self, resource_type: str, url: str) -> list[tuple[int, str | None, str]]:
        """(row id, version, digest) per stored version; cached briefly (writes here clear it at once)."""
        key = ("meta", resource_type, url)
        hit = self.meta_cache.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        with self._with_session() as session:
            stmt = select(TxResource.id, TxResource.version, TxResource.digest).where(
                TxResource.resource_type == resource_type, TxResource.url == url
            )
            found = [(r[0], r[1], r[2]) for r in session.execute(stmt)]
        self.meta_cache[key] = found
        return found

    def _load(self, row_id: int, digest: str) -> dict[str, Any]:
        key = ("res", row_id, digest)
        cached = self.cache.get(key)
        if cached is None:
            with self._with_session() as session:
                row = session.get(TxResource, row_id)
                cached = to_resource(row) if row is not None else {}
            self.cache[key] = cached
        return cached  # type: ignore[no-any-return]

    def code_system_versions(self, url: str) -> list[str | None]:
        return [v for _, v, _ in self._meta("CodeSystem", url)]

    def code_system(self, url: str, version: str | None) -> CodeSystemIndex | None:
        for row_id, row_version, digest in self._meta("CodeSystem", url):
            if row_version == version:
                key = ("cs", row_id, digest)
                index = self.cache.get(key)
                if index is None:
                    index = CodeSystemIndex(self._load(row_id, digest))
                    index.store_id = row_id  # type: ignore[attr-defined]
                    self.cache[key] = index
                return index  # type: ignore[no-any-return]
        return None

    def value_sets(self, url: str) -> list[dict[str, Any]]:
        return [self._load(i, d) for i, _, d in self._meta("ValueSet", url)]

    def concept_maps(self) -> list[dict[str, Any]]:
        rows = self.meta_cache.get(("maps",))
        if rows is None:
            with self._with_session() as session:
                stmt = select(TxResource.id, TxResource.digest).where(TxResource.resource_type == "ConceptMap")
                rows = [(r[0], r[1]) for r in session.execute(stmt)]
            self.meta_cache[("maps",)] = rows
        return [self._load(i, d) for i, d in rows]

    def supplements(self, url: str) -> list[dict[str, Any]]:
        return [
            r
            for r in (self._load(i, d) for i, _, d in self._meta("CodeSystem", url))
            if r.get("content") == "supplement"
        ]

    def search_codes(self, store_id: int, text: str, cs: CodeSystemIndex | None = None) -> list[str] | None:
        """Codes whose words start with every word of ``text``: from an in-memory word index kept
        on the cached :class:`CodeSystemIndex` (built once per process and code system version),
        or from the store's word table when no parsed code system is at hand."""
        terms = words_of(text)
        if not terms:
            return None
        if cs is not None:
            return _word_index(cs).search(terms)
        with self._with_session() as session:
            return Store(session).search_words(store_id, text, limit=100000)


class WordIndex:
    """Sorted words of a code system's codes, displays and designations, for prefix search."""

    def __init__(self, cs: CodeSystemIndex) -> None:
        postings: dict[str, list[int]] = {}
        self.codes: list[str] = []
        for rank, concept in enumerate(cs.concepts.values()):
            self.codes.append(concept.code)
            texts = [concept.code, concept.display, *(d.get("value") for d in concept.designations)]
            for word in words_of(*texts):
                postings.setdefault(word, []).append(rank)
        self.words = sorted(postings)
        self.postings = [postings[w] for w in self.words]

    def _matching(self, term: str) -> set[int]:
        found: set[int] = set()
        index = bisect.bisect_left(self.words, term)
        while index < len(self.words) and self.words[index].startswith(term):
            found.update(self.postings[index])
            index += 1
        return found

    def search(self, terms: set[str]) -> list[str]:
        ranks: set[int] | None = None
        for term in sorted(terms, key=len, reverse=True):
            found = self._matching(term)
            ranks = found if ranks is None else ranks & found
            if not ranks:
                return []
        return [self.codes[r] for r in sorted(ranks or ())]


_WORD_INDEX_LOCK = threading.Lock()


def _word_index(cs: CodeSystemIndex) -> WordIndex:
    index: WordIndex | None = getattr(cs, "word_index", None)
    if index is None:
        with _WORD_INDEX_LOCK:
            index = getattr(cs, "word_index", None) or WordIndex(cs)
            cs.word_index = index  # type: ignore[attr-defined]
    return index
