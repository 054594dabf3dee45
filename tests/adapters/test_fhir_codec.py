import json
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import MapContext
from adapters.fhir.codec import FhirJsonCodec, FhirStructureValidator, model_to_dict
from bridge.errors import DecodeError
from tests.helpers import SHARED

codec = FhirJsonCodec()
SAMPLES = sorted((SHARED / "samples/satusehat/postman-bodies").glob("*.json"))
PLACEHOLDER = re.compile(r"\{\{([^}]+)\}\}")


def _fill(text: str) -> str:
    """Postman variables ({{Patient_ID}}) become stable ids so the bodies are valid FHIR."""
    return PLACEHOLDER.sub(lambda m: str(uuid.uuid5(uuid.NAMESPACE_URL, m.group(1))), text)


@pytest.mark.parametrize("path", [p for p in SAMPLES if "patch" not in p.name], ids=lambda p: p.stem)
def test_satusehat_sample_bodies_round_trip(path: Path):
    raw = _fill(path.read_text(encoding="utf-8-sig")).encode()
    model = codec.parse(raw)
    assert model_to_dict(codec.parse(codec.serialize(model))) == model_to_dict(model)
    assert model_to_dict(model)["resourceType"] == json.loads(raw)["resourceType"]


safe_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs")), min_size=1, max_size=20)
codings = st.fixed_dictionaries(
    {
        "system": st.sampled_from(["http://loinc.org", "http://snomed.info/sct", "urn:jembatan:codesystem:x"]),
        "code": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.-]{0,9}", fullmatch=True),
    },
    optional={"display": safe_text},
)
patients = st.fixed_dictionaries(
    {"resourceType": st.just("Patient")},
    optional={
        "id": st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True),
        "active": st.booleans(),
        "gender": st.sampled_from(["male", "female", "other", "unknown"]),
        "birthDate": st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10),
        "name": st.lists(
            st.fixed_dictionaries({"text": safe_text}, optional={"given": st.lists(safe_text, min_size=1, max_size=3)}),
            min_size=1,
            max_size=2,
        ),
        "identifier": st.lists(
            st.fixed_dictionaries(
                {
                    "system": st.just("https://fhir.kemkes.go.id/id/nik"),
                    "value": st.from_regex(r"\d{16}", fullmatch=True),
                }
            ),
            min_size=1,
            max_size=2,
        ),
    },
)
quantity = st.fixed_dictionaries({"value": st.integers(-(10**6), 10**6), "unit": st.sampled_from(["mm[Hg]", "/min"])})
values = st.one_of(
    st.just({}), quantity.map(lambda q: {"valueQuantity": q}), safe_text.map(lambda t: {"valueString": t})
)
observations = st.builds(
    lambda status, code, value: {"resourceType": "Observation", "status": status, "code": code, **value},
    st.sampled_from(["final", "preliminary", "amended"]),
    st.fixed_dictionaries({"coding": st.lists(codings, min_size=1, max_size=2)}),
    values,
)


@given(st.one_of(patients, observations))
def test_generated_resources_round_trip_losslessly(resource):
    raw = json.dumps(resource).encode()
    assert model_to_dict(codec.parse(raw)) == resource
    assert json.loads(codec.serialize(codec.parse(raw))) == resource


@given(st.binary(max_size=200))
def test_garbage_raises_only_decode_error(data):
    try:
        codec.parse(data)
    except DecodeError as exc:
        assert exc.code.startswith("GW-12")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\xff\xfe", "GW-1200"),
        (b"{", "GW-1201"),
        (b"[1]", "GW-1203"),
        (b'{"resourceType":"Nope"}', "GW-1204"),
        (b'{"resourceType":"SubscriptionStatus"}', "GW-1205"),
        (b'{"resourceType":"Patient","gender":5}', "GW-1202"),
    ],
)
def test_decode_errors_have_stable_codes(raw, code):
    with pytest.raises(DecodeError) as info:
        codec.parse(raw)
    assert info.value.code == code


def test_utf8_bom_is_tolerated():
    assert model_to_dict(codec.parse(b'\xef\xbb\xbf{"resourceType":"Patient"}')) == {"resourceType": "Patient"}


def test_structure_validator_reports_every_problem_with_fhirpath():
    doc = {"resourceType": "Patient", "gender": 1, "name": [{"given": "not-a-list"}]}
    outcome = FhirStructureValidator().validate(doc, MapContext())
    assert {i.expression[0] for i in outcome.errors} == {"Patient.gender", "Patient.name[0].given"}
