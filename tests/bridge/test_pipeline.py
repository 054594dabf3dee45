"""The pipeline dumps a model pivot at most once per run, never turns a JSON pivot into a model, and what it
encodes is exactly the codec's bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import bridge.pipeline as pipeline_module
from adapters.fhir.codec import FhirJson, FhirJsonCodec
from bridge.gateway import get_gateway
from conformance.outcome import Outcome
from tests.helpers import make_app

CHANNELS = """
[[channel]]
name = "v2"
source = "hl7v2"
target = "fhir+json"
destination = "none"
[channel.settings]
timezone = "Asia/Jakarta"

[[channel]]
name = "v2-checked"
source = "hl7v2"
target = "fhir+json"
destination = "none"
validators = ["fhir+json"]
[channel.settings]
timezone = "Asia/Jakarta"

[[channel]]
name = "v2-translated"
source = "hl7v2"
target = "fhir+json"
destination = "none"
[channel.settings]
timezone = "Asia/Jakarta"
[channel.pins]
administrative-gender = "1.0.0"
[[channel.translate]]
resource = "Observation"
element = "valueCodeableConcept"
map = "administrative-gender"
system = "http://terminology.hl7.org/CodeSystem/v2-0001"

[[channel]]
name = "fhir"
source = "fhir+json"
target = "fhir+json"
destination = "none"
validators = ["fhir+json"]
"""


def adt(control: str, sex: str = "M") -> bytes:
    return (
        f"MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A04^ADT_A01|{control}|P|2.5\r"
        f"PID|1||RM{control}^^^RSUD^MR||SANTOSO^BUDI||19800101|{sex}\rPV1|1|O\r"
    ).encode()


@pytest.fixture()
def app(tmp_path: Path) -> Flask:
    (tmp_path / "ch.toml").write_text(CHANNELS, encoding="utf-8")
    return make_app(tmp_path, CHANNEL_PATHS=[str(tmp_path / "ch.toml")])


def count_dumps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = pipeline_module.model_to_dict

    def counting(model: Any) -> dict[str, Any]:
        calls[0] += 1
        return original(model)

    monkeypatch.setattr(pipeline_module, "model_to_dict", counting)
    return calls


@pytest.mark.parametrize("channel", ["v2", "v2-checked"])
def test_a_json_pivot_is_never_dumped_and_encoded_like_the_codec(
    app: Flask, monkeypatch: pytest.MonkeyPatch, channel: str
) -> None:
    calls = count_dumps(monkeypatch)
    with app.app_context():
        run = get_gateway().pipeline(channel).run(adt("P1"))
    assert run.ok, run.outcome.issues
    assert isinstance(run.fhir, FhirJson)
    assert calls[0] == 0
    assert run.output == FhirJsonCodec().serialize(run.fhir)
    assert json.loads(run.output or b"") == run.fhir
    assert json.loads(run.output or b"") == run.fhir.model_dump(mode="json", exclude_none=True, by_alias=True)


def test_a_model_pivot_is_dumped_once_and_encoded_like_the_codec(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_dumps(monkeypatch)
    body = b'{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1980-01-01"}'
    with app.app_context():
        run = get_gateway().pipeline("fhir").run(body)
    assert run.ok, run.outcome.issues
    assert calls[0] == 1
    assert run.output == FhirJsonCodec().serialize(run.fhir)
    assert json.loads(run.output or b"") == json.loads(body)


def test_validators_get_the_dict_and_cannot_change_the_output(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    class Meddling:
        def validate(self, doc: Any, ctx: Any) -> Outcome:
            seen.append(doc)
            doc["type"] = "batch"  # a misbehaving validator mutates its input
            return Outcome()

    with app.app_context():
        pipeline = get_gateway().pipeline("v2-checked")
        fmt = pipeline.formats.get("fhir+json")
        monkeypatch.setattr(pipeline.formats, "checker", lambda name: (fmt, (Meddling(),)))
        run = pipeline.run(adt("P2"))
    assert isinstance(seen[0], dict) and seen[0]["resourceType"] == "Bundle"
    assert json.loads(run.output or b"")["type"] == "transaction"
    assert run.output == FhirJsonCodec().serialize(run.fhir)


def test_a_failed_validation_still_stops_before_encode(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.outcome import Issue

    class Refusing:
        def validate(self, doc: Any, ctx: Any) -> Outcome:
            return Outcome.of(Issue.error("invariant", "no", expression="Bundle", message_id="GW-9999"))

    with app.app_context():
        pipeline = get_gateway().pipeline("v2-checked")
        fmt = pipeline.formats.get("fhir+json")
        monkeypatch.setattr(pipeline.formats, "checker", lambda name: (fmt, (Refusing(),)))
        run = pipeline.run(adt("P3"))
    assert run.failed_step == "validate" and run.output is None


def test_a_channel_without_validators_dumps_only_for_encoding(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_dumps(monkeypatch)
    with app.app_context():
        run = get_gateway().pipeline("v2").run(adt("P4", sex="Q"))  # unmapped sex: fails in to_fhir
    assert run.failed_step == "to_fhir" and run.output is None
    assert calls[0] == 0


def test_translation_of_a_json_pivot_gives_json_on_a_fresh_tree(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (
        b"MSH|^~\\&|LIS|LAB|GW|RS|20240101090000||ORU^R01|T1|P|2.5.1\r"
        b"PID|1||RM001^^^RSUD^MR||SANTOSO^BUDI||19800101|F\r"
        b"OBR|1|P1^SIMRS|F1^LIS|76689-9^Sex assigned at birth^LN|||20240101081500\r"
        b"OBX|1|CWE|76689-9^Sex assigned at birth^LN||F^Female^HL70001||||||F\r"
    )
    calls = count_dumps(monkeypatch)
    with app.app_context():
        pipeline = get_gateway().pipeline("v2-translated")
        mapped: list[Any] = []
        mapper = pipeline.source.mapper
        assert mapper is not None
        original = mapper.to_fhir

        def keeping(model: Any, ctx: Any) -> Any:
            mapped.append(original(model, ctx))
            return mapped[0]

        monkeypatch.setattr(mapper, "to_fhir", keeping)
        run = pipeline.run(raw)
    assert run.ok, run.outcome.issues
    assert isinstance(run.fhir, FhirJson) and run.fhir is not mapped[0] and calls[0] == 0
    (obs,) = [e["resource"] for e in run.fhir["entry"] if e["resource"]["resourceType"] == "Observation"]
    codings = obs["valueCodeableConcept"]["coding"]
    assert {"system": "http://hl7.org/fhir/administrative-gender", "code": "female"} in [
        {k: c[k] for k in ("system", "code")} for c in codings
    ]
    (before,) = [e["resource"] for e in mapped[0]["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(before["valueCodeableConcept"]["coding"]) == len(codings) - 1  # the mapper's tree is untouched
    assert run.used_mappings["administrative-gender"]["version"] == "1.0.0"
