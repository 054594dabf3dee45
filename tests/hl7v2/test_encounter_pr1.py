"""PR1 → Procedure per the IG PR1 map: identifier, text, category, performers, reason, location, parent."""

from __future__ import annotations

from typing import Any

from tests.hl7v2.test_indonesia import convert

MSH = "MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A01^ADT_A01|C1|P|2.5\r"
PID = "PID|1||RM1^^^RSUD^MR||SANTOSO^BUDI||19800101|M\r"
PV1 = "PV1|1|I|W1^^^RSUD\r"


def pr1(**fields: str) -> str:
    values = [""] * 26
    values[0] = "PR1"
    values[1] = "1"
    for key, text in fields.items():
        values[int(key[1:])] = text
    return "|".join(values) + "\r"


def procedures(*segments: str) -> list[dict[str, Any]]:
    bundle, _ = convert(MSH + PID + PV1 + "".join(segments))
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"]


def test_pr1_fields_per_ig() -> None:
    segment = pr1(f3="0DTJ4ZZ^Appendectomy^I10P", f4="Laparoscopic appendectomy", f5="202401011030+0700",
                  f6="D^Diagnostic^HL70230", f8="A1^ANESTESI^ADI", f11="S1^BEDAH^BUDI", f12="P1^PRAKTISI^CITRA",
                  f15="K35.8^Acute appendicitis^I10", f19="PRC9^RSUD", f23="OK^2^^RSUD", f25="PRC1^RSUD")  # fmt: skip
    found = procedures(segment)
    (proc,) = [p for p in found if p.get("code")]
    (parent,) = [p for p in found if not p.get("code")]
    assert proc["status"] == "unknown" and proc["code"]["text"] == "Laparoscopic appendectomy"
    assert proc["identifier"][0]["value"] == "PRC9"
    assert proc["category"]["coding"][0]["code"] == "D"
    assert proc["performedDateTime"] == "2024-01-01T10:30:00+07:00"
    assert proc["reasonCode"][0]["coding"][0]["code"] == "K35.8"
    functions = [(p["function"].get("coding", [{}])[0].get("code"), p["function"]["text"]) for p in proc["performer"]]
    assert functions == [("88189002", "Anesthesiologist"), ("304292004", "Surgeon"), (None, "Procedure Practitioner")]
    assert proc["partOf"] == [{"reference": f"Procedure/{parent['id']}"}]
    assert parent["identifier"][0]["value"] == "PRC1" and parent["status"] == "unknown"
    assert proc["location"]["reference"].startswith("Location/")


def test_code_text_from_cwe_9_wins_over_pr1_4() -> None:
    (proc,) = procedures(pr1(f3="X1^Biopsy^SCT^^^^^^Biopsy of colon", f4="old description"))
    assert proc["code"]["text"] == "Biopsy of colon"


def test_same_identifier_is_one_procedure() -> None:
    segment = pr1(f3="X1^Biopsy^SCT", f5="20240101", f19="PRC9^RSUD")
    again = pr1(f3="X1^Biopsy^SCT", f5="20240102", f19="PRC9^RSUD")
    assert len(procedures(segment, again)) == 1
    assert len(procedures(pr1(f3="X1^Biopsy^SCT", f5="20240101"), pr1(f3="X1^Biopsy^SCT", f5="20240102"))) == 2
