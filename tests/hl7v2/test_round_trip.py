"""FHIR → v2 (ADT A04/A08, ORU R01) and the v2 → FHIR → v2 → FHIR stability properties."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.base import MapContext
from adapters.hl7v2.codec import Hl7v2Codec, V2Message
from adapters.hl7v2.escape import escape
from adapters.hl7v2.mapper import Hl7v2Mapper
from mappings.registry import MappingRegistry
from tests.hl7v2.conftest import MS

REGISTRY = MappingRegistry()
SETTINGS = {"timezone": "Asia/Jayapura", "message_datetime": "20240101100000+0900",
            "identifier_systems": {"NIK": "https://fhir.kemkes.go.id/id/nik"}}  # fmt: skip
MAPPER = Hl7v2Mapper()

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
               max_size=12).map(str.strip).filter(bool)  # fmt: skip
IDS = st.text(alphabet="ABCDEFGHJK0123456789", min_size=1, max_size=10)
DATES = st.dates(min_value=date(1900, 1, 1)).map(lambda d: d.strftime("%Y%m%d")).filter(lambda s: s[0] != "0")
TIMES = st.tuples(DATES, st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]}{t[1]:02d}{t[2]:02d}00")


def to_bundle(raw: str | bytes) -> tuple[dict[str, Any], MapContext]:
    ctx = MapContext(mappings=REGISTRY, settings=SETTINGS)
    data = raw.encode() if isinstance(raw, str) else raw
    bundle = MAPPER.to_fhir(Hl7v2Codec().parse(data), ctx)
    return bundle.model_dump(mode="json", exclude_none=True, by_alias=True), ctx


def resources(bundle: dict[str, Any]) -> dict[str, Any]:
    """Resources by ``Type/id`` (the MessageHeader id follows MSH-10, which the reverse map regenerates)."""
    return {
        e["request"]["url"]: e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] != "MessageHeader"
    }


@st.composite
def adt_messages(draw: st.DrawFn) -> str:
    event = draw(st.sampled_from(["A04", "A08"]))
    mrn, nik = draw(IDS), draw(st.text(alphabet="0123456789", min_size=16, max_size=16))
    family, given = escape(draw(TEXT)), escape(draw(TEXT))
    sex = draw(st.sampled_from(["M", "F", "O", "U"]))
    cls = draw(st.sampled_from(["O", "I", "E"]))
    dispo = draw(st.sampled_from(["", "01", "07", "20"]))
    admit = draw(TIMES)
    pv1 = ["PV1", "1", cls, f"{draw(IDS)}^{draw(IDS)}^^RSUD"] + [""] * 15 + [f"{draw(IDS)}^^^RSUD^VN"]
    pv1 += [""] * 16 + [dispo] + [""] * 7 + [admit]
    return "\r".join([
        f"MSH|^~\\&|SIMRS|RSUD|GW||20240101||ADT^{event}^ADT_A01|X|P|2.5",
        f"EVN|{event}|20240101",
        f"PID|1||{mrn}^^^RSUD^MR~{nik}^^^NIK^NI||{family}^{given}^^^dr.^^L^^^^^{draw(DATES)}^^S.Kom^Budi"
        f"||{draw(DATES)}|{sex}|||Jl. {given} 1^^Kota^^12345^ID^H||^PRN^PH^^^^^^^^^0812{draw(IDS)}"
        "~^NET^Internet^a@b.id",
        "|".join(pv1).rstrip("|"),
    ]) + "\r"  # fmt: skip


@st.composite
def oru_messages(draw: st.DrawFn) -> str:
    lines = [
        "MSH|^~\\&|LIS|LAB|GW|RS|20240101||ORU^R01^ORU_R01|X|P|2.5",
        f"PID|1||{draw(IDS)}^^^RSUD^MR||{escape(draw(TEXT))}^{escape(draw(TEXT))}||{draw(DATES)}|F",
        f"OBR|1|{draw(IDS)}^SIMRS|{draw(IDS)}^LIS|24331-1^Lipid panel^LN|||{draw(TIMES)}|||||||||||||||"
        f"{draw(TIMES)}|||{draw(st.sampled_from(['F', 'P', 'C']))}",
    ]
    for index in range(1, draw(st.integers(1, 4)) + 1):
        kind = draw(st.sampled_from(["NM", "ST", "CWE"]))
        value = {"NM": str(draw(st.integers(0, 999))), "ST": escape(draw(TEXT)), "CWE": "260385009^Negative^SCT"}[kind]
        units = draw(st.sampled_from(["mg/dL^mg/dL^UCUM", "mmol/l", ""])) if kind == "NM" else ""
        status = draw(st.sampled_from(["F", "P", "C", "X"]))
        lines.append(
            f"OBX|{index}|{kind}|{1000 + index}-{index}^Test {index}^LN||{value}|{units}|||||{status}|||{draw(TIMES)}"
        )
    return "\r".join(lines) + "\r"


def test_reverse_of_ms_observation_bundle() -> None:
    data = json.loads((MS / "fhir-to-hl7v2" / "ObservationBundle.json").read_text(encoding="utf-8-sig"))
    msg = MAPPER.from_fhir(data, MapContext(mappings=REGISTRY, settings=SETTINGS))
    assert isinstance(msg, V2Message) and msg.message_type[:2] == ("ORU", "R01")
    assert msg.get("PID-3") == "12345" and msg.get("OBX-3") == "15074-8" and msg.get("OBX-5") == "6.3"
    assert msg.get("OBX-2") == "NM" and msg.get("OBX-11") == "F" and msg.get("OBX-7") == "3.1-6.2"
    assert msg.get("PID-8") == "M" and msg.get("PID-7") == "19741225"


def test_event_follows_message_header() -> None:
    raw = "MSH|^~\\&|S|F|||2024||ADT^A08^ADT_A01|1|P|2.5\rPID|1||9^^^RSUD^MR||A^B||20000101|F\r"
    bundle, ctx = to_bundle(raw)
    back = MAPPER.from_fhir(bundle, ctx)
    assert back.message_type == ("ADT", "A08", "ADT_A01") and back.get("EVN-1") == "A08"


@given(adt_messages())
def test_adt_v2_fhir_v2_fhir_is_stable(raw: str) -> None:
    first, ctx = to_bundle(raw)
    back = MAPPER.from_fhir(first, ctx)
    second, _ = to_bundle(Hl7v2Codec().serialize(back))
    assert resources(first) == resources(second)
    patient = next(r for r in resources(first).values() if r["resourceType"] == "Patient")
    assert patient["gender"] and patient["birthDate"] and len(patient["identifier"]) == 2
    assert len(patient["telecom"]) == 2 and patient["address"][0]["use"] == "home"
    assert patient["name"][0]["suffix"] == ["S.Kom"] and patient["name"][0]["period"]["start"]


@given(oru_messages())
def test_oru_v2_fhir_v2_fhir_is_stable(raw: str) -> None:
    first, ctx = to_bundle(raw)
    back = MAPPER.from_fhir(first, ctx)
    second, _ = to_bundle(Hl7v2Codec().serialize(back))
    assert resources(first) == resources(second)
    observations = [r for r in resources(first).values() if r["resourceType"] == "Observation"]
    assert all(any(k.startswith("value") for k in o) for o in observations)
