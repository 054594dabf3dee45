"""The v2 mapper's pivot is FHIR JSON that validates as an R4 Bundle: proven over the whole sample corpus.

The pipeline never validates the mapped Bundle into the ``fhir.resources`` model (that costs more
than building it), so these tests carry that guarantee: every message of every sample file the
codec reads maps to JSON that ``Bundle.model_validate`` accepts, with no null or empty value, and
whose content is what the model would dump (date-times may be written differently, e.g. ``Z`` by
the model where the mapper writes ``+00:00``: the same instant).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import MapContext
from adapters.fhir.codec import FhirJson
from adapters.hl7v2.codec import Hl7v2Codec, V2Batch, iter_messages
from adapters.hl7v2.mapper import SUPPORTED_TYPES, Hl7v2Mapper, drop_empty
from bridge.errors import DecodeError, GatewayError
from mappings.registry import MappingRegistry
from tests.hl7v2.conftest import corpus_files

REGISTRY = MappingRegistry()
# every type the builder may meet in the corpus, so that unsupported ones are built (and checked) too
EVERY_TYPE = {"accepted_message_types": [*SUPPORTED_TYPES, "BAR", "OUL", "ORL", "QRY", "OMD", "ERP", "ACK"]}


def corpus_messages() -> list[tuple[str, bytes]]:
    out = []
    for path in corpus_files():
        for index, raw in enumerate(iter_messages(path.read_bytes()), start=1):
            out.append((f"{path.name}#{index}", raw))
    return out


MESSAGES = corpus_messages()


def same_instant(a: Any, b: Any) -> bool:
    if not (isinstance(a, str) and isinstance(b, str) and "T" in a and "T" in b):
        return False
    try:
        return datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except ValueError:
        return False


def differences(ours: Any, model: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(model, dict):
        keys = sorted(set(ours) | set(model))
        return [d for k in keys for d in differences(ours.get(k), model.get(k), f"{path}.{k}")]
    if isinstance(ours, list) and isinstance(model, list) and len(ours) == len(model):
        return [d for i, (a, b) in enumerate(zip(ours, model, strict=True)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if ours == model or same_instant(ours, model) else [f"{path}: {ours!r} != {model!r}"]


def empty_values(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in empty_values(v, f"{path}.{k}")] or ([path] if not node else [])
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in empty_values(v, f"{path}[{i}]")] or ([path] if not node else [])
    return [path] if node is None or node == "" else []


@pytest.mark.usefixtures("samples_dir")
@pytest.mark.parametrize(("name", "raw"), MESSAGES, ids=[name for name, _ in MESSAGES])
def test_every_corpus_bundle_is_valid_r4_json(name: str, raw: bytes) -> None:
    try:
        model = Hl7v2Codec().parse(raw)
    except DecodeError:
        pytest.skip("not readable by the codec (tested in test_codec)")
    ctx = MapContext(mappings=REGISTRY, settings={"timezone": "Asia/Jakarta", **EVERY_TYPE})
    bundle = Hl7v2Mapper().to_fhir(model, ctx)
    assert isinstance(bundle, FhirJson)
    messages = model.messages if isinstance(model, V2Batch) else [model]
    assert len(bundle.get("entry", [])) >= len(messages)  # at least a MessageHeader each
    assert empty_values(bundle) == []
    dumped = Bundle.model_validate(dict(bundle)).model_dump(mode="json", exclude_none=True, by_alias=True)
    assert differences(bundle, dumped) == []


def test_the_corpus_is_there(samples_dir: Path) -> None:
    assert len(MESSAGES) >= 64


def test_an_unaccepted_type_is_rejected_without_building_anything() -> None:
    raw = b"MSH|^~\\&|A|B|C|D|20240101||BAR^P01|X1|P|2.5\rPID|1||RM1^^^RSUD^MR||DOE^JOHN\r"
    ctx = MapContext(mappings=REGISTRY, settings={})
    bundle = Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw), ctx)
    assert bundle == {"resourceType": "Bundle", "type": "transaction"}
    assert [i.message_id for i in ctx.outcome.errors] == ["GW-1312"]


def test_drop_empty_removes_nulls_and_empty_values_in_place() -> None:
    node: dict[str, Any] = {"a": None, "b": "", "c": [None, {"d": []}, "x"], "e": {"f": {}}, "g": 0, "h": False}
    assert drop_empty(node) is False
    assert node == {"c": ["x"], "g": 0, "h": False}
    assert drop_empty({"a": [{"b": None}]}) is True


def test_model_dump_of_the_pivot_goes_through_the_model() -> None:
    bundle = FhirJson(resourceType="Bundle", type="transaction")
    assert bundle.model_dump(mode="json", exclude_none=True) == {"resourceType": "Bundle", "type": "transaction"}
    assert type(bundle.model()) is Bundle


SEGMENT_IDS = ["PID", "PD1", "NK1", "PV1", "PV2", "ORC", "OBR", "OBX", "NTE", "SPM", "DG1", "AL1", "PR1", "RXA", "TQ1"]
FIELD = st.text(alphabet=st.sampled_from("0123456789ABFMZ^&~\\.-+ :"), max_size=25)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["ADT^A01", "ORU^R01", "ORM^O01", "VXU^V04", "SIU^S12"]),
    st.lists(st.tuples(st.sampled_from(SEGMENT_IDS), st.lists(FIELD, max_size=40)), min_size=1, max_size=6),
)
def test_whatever_the_fields_hold_the_pivot_is_valid_r4_json(kind: str, segments: list[tuple[str, list[str]]]) -> None:
    body = "".join(f"{sid}|{'|'.join(fields)}\r" for sid, fields in segments)
    raw = f"MSH|^~\\&|S|F|||20240101||{kind}|1|P|2.5\r" + body
    ctx = MapContext(mappings=REGISTRY, settings={"timezone": "Asia/Jakarta"})
    try:
        bundle = Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw.encode()), ctx)
    except GatewayError:
        return  # input the mapper refuses outright (reported, never a bundle)
    assert empty_values(bundle) == []
    Bundle.model_validate(dict(bundle))  # raises on anything that is not valid R4
