"""Registry of wire formats keyed by format id (``hl7v2``, ``fhir+json``, ``dhis2.adx+xml`` …).

Each adapter sub-package exposes ``register(registry)``; :func:`default_registry` imports the
providers listed in :data:`PROVIDERS` and lets each register its formats. A provider whose module
does not exist yet is skipped; a provider that fails for any other reason is a real error and
propagates.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from adapters.base import Format, MapContext, Validator
from bridge.errors import UnknownFormat
from conformance.outcome import Outcome

PROVIDERS: tuple[str, ...] = (
    "adapters.fhir",
    "adapters.hl7v2",
    "adapters.bpjs",
    "adapters.satusehat",
    "adapters.dhis2",
)


class FormatRegistry:
    """Formats by id, plus named profile validators (``satusehat``, ``bpjs``, ``dhis2``)."""

    def __init__(self) -> None:
        self._formats: dict[str, Format] = {}
        self._profiles: dict[str, tuple[str, Validator, str]] = {}

    def register(self, fmt: Format) -> None:
        if fmt.format_id in self._formats:
            raise ValueError(f"format {fmt.format_id!r} registered twice")
        self._formats[fmt.format_id] = fmt

    def register_profile(self, name: str, input_format: str, validator: Validator, description: str = "") -> None:
        """A named conformance check (``POST /conformance/<name>/$validate``) over payloads of ``input_format``."""
        self._profiles[name] = (input_format, validator, description)

    def get(self, format_id: str) -> Format:
        try:
            return self._formats[format_id]
        except KeyError:
            known = ", ".join(sorted(self._formats))
            raise UnknownFormat(message=f"unknown format {format_id!r}; registered: {known}") from None

    def __contains__(self, format_id: object) -> bool:
        return format_id in self._formats

    def __iter__(self) -> Iterator[Format]:
        return iter(sorted(self._formats.values(), key=lambda f: f.format_id))

    def profiles(self) -> dict[str, tuple[str, Validator, str]]:
        return dict(self._profiles)

    def checker(self, name: str) -> tuple[Format, tuple[Validator, ...]]:
        """The format to decode with and the validators to run for a conformance name (profile or format id)."""
        if name in self._profiles:
            input_format, validator, _ = self._profiles[name]
            return self.get(input_format), (validator,)
        fmt = self.get(name)
        return fmt, fmt.validators


def default_registry() -> FormatRegistry:
    registry = FormatRegistry()
    for module_name in PROVIDERS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        register = getattr(module, "register", None)
        if register is not None:
            register(registry)
    return registry


def run_validators(validators: tuple[Validator, ...], doc: object, ctx: MapContext) -> Outcome:
    for validator in validators:
        ctx.outcome.extend(validator.validate(doc, ctx).issues)
    return ctx.outcome
