"""The one pipeline every channel runs: decode → to FHIR → translate codes → validate → from FHIR → encode.

The pivot is a ``fhir.resources`` model or FHIR JSON (a dict, e.g. the
:class:`~adapters.fhir.codec.FhirJson` the v2 mapper returns); every step takes either, and a
dict pivot is never turned into a model unless a step asks for one.

Each step is timed (``RunResult.timings_ms``). A step that fails records located issues on the
outcome and stops the run: nothing after a failed step runs, so an invalid message is never
encoded for delivery. Bad input never raises out of :meth:`Pipeline.run`; only configuration
faults (:class:`~bridge.errors.ConfigError`, a broken mapping file) do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from adapters.base import Format, MapContext
from adapters.fhir.codec import FhirJsonCodec, json_bytes, model_from_dict, model_to_dict
from adapters.registry import FormatRegistry
from bridge.channels import Channel, TranslateRule
from bridge.errors import ConfigError, GatewayError, MappingFileInvalid, PublishedMappingChanged
from conformance.outcome import Outcome, outcome_from_error
from mappings.registry import MappingRegistry

STEPS = ("decode", "to_fhir", "translate", "validate", "from_fhir", "encode")


@dataclass
class RunResult:
    """What a run produced; ``failed_step`` is None when every step ran."""

    outcome: Outcome
    source_model: Any = None
    fhir: Any = None
    output_model: Any = None
    output: bytes | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    used_mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)
    failed_step: str | None = None
    idempotency_key: str | None = None
    # (pivot, its JSON dict for validators or None until asked for, its compact JSON bytes): once per run
    pivot_dump: tuple[Any, dict[str, Any] | None, bytes] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.failed_step is None and self.outcome.ok


class _StepFailed(Exception):
    pass


class Pipeline:
    """Runs one channel. Build it once per channel and reuse it (it keeps no per-message state)."""

    def __init__(
        self,
        channel: Channel,
        formats: FormatRegistry,
        mappings: MappingRegistry,
        terminology: Any = None,
        facility: dict[str, Any] | None = None,
    ) -> None:
        self.channel = channel
        self.formats = formats
        self.mappings = mappings
        self.terminology = terminology
        self.source: Format = formats.get(channel.source)
        self.target: Format = formats.get(channel.target)
        self.settings = {**(facility or {}), **channel.settings}
        self._check_mappers()

    def _check_mappers(self) -> None:
        for fmt in (self.source, self.target):
            if fmt.mapper is None:
                raise ConfigError("GW-7205", f"channel {self.channel.name}: format {fmt.format_id} has no FHIR mapper")

    def new_context(self) -> MapContext:
        return MapContext(self.mappings, self.channel.pins, self.settings, terminology=self.terminology)

    def decode(self, raw: bytes, result: RunResult) -> bool:
        """Step 1 alone (ingest uses it to find the idempotency key before the rest runs); True if it worked."""
        try:
            with self._step(result, "decode"):
                result.source_model = self.source.codec.parse(raw)
        except _StepFailed:
            return False
        if self.source.idempotency_key is not None:
            result.idempotency_key = self.source.idempotency_key(result.source_model)
        return True

    def run(self, raw: bytes) -> RunResult:
        result = RunResult(Outcome())
        if self.decode(raw, result):
            self.run_decoded(result)
        return result

    def run_decoded(self, result: RunResult) -> RunResult:
        """Steps 2–6 on ``result.source_model``; stops at the first failing step."""
        try:
            self._run_steps(result)
        except _StepFailed:
            pass
        return result

    def _run_steps(self, result: RunResult) -> None:
        ctx = self.new_context()
        ctx.outcome = result.outcome
        try:
            with self._step(result, "to_fhir"):
                result.fhir = self._mapper(self.source).to_fhir(result.source_model, ctx)
            with self._step(result, "translate"):
                result.fhir = self._translate(result.fhir, ctx)
            with self._step(result, "validate"):
                self._validate(result, ctx)
            with self._step(result, "from_fhir"):
                result.output_model = self._mapper(self.target).from_fhir(result.fhir, ctx)
            with self._step(result, "encode"):
                result.output = self._encode(result)
        finally:
            result.used_mappings.update(ctx.used_mappings)
            result.unused.extend(ctx.unused)

    @staticmethod
    def _mapper(fmt: Format) -> Any:
        return fmt.mapper

    @contextmanager
    def _step(self, result: RunResult, name: str) -> Iterator[None]:
        started = time.perf_counter()
        errors_before = len(result.outcome.errors)
        try:
            yield
        except (ConfigError, MappingFileInvalid, PublishedMappingChanged):
            raise  # operator faults: surface them, don't blame the message
        except GatewayError as exc:
            result.outcome.extend(outcome_from_error(exc).issues)
            result.failed_step = name
        finally:
            result.timings_ms[name] = round((time.perf_counter() - started) * 1000, 3)
        if result.failed_step is None and len(result.outcome.errors) > errors_before:
            result.failed_step = name
        if result.failed_step is not None:
            raise _StepFailed(name)

    def _translate(self, fhir: Any, ctx: MapContext) -> Any:
        """The pivot with the channel's code translations applied: a model stays a model, JSON stays JSON."""
        if not self.channel.translate:
            return fhir
        # a fresh tree: the rules edit it in place, and the mapper's JSON may share a node between two places
        data = json.loads(json_bytes(fhir)) if isinstance(fhir, dict) else model_to_dict(fhir)
        for resource, expression in _resources(data):
            for rule in self.channel.translate:
                if resource.get("resourceType") == rule.resource:
                    _apply_rule(resource, rule.element.split("."), rule, ctx, expression)
        return type(fhir)(data) if isinstance(fhir, dict) else model_from_dict(data)

    def _validate(self, result: RunResult, ctx: MapContext) -> None:
        if not self.channel.validators:
            return
        doc = pivot_json(result)
        for name in self.channel.validators:
            fmt, validators = self.formats.checker(name)
            if fmt.format_id != "fhir+json":
                raise ConfigError("GW-7206", f"validator {name!r} checks {fmt.format_id}, not the FHIR pivot")
            for validator in validators:
                ctx.outcome.extend(validator.validate(doc, ctx).issues)

    def _encode(self, result: RunResult) -> bytes:
        """The target codec's bytes; a FHIR JSON target re-uses the pivot's one dump when it is unchanged."""
        if result.output_model is result.fhir and type(self.target.codec) is FhirJsonCodec:
            return pivot_dump(result)[2]
        return self.target.codec.serialize(result.output_model)  # type: ignore[no-any-return]


