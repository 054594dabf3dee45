"""Resolution of canonicals for one request: inline ``tx-resource``s first, then the store."""

from __future__ import annotations

import copy
from typing import Any, Protocol

from terminology.codesystem import CodeSystemIndex, version_key, version_matches
from terminology.errors import TxError
from terminology.shape import check_shape


class Backend(Protocol):
    """What the store offers the engine (see :class:`terminology.store.StoreBackend`)."""

    def code_system_versions(self, url: str) -> list[str | None]: ...

    def code_system(self, url: str, version: str | None) -> CodeSystemIndex | None: ...

    def value_sets(self, url: str) -> list[dict[str, Any]]: ...

    def concept_maps(self) -> list[dict[str, Any]]: ...

    def supplements(self, url: str) -> list[dict[str, Any]]: ...


def split_canonical(ref: str) -> tuple[str, str | None]:
    url, sep, version = ref.partition("|")
    return url, (version if sep and version else None)


def pick_version(candidates: list[str | None], version: str | None) -> str | None | bool:
    """The best version for a request: exact, else wildcard match, else (no version asked) the latest.

    Returns False when nothing fits.
    """
    if not candidates:
        return False
    if version is None:
        return max(candidates, key=lambda v: version_key(v))
    if version in candidates:
        return version
    matching = [v for v in candidates if version_matches(version, v)]
    return max(matching, key=lambda v: version_key(v)) if matching else False


