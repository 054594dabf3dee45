"""FHIR ``Parameters`` in and out: a small reader over either a Parameters resource or query args."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bridge.errors import TerminologyError

MAX_PARAMETERS = 2000
_BOOL = {"true": True, "false": False}


def bad(message: str, code: str = "GW-3001", status: int = 400) -> TerminologyError:
    return TerminologyError(code, message, status=status)


def value_of(param: Mapping[str, Any]) -> Any:
    """The ``value[x]`` of a parameter (or None)."""
    for key, value in param.items():
        if key.startswith("value"):
            return value
    return None


class Params:
    """Read access to operation parameters, whatever form (POST Parameters or GET query) they came in."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        if len(entries) > MAX_PARAMETERS:
            raise bad("too many parameters", status=413)
        self.entries = entries

    @classmethod
    def from_resource(cls, body: Any) -> Params:
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise bad("the request body must be a FHIR Parameters resource")
        entries = body.get("parameter", [])
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str) for e in entries
        ):
            raise bad("malformed Parameters: each parameter needs a name")
        return cls(list(entries))

    @classmethod
    def from_query(cls, args: Iterable[tuple[str, str]]) -> Params:
        return cls([{"name": k, "valueString": v} for k, v in args])

    def all(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e.get("name") == name]

    def has(self, *names: str) -> bool:
        return any(self.all(n) for n in names)

    def values(self, name: str) -> list[Any]:
        return [v for v in (value_of(e) for e in self.all(name)) if v is not None]

    def text(self, *names: str) -> str | None:
        for name in names:
            for value in self.values(name):
                if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                    return str(value)
                raise bad(f"parameter '{name}' must be a primitive value")
        return None

    def bool(self, name: str, default: bool | None = None) -> bool | None:
        for value in self.values(name):
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in _BOOL:
                return _BOOL[value.lower()]
            raise bad(f"parameter '{name}' must be a boolean")
        return default

    def int(self, name: str, default: int | None = None) -> int | None:
        for value in self.values(name):
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise bad(f"parameter '{name}' must be an integer") from None
            if number < 0:
                raise bad(f"parameter '{name}' must not be negative")
            return number
        return default

    def resource(self, name: str) -> dict[str, Any] | None:
        for entry in self.all(name):
            res = entry.get("resource")
            if isinstance(res, dict):
                return res
            raise bad(f"parameter '{name}' must carry a resource")
        return None

    def resources(self, name: str) -> list[dict[str, Any]]:
        found = [e.get("resource") for e in self.all(name)]
        if not all(isinstance(r, dict) for r in found):
            raise bad(f"parameter '{name}' must carry a resource")
        return found  # type: ignore[return-value]

    def coding(self, name: str) -> dict[str, Any] | None:
        for entry in self.all(name):
            value = entry.get("valueCoding")
            if isinstance(value, dict):
                return value
            raw = value_of(entry)
            if isinstance(raw, str) and "|" in raw:  # GET form system|code
                system, _, code = raw.partition("|")
                return {"system": system, "code": code}
            raise bad(f"parameter '{name}' must be a Coding")
        return None

    def codeable(self, name: str) -> dict[str, Any] | None:
        for entry in self.all(name):
            value = entry.get("valueCodeableConcept")
            if isinstance(value, dict) and isinstance(value.get("coding", []), list):
                return value
            raise bad(f"parameter '{name}' must be a CodeableConcept")
        return None

    def strs(self, name: str) -> list[str]:
        return [str(v) for v in self.values(name) if isinstance(v, (str, int))]


def out(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": parameters}
