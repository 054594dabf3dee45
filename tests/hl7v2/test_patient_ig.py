"""Patient fields from the IG PID, PD1, PV1[Patient] and NK1[Patient] sheets, and the table maps they use."""

from __future__ import annotations

from typing import Any

from tests.hl7v2.test_indonesia import convert, first

V2 = "http://terminology.hl7.org/CodeSystem/v2-"
EXT = "http://hl7.org/fhir/StructureDefinition/"
MSH = "MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A04^ADT_A01|C1|P|2.5\r"


def pid(**fields: str) -> str:
    values = {1: "1", 3: "RM1^^^RSUD^MR", 5: "SANTOSO^BUDI", 7: "19800101", 8: "M"}
    values.update({int(k[1:]): v for k, v in fields.items()})
    return "|".join(["PID"] + [values.get(i, "") for i in range(1, max(values) + 1)]) + "\r"


def patient(raw: str) -> tuple[dict[str, Any], list[Any]]:
    bundle, ctx = convert(MSH + raw)
    return first(bundle, "Patient"), ctx.outcome.issues


def extension(resource: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e["url"] == EXT + name]


def test_identifier_type_gets_the_table_0203_display() -> None:
    found, _ = patient(pid(f3="RM1^^^RSUD^MR~3171000000000001^^^NIK^NNIDN", f19="0001234567890"))
    types = {i["value"]: i["type"]["coding"][0] for i in found["identifier"]}
    assert types["RM1"] == {"system": V2 + "0203", "code": "MR", "display": "Medical record number"}
    assert types["0001234567890"]["display"] == "Social Beneficiary Identifier"  # PID-19 outside the US: SB
    assert "display" not in types["3171000000000001"]  # NNxxx is a pattern, not a table code


def test_marital_status_goes_through_the_ig_map() -> None:
    married, _ = patient(pid(f16="M^Kawin^HL70002"))
    assert married["maritalStatus"]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M", "display": "Married"}
    ]
    single, _ = patient(pid(f16="S"))
    assert single["maritalStatus"]["coding"][0]["code"] == "S"
    assert single["maritalStatus"]["coding"][0]["display"] == "Never Married"


def test_religion_goes_through_the_ig_map_and_an_unmapped_code_is_kept_and_reported() -> None:
    muslim, _ = patient(pid(f17="MOS^Islam^HL70006"))
    (religion,) = extension(muslim, "patient-religion")
    assert religion["valueCodeableConcept"]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ReligiousAffiliation", "code": "1023", "display": "Islam"}
    ]
    other, issues = patient(pid(f17="AME"))
    (religion,) = extension(other, "patient-religion")
    assert religion["valueCodeableConcept"]["coding"] == [{"system": V2 + "0006", "code": "AME"}]
    assert [i.expression for i in issues if i.message_id == "GW-2201"] == [("PID[1]-17",)]


def test_mothers_maiden_name_is_the_whole_name_in_assembly_order() -> None:
    given_first, _ = patient(pid(f6="RAHAYU^SITI^AMINAH"))
    assert extension(given_first, "patient-mothersMaidenName")[0]["valueString"] == "SITI AMINAH RAHAYU"
    family_first, _ = patient(pid(f6="RAHAYU^SITI^^^^^^^^^F"))
    assert extension(family_first, "patient-mothersMaidenName")[0]["valueString"] == "RAHAYU SITI"


def test_pd1_place_of_worship_and_pv1_vip_indicator() -> None:
    pd1 = "PD1" + "|" * 14 + "Masjid Istiqlal^^^^^^^^^MSJ-01~^^^^^^^^^GKI-02\r"
    pv1 = "PV1|1|O|POLI-A^^^RSUD|||||||||||||VIP^Pasien VIP^L^^^^^^Tamu negara\r"
    found, _ = patient(pid() + pd1 + pv1)
    assert [e["valueString"] for e in extension(found, "patient-congregation")] == ["Masjid Istiqlal", "GKI-02"]
    (vip,) = extension(found, "patient-importance")
    assert vip["valueCodeableConcept"]["text"] == "Tamu negara"
    assert vip["valueCodeableConcept"]["coding"][0]["code"] == "VIP"


def test_vip_indicator_of_another_patients_visit_is_not_taken() -> None:
    raw = pid() + pid(f3="RM2^^^RSUD^MR") + "PV1|1|O|POLI-A^^^RSUD|||||||||||||VIP\r"
    bundle, _ = convert(MSH + raw)
    patients = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert [bool(extension(p, "patient-importance")) for p in patients] == [False, True]


def test_nk1_contact_telecoms_and_role_display() -> None:
    nk1 = ("NK1|1|WATI^SRI|SPO^Istri^HL70063||0812111^PRN^CP|0213333^WPN^PH|C||||||||F"
           + "|" * 25 + "0813444^ORN^CP|0214555^WPN^PH\r")  # fmt: skip
    found, _ = patient(pid() + nk1)
    (contact,) = found["contact"]
    assert [(t["value"], t.get("use")) for t in contact["telecom"]] == [
        ("0812111", "home"), ("0213333", "work"), ("0813444", "home"), ("0214555", "work")]  # fmt: skip
    assert contact["relationship"][0]["coding"] == [
        {"system": V2 + "0131", "code": "C", "display": "Emergency Contact"}
    ]
    assert contact["gender"] == "female"


def test_contact_role_display_from_the_sender_is_kept() -> None:
    found, _ = patient(pid() + "NK1|1|WATI^SRI|SPO||||N^Keluarga terdekat\r")
    assert found["contact"][0]["relationship"][0]["coding"][0]["display"] == "Keluarga terdekat"


