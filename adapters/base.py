"""Protocols every wire format implements, and the context mappers work in.

The rule of this package (as Flask's ``sansio``): codecs and mappers do **no I/O** — no HTTP,
no database, no ``flask.g``. A codec turns bytes into a native model and back; a mapper turns the
native model into FHIR R4 (the pivot) and back. Whatever a mapper needs from outside (pinned code
maps, facility settings, the time zone) comes in through :class:`MapContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from conformance.outcome import Issue, Outcome

if TYPE_CHECKING:
    from mappings.registry import MappingRegistry, Translation


@runtime_checkable
class Codec(Protocol):
    """bytes <-> native model. ``parse`` raises :class:`bridge.errors.CodecError` (and nothing else) on bad bytes."""

    format_id: str
    media_type: str

    def parse(self, data: bytes) -> Any: ...

    def serialize(self, model: Any) -> bytes: ...


@runtime_checkable
class Mapper(Protocol):
    """native model <-> FHIR R4 pivot (a ``fhir.resources`` R4B resource, usually a Bundle or MeasureReport).

    Mappers report problems (unmapped codes, dropped input) as issues on ``ctx.outcome``; they raise
    only when the input cannot be mapped at all.
    """

    format_id: str

    def to_fhir(self, model: Any, ctx: MapContext) -> Any: ...

    def from_fhir(self, resource: Any, ctx: MapContext) -> Any: ...


class Validator(Protocol):
    """``validate(doc, ctx) -> Outcome``; never raises for bad input, only for misconfiguration."""

    def validate(self, doc: Any, ctx: MapContext) -> Outcome: ...


@dataclass
class MapContext:
    """Everything a mapper or validator may consult, plus what it reports back.

    ``pins`` maps a map id to the version the channel pinned (unpinned maps use the latest).
    ``used_mappings`` records ``map_id -> {"version", "digest"}`` for every map consulted, so the
    transaction can say exactly which mapping content produced its output.
    """

    mappings: MappingRegistry | None = None
    pins: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    outcome: Outcome = field(default_factory=Outcome)
    used_mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    terminology: Any = None  # a terminology service (lookup/validate_code) when one is wired in
    unused: list[str] = field(default_factory=list)  # input parts no mapper consumed (e.g. "ZPI", "PID-13")

    def translate(
        self,
        map_id: str,
        system: str | None,
        code: str,
        *,
        expression: str | None = None,
        reverse: bool = False,
        target_system: str | None = None,
        severity: str = "error",
    ) -> Translation | None:
        """Translate one code through the pinned map; an unmapped code adds an issue and returns ``None``."""
        if self.mappings is None:
            raise RuntimeError("MapContext.translate needs a MappingRegistry")
        cmap = self.mappings.get(map_id, self.pins.get(map_id))
        self.used_mappings[cmap.map_id] = {"version": cmap.version, "digest": cmap.digest}
        result = cmap.translate(system, code, reverse=reverse, target_system=target_system)
        if result.target is None:
            self.outcome.add(
                Issue(
                    severity,  # type: ignore[arg-type]
                    "code-invalid",
                    f"code {code!r} (system {system or '-'}) has no mapping in {cmap.map_id}|{cmap.version}",
                    expression=(expression,) if expression else (),
                    message_id="GW-2201",
                )
            )
            return None
        return result

    def report(self, issue: Issue) -> None:
        self.outcome.add(issue)


@dataclass(frozen=True)
class Format:
    """A registered wire format: its codec, optional mapper to/from FHIR and optional validators.

    ``idempotency_key`` (optional) derives a business key from the parsed model (e.g. HL7 v2
    MSH-3|MSH-4|MSH-10) so retransmissions are recognised.
    """

    format_id: str
    codec: Codec
    mapper: Mapper | None = None
    validators: tuple[Validator, ...] = ()
    description: str = ""
    idempotency_key: Callable[[Any], str | None] | None = None

    @property
    def media_type(self) -> str:
        return self.codec.media_type
