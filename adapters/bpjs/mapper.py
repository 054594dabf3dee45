"""Mapper objects (the :class:`adapters.base.Mapper` protocol) over the BPJS ↔ FHIR functions.

``to_fhir`` returns a validated ``fhir.resources`` R4B Bundle; ``from_fhir`` accepts a model or
FHIR JSON (Bundle or a bare ServiceRequest) and returns a :class:`BpjsPayload`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from adapters.base import MapContext
from adapters.bpjs.insert_fhir import insert_from_fhir, insert_to_fhir
from adapters.bpjs.models import BpjsPayload
from adapters.bpjs.rujukan_fhir import rujukan_from_fhir, rujukan_to_fhir
from bridge.errors import GatewayError, MappingError
from conformance.outcome import Issue

__all__ = ["BpjsMapper", "as_fhir_dict", "lost_fields", "to_bundle_model"]

ToFhir = Callable[[dict[str, Any], MapContext], dict[str, Any]]
FromFhir = Callable[[dict[str, Any], MapContext], dict[str, Any]]


def lost_fields(original: Any, back: Any, path: str = "") -> list[str]:
    """JSON pointers of non-null values in ``original`` that ``back`` does not reproduce."""
    if isinstance(original, dict):
        other = back if isinstance(back, dict) else {}
        return [p for k, v in original.items() for p in lost_fields(v, other.get(k), f"{path}/{k}")]
    if isinstance(original, list):
        other_list = back if isinstance(back, list) else []
        return [
            p
            for i, v in enumerate(original)
            for p in lost_fields(v, other_list[i] if i < len(other_list) else None, f"{path}/{i}")
        ]
    return [] if original is None or original == back else [path or "/"]


def as_fhir_dict(resource: Any) -> dict[str, Any]:
    if isinstance(resource, dict):
        return resource
    dump = getattr(resource, "model_dump", None)
    if dump is None:
        raise MappingError("GW-2405", f"expected FHIR JSON or a fhir.resources model, got {type(resource).__name__}")
    return dump(mode="json", exclude_none=True, by_alias=True)  # type: ignore[no-any-return]


def to_bundle_model(bundle: dict[str, Any]) -> Bundle:
    try:
        return Bundle.model_validate(bundle)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise MappingError("GW-2406", f"mapped Bundle is not valid FHIR: {first.get('msg')} at {where}") from exc


class BpjsMapper:
    def __init__(self, format_id: str, kind: str, to_fhir: ToFhir, from_fhir: FromFhir) -> None:
        self.format_id = format_id
        self.kind = kind
        self._to = to_fhir
        self._from = from_fhir

    def to_fhir(self, model: BpjsPayload | dict[str, Any], ctx: MapContext) -> Bundle:
        """The Bundle; input fields FHIR does not carry (fields the catalogue does not list) are
        reported as GW-2420 warnings and listed in ``ctx.unused``."""
        data = model.data if isinstance(model, BpjsPayload) else model
        bundle = self._to(data, ctx)
        self._report_lost(data, bundle, ctx)
        return to_bundle_model(bundle)

    def _report_lost(self, data: Any, bundle: dict[str, Any], ctx: MapContext) -> None:
        scratch = MapContext(ctx.mappings, ctx.pins, ctx.settings, terminology=ctx.terminology)
        try:
            back = self._from(bundle, scratch)
        except GatewayError:
            return
        for where in lost_fields(data, back):
            ctx.unused.append(where)
            ctx.report(
                Issue.warning(
                    "informational", f"{where} is not carried into FHIR", location=where, message_id="GW-2420"
                )
            )

    def to_fhir_json(self, model: BpjsPayload | dict[str, Any], ctx: MapContext) -> dict[str, Any]:
        return self._to(model.data if isinstance(model, BpjsPayload) else model, ctx)

    def from_fhir(self, resource: Any, ctx: MapContext) -> BpjsPayload:
        return BpjsPayload(self.kind, self._from(as_fhir_dict(resource), ctx))


def rujukan_mapper() -> BpjsMapper:
    return BpjsMapper("bpjs.vclaim.rujukan", "vclaim-rujukan", rujukan_to_fhir, rujukan_from_fhir)


def insert_mapper() -> BpjsMapper:
    return BpjsMapper("bpjs.vclaim.rujukan-insert", "vclaim-rujukan-insert", insert_to_fhir, insert_from_fhir)