def pivot_dump(result: RunResult) -> tuple[Any, dict[str, Any] | None, bytes]:
    """The pivot's compact JSON bytes (and, for a model, its JSON dict), computed once per run.

    A model pivot is dumped once (model dumps are costly); a dict pivot is encoded as it is. The
    bytes are byte-for-byte what :meth:`FhirJsonCodec.serialize` writes for the same pivot, and
    they are encoded before any validator sees a dict, so a validator that (wrongly) modified its
    input could not change what is delivered.
    """
    cached = result.pivot_dump
    if cached is None or cached[0] is not result.fhir:
        doc = None if isinstance(result.fhir, dict) else model_to_dict(result.fhir)
        data = json_bytes(result.fhir if doc is None else doc)
        cached = result.pivot_dump = (result.fhir, doc, data)
    return cached


def pivot_json(result: RunResult) -> dict[str, Any]:
    """The pivot as a JSON dict for validators; never the pivot itself (a validator must not change it)."""
    pivot, doc, data = pivot_dump(result)
    if doc is None:
        doc = json.loads(data)
        result.pivot_dump = (pivot, doc, data)
    return doc


def _resources(data: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """The resource itself and, for a Bundle, each entry's resource, with a FHIRPath to it."""
    yield data, data.get("resourceType", "Resource")
    if data.get("resourceType") == "Bundle":
        for i, entry in enumerate(data.get("entry") or []):
            if isinstance(entry.get("resource"), dict):
                yield entry["resource"], f"Bundle.entry[{i}].resource"


def _apply_rule(node: Any, parts: list[str], rule: TranslateRule, ctx: MapContext, expr: str) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    value = node.get(head) if isinstance(node, dict) else None
    if value is None:
        return
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for index, item in items:
        path = f"{expr}.{head}" + (f"[{index}]" if index is not None else "")
        if rest:
            _apply_rule(item, rest, rule, ctx, path)
        else:
            replaced = _translate_leaf(item, rule, ctx, path)
            if replaced is not None:
                if index is None:
                    node[head] = replaced
                else:
                    value[index] = replaced


def _translate_leaf(item: Any, rule: TranslateRule, ctx: MapContext, path: str) -> Any:
    """Translate a code (replaced), a Coding (replaced) or a CodeableConcept (target coding added)."""
    if isinstance(item, str):
        tr = ctx.translate(rule.map_id, rule.system, item, expression=path)
        return tr.target if tr else None
    if isinstance(item, dict) and "coding" in item:
        added = []
        for i, coding in enumerate(item["coding"]):
            if rule.system is None or coding.get("system") == rule.system:
                tr = ctx.translate(
                    rule.map_id, coding.get("system"), coding.get("code", ""), expression=f"{path}.coding[{i}]"
                )
                if tr:
                    added.append(_coding(tr))
        item["coding"].extend(c for c in added if c not in item["coding"])
        return None
    if isinstance(item, dict) and "code" in item:
        if rule.system is None or item.get("system") == rule.system:
            tr = ctx.translate(rule.map_id, item.get("system"), item["code"], expression=path)
            return _coding(tr) if tr else None
    return None


def _coding(tr: Any) -> dict[str, Any]:
    coding = {"system": tr.target_system, "code": tr.target, "display": tr.display}
    return {k: v for k, v in coding.items() if v is not None}


__all__ = ["STEPS", "Pipeline", "RunResult", "pivot_dump", "pivot_json"]
