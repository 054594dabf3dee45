"""FHIR R4 JSON codec over ``fhir.resources`` (R4B models; see README for the R4B/R4 differences).

``parse`` accepts any resource type (``resourceType`` picks the model) and reports structural
errors as a :class:`~bridge.errors.DecodeError` whose location is the FHIRPath-like element path
pydantic gives. ``serialize`` writes compact JSON without nulls, keys in model order (a
:class:`FhirJson` pivot is written as it is, keys in the order its mapper built them).
"""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from adapters.base import MapContext
from bridge.errors import DecodeError
from conformance.outcome import Issue, Outcome

MEDIA_TYPE = "application/fhir+json"
# Resource types that exist in the R4B models fhir.resources ships but not in R4 4.0.1 (SATUSEHAT's
# version): accepting them would let a payload through that an R4 server must reject.
R4B_ONLY_TYPES = frozenset(
    {
        "AdministrableProductDefinition", "Citation", "ClinicalUseDefinition", "EvidenceReport", "Ingredient",
        "ManufacturedItemDefinition", "MedicinalProductDefinition", "NutritionProduct",
        "PackagedProductDefinition", "RegulatedAuthorization", "SubscriptionStatus", "SubscriptionTopic",
    }
)  # fmt: skip


def _loc_to_expression(resource_type: str, loc: tuple[Any, ...]) -> str:
    """pydantic ``('name', 0, 'given')`` -> FHIRPath ``Patient.name[0].given``."""
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not str(part).startswith("function-"):
            path += f".{part}"
    return path


def validation_issues(resource_type: str, exc: ValidationError) -> list[Issue]:
    issues = []
    for err in exc.errors():
        expression = _loc_to_expression(resource_type, tuple(err.get("loc", ())))
        issues.append(Issue.error("structure", err.get("msg", "invalid"), expression=expression, message_id="GW-1202"))
    return issues


def load_json(data: bytes) -> Any:
    """Decode UTF-8 JSON (a BOM is tolerated) or raise DecodeError GW-1201 with line and column."""
    try:
        text = data.decode("utf-8-sig")
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise DecodeError("GW-1200", f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise DecodeError(
            "GW-1201", f"malformed JSON: {exc.msg}", location=f"line {exc.lineno}, col {exc.colno}"
        ) from exc


def model_from_dict(obj: Any) -> Resource:
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceType"), str):
        raise DecodeError("GW-1203", "a FHIR resource must be a JSON object with a resourceType")
    if obj["resourceType"] in R4B_ONLY_TYPES:
        raise DecodeError("GW-1205", f"{obj['resourceType']} is not an R4 (4.0.1) resource", location="resourceType")
    try:
        model_class = get_fhir_model_class(obj["resourceType"])
    except (KeyError, ValueError) as exc:
        raise DecodeError("GW-1204", f"unknown resourceType {obj['resourceType']!r}", location="resourceType") from exc
    try:
        return model_class.model_validate(obj)  # type: ignore[return-value]
    except ValidationError as exc:
        issues = validation_issues(obj["resourceType"], exc)
        first = issues[0]
        more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
        raise DecodeError("GW-1202", f"{first.message}{more}", location=first.expression[0]) from exc


def model_to_dict(model: Resource) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)  # type: ignore[no-any-return]


def json_bytes(doc: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, the wire form of every FHIR payload the gateway writes."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class FhirJson(dict[str, Any]):
    """A FHIR resource as its JSON dict: a pivot a mapper may hand over instead of a ``fhir.resources`` model.

    Validating a mapped Bundle into the model costs more than building it, and most channels never
    need the model (validators take the dict, a ``fhir+json`` target writes the dict), so the
    model is built only on request: :meth:`model` validates the *current* content on every call
    (no cache that a later change to the dict could make stale). :meth:`model_dump` makes code
    written against the models (``model.model_dump(...)``) work unchanged, through the model.
    A mapper returning one promises JSON that validates (tests prove it over the sample corpus)
    and holds no ``None``, empty string, list or object.
    """

    __slots__ = ()

    def model(self) -> Resource:
        """The validated ``fhir.resources`` model; DecodeError GW-1202 when the content is not valid R4."""
        return model_from_dict(dict(self))

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        return self.model().model_dump(**kwargs)  # type: ignore[no-any-return]


class FhirJsonCodec:
    format_id = "fhir+json"
    media_type = MEDIA_TYPE

    def parse(self, data: bytes) -> Resource:
        return model_from_dict(load_json(data))

    def serialize(self, model: Resource | dict[str, Any]) -> bytes:
        """A model is dumped first; FHIR JSON (a :class:`FhirJson` pivot, a dict) is written as it is."""
        return json_bytes(model if isinstance(model, dict) else model_to_dict(model))

    def parse_for_validation(self, data: bytes) -> tuple[Any, list[Issue]]:
        """JSON only: structural checks are left to the validators so that *every* issue is reported."""
        return load_json(data), []


class FhirPassthroughMapper:
    """FHIR is the pivot: to/from FHIR is the identity."""

    format_id = "fhir+json"

    def to_fhir(self, model: Resource, ctx: MapContext) -> Resource:
        return model

    def from_fhir(self, resource: Resource, ctx: MapContext) -> Resource:
        return resource


class FhirStructureValidator:
    """Checks that a payload (dict or model) is a structurally valid R4 resource; located issues, no raise."""

    def validate(self, doc: Any, ctx: MapContext) -> Outcome:
        if isinstance(doc, Resource):
            return Outcome()
        if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
            return Outcome.of(Issue.error("structure", "not a FHIR resource (no resourceType)", message_id="GW-1203"))
        try:
            model_class = get_fhir_model_class(doc["resourceType"])
        except (KeyError, ValueError):
            msg = f"unknown resourceType {doc['resourceType']!r}"
            return Outcome.of(Issue.error("structure", msg, expression="resourceType", message_id="GW-1204"))
        try:
            model_class.model_validate(doc)
        except ValidationError as exc:
            return Outcome(validation_issues(doc["resourceType"], exc))
        return Outcome()