class Workspace:
    """Implements :class:`terminology.expand.Resolver` over inline resources and a backend."""

    def __init__(self, backend: Backend | None = None, inline: list[dict[str, Any]] | None = None) -> None:
        self.backend = backend
        self._cs: dict[str, list[CodeSystemIndex]] = {}
        self._supplements: list[dict[str, Any]] = []
        self._vs: dict[str, list[dict[str, Any]]] = {}
        self._cm: list[dict[str, Any]] = []
        self._cache: dict[tuple[str, str | None], CodeSystemIndex | None] = {}
        self.required_supplements: list[str] = []
        self.used_supplements: dict[str, None] = {}
        for resource in inline or []:
            self.add(resource)

    def require_supplements(self, refs: list[str]) -> None:
        """Supplements to merge into the code systems they supplement (4xx when one is unknown)."""
        for ref in refs:
            if self.supplement(ref) is None:
                raise TxError(
                    "GW-3405",
                    f"Required supplement not found: {ref}",
                    status=404,
                    issue_code="not-found",
                    tx_type="not-found",
                    message_id="VALUESET_SUPPLEMENT_MISSING",
                )
            if ref not in self.required_supplements:
                self.required_supplements.append(ref)
        self._cache.clear()

    def add(self, resource: dict[str, Any]) -> None:
        check_shape(resource)
        kind = resource.get("resourceType")
        url = resource.get("url")
        if kind == "CodeSystem" and resource.get("content") == "supplement":
            self._supplements.append(resource)
        elif kind == "CodeSystem" and url:
            self._cs.setdefault(url, []).append(CodeSystemIndex(resource))
        elif kind == "ValueSet" and url:
            self._vs.setdefault(url, []).append(resource)
        elif kind == "ConceptMap":
            self._cm.append(resource)

    # -- code systems -------------------------------------------------------------------------
    def code_system_versions(self, url: str) -> list[str]:
        return [v for v in self._versions(url) if v]

    def _versions(self, url: str) -> list[str | None]:
        inline = [cs.version for cs in self._cs.get(url, [])]
        stored = self.backend.code_system_versions(url) if self.backend else []
        return list(dict.fromkeys([*inline, *stored]))

    def code_system(self, url: str, version: str | None = None) -> CodeSystemIndex | None:
        if "|" in url:
            url, version = split_canonical(url)
        key = (url, version)
        if key not in self._cache:
            self._cache[key] = self._find_code_system(url, version)
        return self._cache[key]

    def _find_code_system(self, url: str, version: str | None) -> CodeSystemIndex | None:
        chosen = pick_version(self._versions(url), version)
        if chosen is False:
            return None
        found = next((cs for cs in self._cs.get(url, []) if cs.version == chosen), None)
        if found is None and self.backend is not None:
            found = self.backend.code_system(url, chosen)  # type: ignore[arg-type]
        if found is not None:
            found = self._supplemented(found)
        return found

    def _supplemented(self, cs: CodeSystemIndex) -> CodeSystemIndex:
        wanted = [
            s
            for s in (self.supplement(r) for r in self.required_supplements)
            if s is not None and split_canonical(s.get("supplements", ""))[0] == cs.url
        ]
        if not wanted:
            return cs
        merged = CodeSystemIndex(copy.deepcopy(cs.resource))
        for supplement in wanted:
            merged.apply_supplement(supplement)
            label = f"{supplement['url']}|{supplement['version']}" if supplement.get("version") else supplement["url"]
            self.used_supplements[label] = None
        return merged

    def with_supplements(self, cs: CodeSystemIndex, wanted: list[str]) -> CodeSystemIndex:
        """A copy of ``cs`` with the named supplements merged in (4xx if one is unknown)."""
        copy_cs = CodeSystemIndex(copy.deepcopy(cs.resource))
        for ref in wanted:
            supplement = self.supplement(ref)
            if supplement is None:
                raise TxError(
                    "GW-3405",
                    f"Required supplement not found: {ref}",
                    status=404,
                    issue_code="not-found",
                    tx_type="not-found",
                    message_id="VALUESET_SUPPLEMENT_MISSING",
                )
            copy_cs.apply_supplement(supplement)
        return copy_cs

    def supplement(self, ref: str) -> dict[str, Any] | None:
        url, version = split_canonical(ref)
        pool = [*self._supplements, *(self.backend.supplements(url) if self.backend else [])]
        for item in pool:
            if item.get("url") == url and version_matches(version, item.get("version")):
                return item
        return None

    def supplements_for(self, cs_url: str) -> list[dict[str, Any]]:
        pool = [*self._supplements, *(self.backend.supplements(cs_url) if self.backend else [])]
        return [s for s in pool if split_canonical(s.get("supplements", ""))[0] == cs_url]

    # -- value sets and maps --------------------------------------------------------------------
    def value_set(self, url: str, version: str | None = None) -> dict[str, Any] | None:
        if "|" in url:
            url, version = split_canonical(url)
        if url.endswith("?fhir_vs"):
            return self._implicit_value_set(url)
        pool = [*self._vs.get(url, []), *(self.backend.value_sets(url) if self.backend else [])]
        if not pool:
            return None
        chosen = pick_version([vs.get("version") for vs in pool], version)
        if chosen is False:
            return None
        return next(vs for vs in pool if vs.get("version") == chosen)

    def _implicit_value_set(self, url: str) -> dict[str, Any] | None:
        """``<code system url>?fhir_vs``: every code of that code system (FHIR implicit value set)."""
        system = url[: -len("?fhir_vs")]
        if self.code_system(system) is None:
            return None
        return {
            "resourceType": "ValueSet",
            "url": url,
            "status": "active",
            "compose": {"include": [{"system": system}]},
        }

    def value_set_versions(self, url: str) -> list[str]:
        pool = [*self._vs.get(url, []), *(self.backend.value_sets(url) if self.backend else [])]
        return [vs["version"] for vs in pool if vs.get("version")]

    def concept_maps(self) -> list[dict[str, Any]]:
        return [*self._cm, *(self.backend.concept_maps() if self.backend else [])]

    def search_codes(self, cs: CodeSystemIndex, text: str) -> list[str] | None:
        """Codes matching a text filter through the store's word index (None: not indexed, scan instead)."""
        store_id = getattr(cs, "store_id", None)
        search = getattr(self.backend, "search_codes", None)
        if store_id is None or search is None:
            return None
        return search(store_id, text, cs)  # type: ignore[no-any-return]
