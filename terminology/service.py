"""TerminologyService: the operations over the store plus request-scoped ``tx-resource``s.

``TerminologyService(database)`` is what the REST API and the rest of the gateway call
(``MapContext.terminology``): :meth:`validate_code` and :meth:`display` are the tiny protocol the
mappers use; the FHIR operations take :class:`Params` and return FHIR JSON dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cachetools import LRUCache

from terminology import operations
from terminology.params import Params
from terminology.store import StoreBackend
from terminology.workspace import Workspace

Operation = Callable[[Workspace, Params], dict[str, Any]]


class TerminologyService:
    def __init__(self, database: Any, *, expansion_limit: int = operations.DEFAULT_LIMIT) -> None:
        factory = database.session if hasattr(database, "session") else database
        self.session_factory = factory
        self.cache: dict[Any, Any] = LRUCache(maxsize=256)  # type: ignore[assignment]
        self.backend = StoreBackend(factory, self.cache)
        self.expansion_limit = expansion_limit

    def workspace(self, inline: list[dict[str, Any]] | None = None) -> Workspace:
        return Workspace(self.backend, inline)

    def _run(self, op: Operation, params: Params) -> dict[str, Any]:
        return op(self.workspace(params.resources("tx-resource")), params)

    # -- FHIR operations ------------------------------------------------------------------------
    def lookup(self, params: Params) -> dict[str, Any]:
        return self._run(operations.lookup, params)

    def subsumes(self, params: Params) -> dict[str, Any]:
        return self._run(operations.subsumes, params)

    def _limit(self, params: Params) -> int:
        asked = params.int("_limit")
        return min(asked, self.expansion_limit) if asked else self.expansion_limit

    def expand(self, params: Params) -> dict[str, Any]:
        ws = self.workspace(params.resources("tx-resource"))
        return operations.expand(ws, params, self._limit(params))

    def validate_code_vs(self, params: Params) -> dict[str, Any]:
        ws = self.workspace(params.resources("tx-resource"))
        return operations.validate_code_vs(ws, params, self._limit(params))

    def validate_code_cs(self, params: Params) -> dict[str, Any]:
        return self._run(operations.validate_code_cs, params)

    def translate(self, params: Params) -> dict[str, Any]:
        return self._run(operations.translate, params)

    # -- the protocol mappers use ---------------------------------------------------------------
    def validate_code(self, system: str, code: str, version: str | None = None) -> bool | None:
        """True/False whether ``code`` is in the code system; None when the system is unknown (or the code is
        missing from a code system we only hold a fragment of)."""
        cs = self.workspace().code_system(system, version)
        if cs is None:
            return None
        if cs.get(code) is not None:
            return True
        return False if cs.content == "complete" else None  # a fragment cannot prove a code wrong

    def display(self, system: str, code: str) -> str | None:
        cs = self.workspace().code_system(system)
        concept = cs.get(code) if cs else None
        return concept.display if concept else None
