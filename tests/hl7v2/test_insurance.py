"""IN1 / IN2 → Coverage (IG IN1[Coverage]) and the BPJS Kesehatan (JKN) convention for card number and class."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import MapContext
from adapters.bpjs.fhirutil import CS, SYS
from adapters.hl7v2.codec import Hl7v2Codec
from adapters.hl7v2.insurance import SUBSCRIBER_ID_EXT
from adapters.hl7v2.mapper import Hl7v2Mapper
from mappings.registry import MappingRegistry

REGISTRY = MappingRegistry()
SETTINGS = {
    "timezone": "Asia/Jakarta",
    "identifier_systems": {"RSUD": "http://sys-ids.kemkes.go.id/mrn/1", "BPJS": SYS["no_kartu"]},
    "coding_systems": {"BPJSKELAS": CS["hak-kelas"]},
}
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def in1(**fields: str) -> str:
    values = [""] * 56
    values[0] = "IN1"
    for name, value in fields.items():
        values[int(name[1:])] = value
    return "|".join(values).rstrip("|")


def in2(**fields: str) -> str:
    values = [""] * 73
    values[0] = "IN2"
    for name, value in fields.items():
        values[int(name[1:])] = value
    return "|".join(values).rstrip("|")


def adt(*insurance: str) -> str:
    segments = [
        "MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A04^ADT_A01|C1|P|2.5",
        "PID|1||RM1^^^RSUD^MR||SANTOSO^BUDI||19800101|M",
        "PV1|1|O|POLI-A^^^RSUD",
        *insurance,
    ]
    return "\r".join(segments) + "\r"


BPJS_IN1 = in1(
    f1="1", f2="JKN^Jaminan Kesehatan Nasional", f3="BPJS^^^KEMENKES^NIIP", f4="BPJS Kesehatan", f12="20240101",
    f13="20241231", f17="SEL", f35="3^Kelas 3^BPJSKELAS",
)  # fmt: skip


def convert(raw: str, settings: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], MapContext]:
    ctx = MapContext(mappings=REGISTRY, settings=settings or SETTINGS)
    bundle = Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw.encode()), ctx)
    data = bundle.model_dump(mode="json", exclude_none=True, by_alias=True)
    return [e["resource"] for e in data["entry"]], ctx


def of_type(resources: list[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == rtype]


def resolve(resources: list[dict[str, Any]], ref: dict[str, str]) -> dict[str, Any]:
    return next(r for r in resources if f"{r['resourceType']}/{r['id']}" == ref["reference"])


def warnings(ctx: MapContext, message_id: str) -> list[str]:
    return [i.message for i in ctx.outcome.issues if i.message_id == message_id]


def test_bpjs_member_gets_coverage_with_card_number_and_class() -> None:
    resources, ctx = convert(adt(BPJS_IN1, in2(f61="0001234567890^^^BPJS^MB")))
    (coverage,) = of_type(resources, "Coverage")
    patient = of_type(resources, "Patient")[0]
    patient_ref = {"reference": f"Patient/{patient['id']}"}
    assert coverage["beneficiary"] == patient_ref and coverage["subscriber"] == patient_ref
    assert coverage["subscriberId"] == "0001234567890"
    card = next(i for i in coverage["identifier"] if i["system"] == SYS["no_kartu"])
    assert card["value"] == "0001234567890" and card["type"]["coding"][0]["code"] == "MB"
    assert {"system": SYS["no_kartu"], "value": "0001234567890"}.items() <= next(
        i for i in patient["identifier"] if i["system"] == SYS["no_kartu"]
    ).items()
    kelas = next(c for c in coverage["class"] if c["type"]["coding"][0]["code"] == "class")
    assert (kelas["value"], kelas["name"]) == ("3", "Kelas 3")
    assert coverage["relationship"]["coding"] == [
        {"system": SUBSCRIBER_RELATIONSHIP, "code": "self", "display": "Self"}
    ]
    assert coverage["period"] == {"start": "2024-01-01", "end": "2024-12-31"}
    assert coverage["status"] == "active"
    assert resolve(resources, coverage["payor"][0])["name"] == "BPJS Kesehatan"
    assert not of_type(resources, "RelatedPerson")
    assert not warnings(ctx, "GW-1342")
    assert "bpjs-hak-kelas" in ctx.used_mappings


def test_bpjs_card_number_that_is_not_13_digits_is_reported() -> None:
    resources, ctx = convert(adt(BPJS_IN1, in2(f61="12345^^^BPJS^MB")))
    assert of_type(resources, "Coverage")[0]["subscriberId"] == "12345"
    assert any("not 13 digits" in text for text in warnings(ctx, "GW-1342"))


def test_unknown_hak_kelas_is_reported_and_not_named() -> None:
    resources, ctx = convert(adt(BPJS_IN1.replace("3^Kelas 3^BPJSKELAS", "4^^BPJSKELAS")))
    kelas = next(c for c in of_type(resources, "Coverage")[0]["class"] if c["type"]["coding"][0]["code"] == "class")
    assert kelas["value"] == "4" and "name" not in kelas
    assert any("bpjs-hak-kelas" in i.message for i in ctx.outcome.issues if i.message_id == "GW-2201")


def test_insured_child_is_a_related_person_and_the_patient_the_subscribers_parent() -> None:
    insurance = in1(f1="1", f2="PLAN1", f4="ASURANSI SEHAT", f16="SANTOSO^ANI", f17="CHD", f18="20100203",
                    f19="Jl. Melati 2^^Bandung^^40111^ID", f43="F", f49="A-77^^^ASURANSI^SN")  # fmt: skip
    resources, _ = convert(adt(insurance))
    (coverage,) = of_type(resources, "Coverage")
    assert coverage["relationship"]["coding"][0]["code"] == "parent"
    insured = resolve(resources, coverage["subscriber"])
    assert insured["resourceType"] == "RelatedPerson"
    assert insured["relationship"][0]["coding"][0] == {"system": ROLE_CODE, "code": "CHILD", "display": "child"}
    assert insured["name"][0] == {"family": "SANTOSO", "given": ["ANI"]}
    assert (insured["birthDate"], insured["gender"]) == ("2010-02-03", "female")
    assert insured["address"][0]["city"] == "Bandung"
    assert insured["identifier"][0]["value"] == "A-77"
    assert coverage["subscriberId"] == "A-77"
    ext = next(e for e in coverage["extension"] if e["url"] == SUBSCRIBER_ID_EXT)
    assert ext["valueIdentifier"]["value"] == "A-77"


def test_group_employer_is_the_policy_holder_and_a_subscriber_number_is_not_its_id() -> None:
    insurance = in1(f1="1", f2="PLAN1", f4="ASURANSI SEHAT", f8="GRP-9", f9="PT MAJU", f10="E-1^^^HR~S-2^^^HR^SN",
                    f11="PT MAJU JAYA", f17="SEL")  # fmt: skip
    resources, _ = convert(adt(insurance))
    (coverage,) = of_type(resources, "Coverage")
    holder = resolve(resources, coverage["policyHolder"])
    assert holder["name"] == "PT MAJU JAYA"
    assert [i["value"] for i in holder["identifier"]] == ["E-1"]
    assert [e["valueIdentifier"]["value"] for e in coverage["extension"]] == ["S-2"]
    group = next(c for c in coverage["class"] if c["type"]["coding"][0]["code"] == "group")
    assert (group["value"], group["name"]) == ("GRP-9", "PT MAJU")


def test_in1_without_an_insurer_makes_no_coverage() -> None:
    resources, ctx = convert(adt(in1(f1="1", f2="PLAN1", f17="SEL")))
    assert not of_type(resources, "Coverage")
    assert any("insurance company" in text for text in warnings(ctx, "GW-1342"))
    assert "IN1[1]" not in ctx.unused and "IN2[1]" not in ctx.unused


def test_unmapped_relationship_stays_in_table_0063_and_is_reported() -> None:
    resources, ctx = convert(adt(in1(f1="1", f4="ASURANSI", f16="X^Y", f17="UNK")))
    coverage = of_type(resources, "Coverage")[0]
    assert coverage["relationship"]["coding"][0]["system"].endswith("v2-0063")
    assert any("v2-0063-to-subscriber-relationship" in i.message for i in ctx.outcome.issues)


def test_guarantor_who_is_not_the_patient_is_a_related_person() -> None:
    gt1 = (
        "GT1|1|G-1^^^RSUD|SANTOSO^AGUS||Jl. Mawar 3^^Bogor|0811111^PRN^PH|0222^WPN^PH|19750505|M||BRO|3171000000000002"
    )
    resources, _ = convert(adt(gt1))
    (guarantor,) = of_type(resources, "RelatedPerson")
    assert guarantor["relationship"][0]["coding"][0] == {"system": ROLE_CODE, "code": "BRO", "display": "brother"}
    assert guarantor["name"][0]["family"] == "SANTOSO" and guarantor["gender"] == "male"
    assert guarantor["birthDate"] == "1975-05-05" and guarantor["address"][0]["city"] == "Bogor"
    assert [t["use"] for t in guarantor["telecom"]] == ["home", "work"]
    assert [i["value"] for i in guarantor["identifier"]] == ["G-1", "3171000000000002"]


def test_guarantor_who_is_the_patient_is_not_mapped_twice() -> None:
    gt1 = "GT1|1|G-1^^^RSUD|SANTOSO^BUDI||Jl. Mawar 3^^Bogor||||||SEL"
    resources, _ = convert(adt(gt1))
    assert not of_type(resources, "RelatedPerson")
    (patient,) = of_type(resources, "Patient")
    assert "G-1" in [i["value"] for i in patient["identifier"]]


def test_patient_account_number_is_an_account_with_its_guarantors() -> None:
    raw = adt(
        "GT1|1|G-1^^^RSUD|SANTOSO^AGUS||||||||BRO||20240101|20241231",
        "GT1|2||||||||||SEL",
    ).replace("||19800101|M", "||19800101|M||||||||||AC-9^^^RSUD^AN")
    resources, _ = convert(raw)
    (account,) = of_type(resources, "Account")
    patient = of_type(resources, "Patient")[0]
    assert account["identifier"][0]["value"] == "AC-9" and account["status"] == "active"
    assert account["subject"] == [{"reference": f"Patient/{patient['id']}"}]
    brother, itself = account["guarantor"]
    assert resolve(resources, brother["party"])["name"][0]["given"] == ["AGUS"]
    assert brother["period"] == {"start": "2024-01-01", "end": "2024-12-31"}
    assert itself["party"] == {"reference": f"Patient/{patient['id']}"}
    assert len(of_type(resources, "RelatedPerson")) == 1


FIELD = st.text(alphabet=st.sampled_from("0123456789ABDEFMNSLZ^&~\\.-+ :"), max_size=20)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["IN1", "IN2", "GT1"]), st.lists(FIELD, max_size=72)), min_size=1, max_size=4)
)
def test_whatever_the_insurance_fields_hold_the_bundle_is_valid_r4(segments: list[tuple[str, list[str]]]) -> None:
    body = [f"{sid}|{'|'.join(fields)}" for sid, fields in segments]
    resources, _ = convert(adt(*body).replace("|19800101|M\r", "|19800101|M||||||||||AC-1\r"))
    Bundle.model_validate({"resourceType": "Bundle", "type": "collection",
                           "entry": [{"resource": r} for r in resources]})  # fmt: skip


def test_policy_number_of_the_bpjs_payer_is_checked_as_a_card_number() -> None:
    resources, ctx = convert(adt(BPJS_IN1 + "|0001234567890"))
    card = [i for i in of_type(resources, "Coverage")[0]["identifier"] if i["system"] == SYS["no_kartu"]]
    assert [i["value"] for i in card] == ["0001234567890"] and not warnings(ctx, "GW-1342")
    _, ctx = convert(adt(BPJS_IN1 + "|98765"))
    assert any("not 13 digits" in text for text in warnings(ctx, "GW-1342"))