def test_county_code_beside_an_address_with_its_own_xad_9_is_an_address_of_its_own() -> None:
    found, _ = patient(pid(f11="Jl. A^^Kota^^^ID^H^^&Kecamatan A", f12="3171"))
    assert found["address"][1] == {"district": "3171"}
    alone, _ = patient(pid(f11="Jl. A^^Kota^^^ID^H", f12="3171"))
    assert alone["address"] == [{"use": "home", "line": ["Jl. A"], "city": "Kota", "country": "ID", "district": "3171"}]


def test_patients_own_identifiers_from_in2_61_and_db1_3() -> None:
    in1 = "IN1|1|BPJS^JKN|0001^^^BPJS^NIIP|BPJS Kesehatan\r"
    in2 = "IN2|" + "|" * 60 + "0001234567890^^^BPJS^MB\r"
    db1 = "DB1|1|PT|DIS-77^^^DINSOS^PN|Y\r"
    found, _ = patient(pid() + in1 + in2 + db1 + "DB1|2|GT|DIS-99^^^DINSOS^PN|Y\r")
    values = {i["value"]: i["type"]["coding"][0].get("display") for i in found["identifier"]}
    assert values == {"RM1": "Medical record number", "0001234567890": "Member Number", "DIS-77": "Person number"}


def test_in2_identifiers_of_the_insured_are_not_the_patients() -> None:
    in2 = "IN2|1|||||MC-1|||||MI-1\r"  # IN2-6 Medicare, IN2-10 military id: the insured's, maybe not the patient
    found, _ = patient(pid() + "IN1|1|P1\r" + in2)
    assert [i["value"] for i in found["identifier"]] == ["RM1"]


def gt1(relationship: str) -> str:
    fields = {2: "G-77^^^RSUD^MR", 3: "SANTOSO^BUDI~SANTOSO^B", 5: "Jl. Mawar 2^^Bandung^^^ID", 6: "0812999^PRN^CP",
              7: "0227777^WPN^PH", 11: relationship, 12: "3273000000000002", 16: "PT MAJU JAYA",
              17: "Jl. Industri 5^^Bandung", 18: "0226666^WPN^PH", 31: "20200101", 45: "SANTOSO^RINA",
              46: "0813111^PRN^CP"}  # fmt: skip
    return "|".join(["GT1"] + [fields.get(i, "") for i in range(1, 47)]) + "\r"


def test_guarantor_who_is_the_patient_adds_the_patients_own_data() -> None:
    found, _ = patient(pid() + gt1("SEL^Self^HL70063"))
    assert [i["value"] for i in found["identifier"]] == ["RM1", "G-77", "3273000000000002"]
    assert [n.get("given") for n in found["name"]] == [["BUDI"], ["B"]]  # the same SANTOSO^BUDI only once
    assert found["address"][0]["city"] == "Bandung"
    assert [(t["value"], t["use"]) for t in found["telecom"]] == [("0812999", "home"), ("0227777", "work")]
    employer, person = found["contact"]
    assert employer["name"] == {"family": "PT MAJU JAYA"} and employer["period"] == {"start": "2020-01-01"}
    assert employer["relationship"][0]["coding"] == [{"system": V2 + "0131", "code": "E", "display": "Employer"}]
    assert person == {"name": {"family": "SANTOSO", "given": ["RINA"]}, "telecom": [{"system": "phone",
                      "value": "0813111", "use": "home"}]}  # fmt: skip


def test_guarantor_who_is_someone_else_adds_nothing_to_the_patient() -> None:
    found, _ = patient(pid() + gt1("FTH^Father^HL70063"))
    assert [i["value"] for i in found["identifier"]] == ["RM1"]
    assert "contact" not in found and "address" not in found and len(found["name"]) == 1


def test_nk1_related_person_follows_the_ig_relationship_map_and_fields() -> None:
    nk1 = ("NK1|1|WATI^SRI|SPO^Istri^HL70063||0812111^PRN^CP||C|20200101||||NIK-9^^^NIK^NNIDN|||F|19820304||||"
           "ind^Indonesian^HL70296" + "|" * 10 + "WATI^DEWI|0815222^PRN^CP|Jl. Melati 3^^Bogor\r")  # fmt: skip
    bundle, _ = convert(MSH + pid() + nk1)
    person = first(bundle, "RelatedPerson")
    assert person["relationship"][0]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "SPS", "display": "spouse"}
    ]
    assert person["relationship"][1]["coding"][0]["display"] == "Emergency Contact"  # NK1-7, table 0131
    assert [n["given"] for n in person["name"]] == [["SRI"], ["DEWI"]]  # NK1-2, NK1-30
    assert person["identifier"][0]["value"] == "NIK-9"  # NK1-12
    assert (person["gender"], person["birthDate"], person["period"]) == (
        "female",
        "1982-03-04",
        {"start": "2020-01-01"},
    )
    assert person["communication"][0]["language"]["coding"][0]["code"] == "id"
    assert [a["city"] for a in person["address"]] == ["Bogor"]  # NK1-32
    assert [t["value"] for t in person["telecom"]] == ["0812111", "0815222"]  # NK1-5, NK1-31


def test_unmapped_nk1_sex_is_reported_once() -> None:
    _, issues = patient(pid() + "NK1|1|WATI^SRI|SPO||||||||||||Q\r")
    assert [i.expression for i in issues if i.message_id == "GW-2201"] == [("NK1[1]-15",)]


def test_pid_21_mothers_identifier_is_a_related_person() -> None:
    bundle, _ = convert(MSH + pid(f21="RM0^^^RSUD^MR"))
    mother = first(bundle, "RelatedPerson")
    assert mother["identifier"][0]["value"] == "RM0"
    assert mother["relationship"][0]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH", "display": "mother"}
    ]
    assert mother["patient"]["reference"] == "Patient/" + first(bundle, "Patient")["id"]
