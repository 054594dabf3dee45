"""IG segment mappings added for the golden comparison: repeated OBX values, PV2, DG1, referral fields."""

from __future__ import annotations

from tests.hl7v2.test_indonesia import convert, first

ADT = (
    "MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A01^ADT_A01|C1|P|2.5\r"
    "PID|1||RM1^^^RSUD^MR||SANTOSO^BUDI||19800101|M|||Jl. A^^Kota||0812^^CP||ind^Indonesian^HL70296\r"
    "PV1|1|I|W1^^^RSUD||||D1^DOKTER^ANI\r"
    "PV2|||||||||||3||D2^RUJUK^BUDI||||||||||||2^Urgent^HL70217|||||||||||||C^Car\r"
    "DG1|1||I21^Acute myocardial infarction^I10||20240101|A|||||||||1|||||DX1^RSUD||DX0^RSUD\r"
    "OBX|1|NM|8867-4^Heart rate^LN||60~120|/min^/min^UCUM|70-80|||||F\r"
)


def test_repeated_numeric_value_becomes_components() -> None:
    bundle, _ = convert(ADT)
    obs = first(bundle, "Observation")
    assert "valueQuantity" not in obs
    assert [c["valueQuantity"]["value"] for c in obs["component"]] == [60, 120]
    assert all(c["code"] == obs["code"] and c["referenceRange"][0]["text"] == "70-80" for c in obs["component"])


def test_pv2_dg1_and_patient_ig_fields() -> None:
    bundle, _ = convert(ADT)
    encounter = first(bundle, "Encounter")
    assert encounter["priority"]["coding"][0]["code"] == "UR" and encounter["length"]["value"] == 3
    assert encounter["diagnosis"][0]["use"]["coding"][0]["code"] == "AD"
    assert {p["type"][0]["coding"][0]["code"] for p in encounter["participant"]} == {"ATND", "REF"}
    assert encounter["extension"][0]["valueCoding"]["code"] == "C"
    condition = next(
        e["resource"] for e in bundle["entry"] if e["resource"].get("identifier", [{}])[0].get("value") == "DX1"
    )
    assert condition["extension"][-1]["url"].endswith("condition-dueTo")
    patient = first(bundle, "Patient")
    assert patient["telecom"][0]["use"] == "home"  # IG: PID-13 without XTN-2 is home, whatever XTN-3 says
    assert patient["communication"][0]["language"]["coding"][0] == {
        "system": "urn:ietf:bcp:47", "code": "id", "display": "Indonesian"}  # fmt: skip
