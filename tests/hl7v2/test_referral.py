"""REF^I12 → FHIR referral → BPJS VClaim Rujukan 2.0 insert (built and checked by the BPJS adapter's own code)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import MapContext
from adapters.bpjs.fhirutil import SYS
from adapters.bpjs.insert_fhir import insert_from_fhir
from adapters.bpjs.schemas import schema_issues
from adapters.hl7v2.codec import Hl7v2Codec
from adapters.hl7v2.mapper import Hl7v2Mapper
from mappings.registry import MappingRegistry
from tests.hl7v2.conftest import MS

REGISTRY = MappingRegistry()
SETTINGS: dict[str, Any] = {
    "timezone": "Asia/Jakarta",
    "bpjs_user": "simrs-rsud",
    # the facility configures its authorities to the systems the BPJS adapter uses
    "identifier_systems": {
        "SEP": SYS["sep"],
        "PPK": SYS["ppk"],
        "NIK": SYS["nik"],
        "RSUD": SYS["mr"],
        "NOKA": SYS["no_kartu"],
    },  # fmt: skip
    "coding_systems": {"BPJSPOLI": "urn:jembatan:codesystem:bpjs-poli"},
}


def ref_message(disposition: str = "AM", category: str = "O", poli: str = "INT^Penyakit Dalam^BPJSPOLI") -> str:
    pv1 = "|".join(["PV1", "1", "O", "POLI-INT^^^RSUD", "", "", "", ""] + [""] * 11 + ["0301R0011124V000001^^^SEP"])
    return "\r".join([
        "MSH|^~\\&|SIMRS|RSUD|GW|BPJS|20241120093000||REF^I12^REF_I12|R1|P|2.5",
        f"RF1|A^Accepted^HL70283|R^Routine^HL70280|{poli}|{disposition}|{category}^Outpatient^HL70284|"
        "RJK-0001^RSUD|20241121|20241205|20241120|O^Provider Ordered^HL70336",
        "NTE|||Mohon penanganan lanjut",
        "PRD|RP|WIJAYA^ANI^^^dr.|||||3171000000000009^NIK",
        "PRD|RT|SANTOSO^BUDI^^^dr.^Sp.PD||||||||RSUP Rujukan^^^^^PPK^^^^0302R002",
        "PID|1||RM001^^^RSUD^MR~0001234567890^^^NOKA||SANTOSO^SITI||19800101|F",
        "DG1|1||K63.3^Ulcer of intestine^I10|||F",
        pv1,
    ]) + "\r"  # fmt: skip


def convert(raw: str, settings: dict[str, Any] = SETTINGS) -> tuple[dict[str, Any], MapContext]:
    ctx = MapContext(mappings=REGISTRY, settings=settings)
    bundle = Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw.encode()), ctx)
    return bundle.model_dump(mode="json", exclude_none=True, by_alias=True), ctx


def referral(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest")


def test_ref_i12_gives_a_schema_valid_rujukan_insert() -> None:
    bundle, ctx = convert(ref_message())
    insert = insert_from_fhir(bundle, ctx)
    assert insert == {"request": {"t_rujukan": {
        "noSep": "0301R0011124V000001", "tglRujukan": "2024-11-20", "tglRencanaKunjungan": "2024-11-21",
        "ppkDirujuk": "0302R002", "jnsPelayanan": "2", "catatan": "Mohon penanganan lanjut",
        "diagRujukan": "K63.3", "tipeRujukan": "0", "poliRujukan": "INT", "user": "simrs-rsud"}}}  # fmt: skip
    assert schema_issues("vclaim-rujukan-insert", insert).ok
    assert not [i for i in ctx.outcome.issues if i.severity in ("error", "fatal")]


@pytest.mark.parametrize(
    ("disposition", "category", "tipe", "pelayanan"), [("RP", "I", "1", "1"), ("SO", "A", "1", "2")]
)
def test_disposition_and_category_go_through_the_maps(
    disposition: str, category: str, tipe: str, pelayanan: str
) -> None:
    bundle, ctx = convert(ref_message(disposition, category))
    t = insert_from_fhir(bundle, ctx)["request"]["t_rujukan"]
    assert (t["tipeRujukan"], t["jnsPelayanan"]) == (tipe, pelayanan)
    assert schema_issues("vclaim-rujukan-insert", {"request": {"t_rujukan": t}}).ok


def test_back_referral_stated_with_the_referral_type_code() -> None:
    settings = {
        **SETTINGS,
        "coding_systems": {**SETTINGS["coding_systems"], "RUJTYPE": "urn:jembatan:codesystem:referral-type"},
    }
    bundle, ctx = convert(ref_message("back-referral^Rujuk balik^RUJTYPE", poli=""), settings)
    t = insert_from_fhir(bundle, ctx)["request"]["t_rujukan"]
    assert t["tipeRujukan"] == "2" and t["poliRujukan"] == ""
    assert schema_issues("vclaim-rujukan-insert", {"request": {"t_rujukan": t}}).ok


def test_referral_resource_shape() -> None:
    bundle, _ = convert(ref_message())
    sr = referral(bundle)
    assert sr["status"] == "active" and sr["priority"] == "routine" and sr["intent"] == "order"
    assert sr["category"][0]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                              "code": "AMB", "display": "ambulatory"}  # fmt: skip
    assert sr["orderDetail"][0]["coding"][0]["code"] == "full"
    assert sr["occurrencePeriod"] == {"start": "2024-11-21", "end": "2024-12-05"}
    assert sr["subject"]["reference"].startswith("Patient/") and sr["encounter"]["reference"].startswith("Encounter/")
    assert sr["reasonReference"][0]["reference"].startswith("Condition/")
    assert sr["requester"]["reference"].startswith("Practitioner/")
    orgs = {
        e["resource"]["id"]: e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Organization"
    }
    target = orgs[sr["performer"][0]["reference"].split("/")[1]]
    assert target["identifier"] == [{"system": SYS["ppk"], "value": "0302R002"}] and target["name"] == "RSUP Rujukan"


def test_unmapped_disposition_is_reported_not_passed_through() -> None:
    bundle, ctx = convert(ref_message("XX"))
    codings = referral(bundle)["orderDetail"][0]["coding"]
    assert [c["system"] for c in codings] == ["http://terminology.hl7.org/CodeSystem/v2-0282"]
    assert any(i.message_id == "GW-2201" and "v2-0282-to-referral-type" in i.message for i in ctx.outcome.issues)


def test_sample_ref_i12_referral() -> None:
    raw = (MS / "hl7v2" / "REF-I12-01.hl7").read_text()
    bundle, _ = convert(raw, {"timezone": "Asia/Jakarta"})
    sr = referral(bundle)
    assert sr["status"] == "on-hold" and sr["authoredOn"] == "2022-01-25" and sr["priority"] == "routine"
    assert sr["occurrencePeriod"] == {"start": "2022-01-25", "end": "2022-02-10"}
    assert len(sr["performer"]) == 2 and sr["reasonReference"]
    requests = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"]
    assert len(requests) == 2  # the referral and the OBR lab order stay distinct


ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@given(
    sep=st.text(alphabet=ALNUM, min_size=19, max_size=19),
    ppk=st.text(alphabet=ALNUM, min_size=8, max_size=8),
    disposition=st.sampled_from(["AM", "RP", "SO", "WR"]),
    category=st.sampled_from(["I", "O", "A"]),
    planned=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    poli=st.sampled_from(["INT", "ANA", "OBG", "JAN", "MAT"]),
)
def test_generated_referrals_give_schema_valid_inserts(
    sep: str, ppk: str, disposition: str, category: str, planned: date, poli: str
) -> None:
    raw = ref_message(disposition, category, f"{poli}^Poli^BPJSPOLI")
    raw = (
        raw.replace("0301R0011124V000001", sep).replace("0302R002", ppk).replace("20241121", planned.strftime("%Y%m%d"))
    )
    bundle, ctx = convert(raw)
    t = insert_from_fhir(bundle, ctx)["request"]["t_rujukan"]
    assert (t["noSep"], t["ppkDirujuk"], t["poliRujukan"]) == (sep, ppk, poli)
    assert t["tglRencanaKunjungan"] == planned.isoformat()
    assert schema_issues("vclaim-rujukan-insert", {"request": {"t_rujukan": t}}).ok


def test_configured_coding_system_goes_back_to_its_name() -> None:
    from adapters.hl7v2.from_fhir import MessageWriter

    ctx = MapContext(mappings=REGISTRY, settings=SETTINGS)
    writer = MessageWriter([], ctx)
    assert writer.cwe({"coding": [{"system": "urn:jembatan:codesystem:bpjs-poli", "code": "INT"}]}) == "INT^^BPJSPOLI"
