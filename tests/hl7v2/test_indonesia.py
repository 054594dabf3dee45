"""Indonesian conventions in v2: Kemendagri address codes (XAD-9/10) and practitioner NIK (XCN-9/13)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.base import MapContext
from adapters.hl7v2.codec import Hl7v2Codec
from adapters.hl7v2.datatypes import ADMIN_CODE_EXT
from adapters.hl7v2.mapper import Hl7v2Mapper
from adapters.satusehat.rules import ADMIN_CODE_LENGTHS
from mappings.registry import MappingRegistry

REGISTRY = MappingRegistry()
NIK = "https://fhir.kemkes.go.id/id/nik"
SETTINGS = {"timezone": "Asia/Jakarta", "identifier_systems": {"NIK": NIK, "RSUD": "http://sys-ids.kemkes.go.id/mrn/1"}}


def adt(address: str, doctor: str = "") -> str:
    pv1 = "|".join(["PV1", "1", "O", "POLI-A^^^RSUD", "", "", "", doctor] + [""] * 11 + ["V1^^^RSUD^VN"])
    return (
        "MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A04^ADT_A01|C1|P|2.5\r"
        f"PID|1||RM1^^^RSUD^MR~3171000000000001^^^NIK^NI||SANTOSO^BUDI||19800101|M|||{address}\r{pv1}\r"
    )


def convert(raw: str) -> tuple[dict[str, Any], MapContext]:
    ctx = MapContext(mappings=REGISTRY, settings=SETTINGS)
    bundle = Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw.encode()), ctx)
    return bundle.model_dump(mode="json", exclude_none=True, by_alias=True), ctx


def first(bundle: dict[str, Any], rtype: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype)


def admin_parts(address: dict[str, Any]) -> dict[str, str]:
    ext = next(e for e in address["extension"] if e["url"] == ADMIN_CODE_EXT)
    return {p["url"]: p["valueCode"] for p in ext["extension"]}


def test_village_code_and_rt_rw_become_administrative_code() -> None:
    bundle, ctx = convert(adt("Jl. Merdeka 1^^Jakarta Pusat^DKI Jakarta^10110^ID^H^^3171031001^003/005"))
    address = first(bundle, "Patient")["address"][0]
    parts = admin_parts(address)
    assert parts == {"province": "31", "city": "3171", "district": "317103", "village": "3171031001",
                     "rt": "003", "rw": "005"}  # fmt: skip
    assert "district" not in address and address["city"] == "Jakarta Pusat"
    for name, length in ADMIN_CODE_LENGTHS.items():  # the lengths the SATUSEHAT rules check
        assert len(parts[name]) == length
    assert not [i for i in ctx.outcome.issues if i.message_id in ("GW-1348", "GW-1349")]


def test_dotted_village_code_is_accepted() -> None:
    bundle, _ = convert(adt("Jl. A^^Kota^^^ID^H^^31.71.03.1001"))
    assert admin_parts(first(bundle, "Patient")["address"][0])["village"] == "3171031001"


def test_malformed_village_code_is_a_located_warning_without_extension() -> None:
    bundle, ctx = convert(adt("Jl. A^^Kota^^^ID^H^^31710^1/2"))
    address = first(bundle, "Patient")["address"][0]
    assert "extension" not in address and address["district"] == "31710"
    warned = [i for i in ctx.outcome.issues if i.message_id == "GW-1348"]
    assert len(warned) == 1 and warned[0].severity == "warning" and warned[0].location == ("PID[1]-11.9",)


def test_malformed_rt_rw_drops_only_rt_rw() -> None:
    bundle, ctx = convert(adt("Jl. A^^Kota^^^ID^H^^3171031001^RT 1"))
    parts = admin_parts(first(bundle, "Patient")["address"][0])
    assert set(parts) == {"province", "city", "district", "village"}
    assert [i.location for i in ctx.outcome.issues if i.message_id == "GW-1349"] == [("PID[1]-11.10",)]


def test_convention_can_be_switched_off() -> None:
    ctx = MapContext(mappings=REGISTRY, settings={**SETTINGS, "kemendagri_address_codes": False})
    raw = adt("Jl. A^^Kota^^^ID^H^^3171031001^001/002").encode()
    bundle = Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw), ctx).model_dump(mode="json", exclude_none=True)
    address = first(bundle, "Patient")["address"][0]
    assert "extension" not in address and address["district"] == "3171031001"


def test_administrative_code_round_trips_through_v2() -> None:
    bundle, ctx = convert(adt("Jl. Merdeka 1^^Jakarta^^^ID^H^^3171031001^001/002"))
    back = Hl7v2Mapper().from_fhir(bundle, ctx)
    assert back.get("PID-11.9") == "3171031001" and back.get("PID-11.10") == "001/002"
    again, _ = convert(Hl7v2Codec().serialize(back).decode())
    assert first(again, "Patient")["address"] == first(bundle, "Patient")["address"]


def test_practitioner_nik_from_xcn_9_and_13_is_not_a_date() -> None:
    doctor = "3171000000000009^WIJAYA^ANI^^^dr.^Sp.PD^^NIK^L^^^NNIDN"
    bundle, ctx = convert(adt("Jl. A^^Kota", doctor))
    practitioner = first(bundle, "Practitioner")
    assert practitioner["identifier"] == [
        {"system": NIK, "value": "3171000000000009",
         "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NNIDN"}]}}
    ]  # fmt: skip
    name = practitioner["name"][0]
    assert name == {"use": "official", "family": "WIJAYA", "given": ["ANI"], "prefix": ["dr."], "suffix": ["Sp.PD"]}
    assert not [i for i in ctx.outcome.issues if i.message_id == "GW-1343"]  # NNIDN is no longer read as a date


def test_practitioner_nik_round_trips_through_v2() -> None:
    doctor = "3171000000000009^WIJAYA^ANI^^^dr.^Sp.PD^^NIK^L^^^NNIDN"
    bundle, ctx = convert(adt("Jl. A^^Kota", doctor))
    back = Hl7v2Mapper().from_fhir(bundle, ctx)
    assert back.get("PV1-7.1") == "3171000000000009" and back.get("PV1-7.9") == "NIK"
    assert back.get("PV1-7.13") == "NNIDN" and back.get("PV1-7.10") == "L"
    again, _ = convert(Hl7v2Codec().serialize(back).decode())
    assert first(again, "Practitioner") == first(bundle, "Practitioner")


def test_tq1_timing_and_presented_form_and_death_cause() -> None:
    raw = (
        "MSH|^~\\&|LIS|LAB|GW|RS|20240101090000||ORU^R01|L1|P|2.5.1\r"
        "PID|1||RM1^^^RSUD^MR||SANTOSO^BUDI||19800101|M\r"
        "PDA|I21^Acute myocardial infarction^I10\r"
        "ORC|RE|P1^SIMRS|F1^LIS\r"
        "TQ1|1|2^&tab|BID&Twice a day&HL70335^^^^12^h^^PC^120^s||||20240101|20240110|S|if pain|after meals||3^d|6\r"
        "OBR|1|||24331-1^Lipid panel^LN|||20240101081500\r"
        "OBX|1|ED|11502-2^Report^LN||^application^pdf^Base64^SGVsbG8=||||||F\r"
        "OBX|2|RP|11502-2^Report^LN||https://lis.example/r/1^^IM^JPEG||||||F\r"
    )
    bundle, ctx = convert(raw)
    order = first(bundle, "ServiceRequest")
    assert order["priority"] == "stat" and order["quantityQuantity"] == {"value": 2, "unit": "tab"}
    assert order["occurrenceTiming"]["repeat"] == {
        "period": 12, "periodUnit": "h", "when": ["PC"], "offset": 2, "duration": 3, "durationUnit": "d", "count": 6,
        "boundsPeriod": {"start": "2024-01-01", "end": "2024-01-10"}}  # fmt: skip
    assert order["asNeededCodeableConcept"] == {"text": "if pain"} and order["note"] == [{"text": "after meals"}]
    report = first(bundle, "DiagnosticReport")
    assert {i["value"] for i in report["identifier"]} == {"P1", "F1"}  # ORC-2/3 stand for the empty OBR-2/3
    assert report["presentedForm"] == [{"contentType": "application/pdf", "data": "SGVsbG8="},
                                       {"contentType": "image/jpeg", "url": "https://lis.example/r/1"}]  # fmt: skip
    causes = [r for r in (e["resource"] for e in bundle["entry"]) if r["resourceType"] == "Condition"]
    assert causes[0]["code"]["coding"][0]["code"] == "I21"


def test_satusehat_address_rules_accept_the_extension() -> None:
    from adapters.satusehat.rules import Node, RuleContext, check_addresses

    bundle, _ = convert(adt("Jl. Merdeka 1^^Jakarta^^^ID^H^^3171031001^001/002"))
    rc = RuleContext(organization_id="100025753", validate_code=None, vital_unit=lambda code: None)
    issues = list(check_addresses(Node(first(bundle, "Patient"), "Patient"), rc))
    assert not [i for i in issues if i.message_id in ("GW-4132", "GW-4133")], issues


@given(
    village=st.text(alphabet="0123456789", min_size=10, max_size=10),
    rt=st.integers(0, 999),
    rw=st.integers(0, 999),
)
def test_any_village_code_round_trips(village: str, rt: int, rw: int) -> None:
    bundle, ctx = convert(adt(f"Jl. A^^Kota^^^ID^H^^{village}^{rt:03d}/{rw:03d}"))
    parts = admin_parts(first(bundle, "Patient")["address"][0])
    assert [parts[k] for k in ("province", "city", "district", "village")] == [village[:n] for n in (2, 4, 6, 10)]
    back = Hl7v2Mapper().from_fhir(bundle, ctx)
    assert back.get("PID-11.9") == village and back.get("PID-11.10") == f"{rt:03d}/{rw:03d}"


def test_xad9_text_without_a_code_is_the_district() -> None:
    """XAD-9 as CWE: no Kemendagri code but a text (CWE-2 or CWE-9) → Address.district, no extension."""
    for county, district in (("&Kab. Bogor", "Kab. Bogor"), ("&&&&&&&&Kota Depok", "Kota Depok"), ("BGR", "BGR")):
        settings = {**SETTINGS, "kemendagri_address_codes": False} if county == "BGR" else SETTINGS
        ctx = MapContext(mappings=REGISTRY, settings=settings)
        raw = adt(f"Jl. Merdeka 1^^Bogor^Jawa Barat^16111^IDN^H^^{county}").encode()
        bundle = Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw), ctx).model_dump(mode="json", exclude_none=True)
        address = first(bundle, "Patient")["address"][0]
        assert address["district"] == district and "extension" not in address
