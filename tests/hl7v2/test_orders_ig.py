"""ORC/OBR/OBX → ServiceRequest, DiagnosticReport, Observation details from the IG maps."""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.order_timing import time_of_day
from tests.hl7v2.test_indonesia import convert, first

MSH = "MSH|^~\\&|LIS|RSUD|GW|KEMKES|20240101083000||{event}|C1|P|2.5\r"
PID = "PID|1||RM1^^^RSUD^MR||SANTOSO^BUDI||19800101|M\r"


def orc(control: str = "NW", status: str = "", tq: str = "", order_type: str = "", placer: str = "P1^RSUD",
        filler: str = "", group: str = "") -> str:  # fmt: skip
    fields = ["ORC", control, placer, filler, group, status, "", tq, "", "202401010800+0700"] + [""] * 20
    fields[29] = order_type
    return "|".join(fields) + "\r"


def obr(placer: str = "", filler: str = "", requested: str = "", tq: str = "", parent: str = "",
        alternate: str = "") -> str:  # fmt: skip
    fields = ["OBR", "1", placer, filler, "24331-1^Lipid panel^LN", "", requested] + [""] * 47
    fields[27], fields[29], fields[53] = tq, parent, alternate
    return "|".join(fields) + "\r"


def oru(*segments: str, event: str = "ORU^R01^ORU_R01") -> tuple[dict[str, Any], Any]:
    return convert(MSH.format(event=event) + PID + "".join(segments))


def resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def test_status_comes_from_orc_1_when_orc_5_is_empty() -> None:
    bundle, ctx = oru(orc("NW"), obr())
    assert first(bundle, "ServiceRequest")["status"] == "active"
    bundle, ctx = oru(orc("OH"), obr())
    assert first(bundle, "ServiceRequest")["status"] == "on-hold"
    assert "v2-0119-to-request-status" in ctx.used_mappings


def test_an_order_control_without_status_gives_unknown_and_a_warning() -> None:
    bundle, ctx = oru(orc("RE"), obr())
    assert first(bundle, "ServiceRequest")["status"] == "unknown"
    assert ctx.outcome.ok
    assert any(i.message_id == "GW-2201" and i.severity == "warning" for i in ctx.outcome.issues)


def test_orc_5_wins_over_orc_1() -> None:
    bundle, _ = oru(orc("NW", status="CM"), obr())
    assert first(bundle, "ServiceRequest")["status"] == "completed"


def test_authored_on_only_for_a_new_order() -> None:
    bundle, _ = oru(orc("NW"), obr())
    assert first(bundle, "ServiceRequest")["authoredOn"] == "2024-01-01T08:00:00+07:00"
    bundle, _ = oru(orc("RE"), obr())
    assert "authoredOn" not in first(bundle, "ServiceRequest")


def test_order_type_becomes_location_code_through_the_versioned_map() -> None:
    bundle, ctx = oru(orc(order_type="O"), obr())
    assert first(bundle, "ServiceRequest")["locationCode"] == [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "OF",
        "display": "Outpatient facility"}]}]  # fmt: skip
    assert "v2-0482-to-role-code" in ctx.used_mappings


def test_obr_with_its_own_placer_joins_the_orc_order_that_had_only_a_filler() -> None:
    bundle, _ = oru(orc(placer="", filler="F9^LAB", group="G1"), obr(placer="P7^RSUD", filler="F9^LAB"))
    (request,) = resources(bundle, "ServiceRequest")
    values = {i["type"]["coding"][0]["code"]: i["value"] for i in request["identifier"]}
    assert values == {"FILL": "F9", "PGN": "G1", "PLAC": "P7"}
    report = first(bundle, "DiagnosticReport")
    assert {i["value"] for i in report["identifier"]} == {"F9", "P7", "G1"}


def test_obr_naming_another_order_makes_its_own_request() -> None:
    bundle, _ = oru(orc(placer="P1^RSUD"), obr(placer="P2^RSUD"))
    assert [r["identifier"][0]["value"] for r in resources(bundle, "ServiceRequest")] == ["P2"]


def test_obr_53_alternate_placer_and_obr_29_parent() -> None:
    bundle, _ = oru(orc(), obr(alternate="ALT-1^^^RSUD^MR", parent="^FAI-29"))
    request = first(bundle, "ServiceRequest")
    alternate = next(i for i in request["identifier"] if i["value"] == "ALT-1")
    assert alternate["type"]["coding"][0]["code"] == "PLAC"
    (parent,) = request["basedOn"]
    assert parent["type"] == "ServiceRequest" and parent["identifier"]["value"] == "FAI-29"
    assert parent["identifier"]["type"]["coding"][0]["code"] == "FILL"


def test_legacy_tq_in_orc_7_becomes_quantity_timing_and_note() -> None:
    tq = "12&lb^BID&12:30:05^S50^20020315^20030315^^^Annotation text^^^^21"
    bundle, _ = oru(orc(tq=tq), obr())
    request = first(bundle, "ServiceRequest")
    assert request["quantityQuantity"] == {"value": 12, "unit": "lb"}
    timing = request["occurrenceTiming"]
    assert timing["code"]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/v2-0335", "code": "BID"}
    assert timing["repeat"] == {"timeOfDay": ["12:30:05"], "count": 21,
                                "boundsPeriod": {"start": "2002-03-15", "end": "2003-03-15"}}  # fmt: skip
    assert request["note"] == [{"text": "Annotation text"}]


def test_obr_27_timing_when_orc_7_is_empty_and_obr_6_otherwise() -> None:
    bundle, _ = oru(orc(), obr(tq="1^^^202201201126+0215", requested="202201201200+0700"))
    request = first(bundle, "ServiceRequest")
    assert request["occurrenceTiming"]["repeat"]["boundsPeriod"]["start"] == "2022-01-20T11:26:00+02:15"
    assert "occurrenceDateTime" not in request
    bundle, _ = oru(orc(), obr(requested="202201201200+0700"))
    assert first(bundle, "ServiceRequest")["occurrenceDateTime"] == "2022-01-20T12:00:00+07:00"


def test_an_impossible_tq_date_is_left_out_with_a_warning() -> None:
    bundle, ctx = oru(orc(tq="^ONCE^H001^199404261500^200000"), obr())
    bounds = first(bundle, "ServiceRequest")["occurrenceTiming"]["repeat"]["boundsPeriod"]
    assert bounds == {"start": "1994-04-26T15:00:00+07:00"}
    assert any(i.message_id == "GW-1343" for i in ctx.outcome.issues)


def test_time_of_day_accepts_v2_and_fhir_forms() -> None:
    assert time_of_day("0800,1230") == ["08:00:00", "12:30:00"]
    assert time_of_day("12:30:05") == ["12:30:05"]
    assert time_of_day("2500,x") == []


def test_result_status_follows_the_ig_table_0085() -> None:
    def status(code: str) -> tuple[str, Any]:
        obx = f"OBX|1|NM|8867-4^Heart rate^LN||72|/min^^UCUM|||||{code}\r"
        bundle, ctx = oru(orc(), obr(), obx)
        return first(bundle, "Observation")["status"], ctx

    assert status("F")[0] == "final" and status("A")[0] == "amended" and status("D")[0] == "entered-in-error"
    for unmapped in ("S", "R", "I", "U"):
        got, ctx = status(unmapped)
        assert got == "unknown" and ctx.outcome.ok, unmapped
        assert any(i.message_id == "GW-2201" and i.severity == "warning" for i in ctx.outcome.issues)


def test_an_order_message_makes_no_report_and_its_obx_supports_the_order() -> None:
    obx = "OBX|1|NM|8867-4^Heart rate^LN||72|/min^^UCUM|||||F\r"
    bundle, _ = oru(orc(), obr(), obx, event="ORM^O01^ORM_O01")
    assert resources(bundle, "DiagnosticReport") == []
    observation = first(bundle, "Observation")
    supporting = first(bundle, "ServiceRequest")["supportingInfo"]
    assert supporting == [{"reference": f"Observation/{observation['id']}"}]


def test_a_referenced_document_without_a_report_gets_a_report_of_its_own() -> None:
    obx = (
        "OBX|1|RP|11502-2^Lab report^LN||https://lab.example/r/1^^image^PNG||||||F|||20240101090000+0700|||||||R1^LAB\r"
    )
    bundle, _ = oru(orc(), obr(), obx, event="OML^O21^OML_O21")
    (report,) = resources(bundle, "DiagnosticReport")
    assert report["presentedForm"] == [{"contentType": "image/png", "url": "https://lab.example/r/1"}]
    assert report["status"] == "unknown" and report["code"]["coding"][0]["code"] == "11502-2"
    assert report["identifier"][0]["value"] == "R1" and report["effectiveDateTime"] == "2024-01-01T09:00:00+07:00"
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{first(bundle, 'ServiceRequest')['id']}"}]


def test_a_referenced_document_under_a_result_obr_is_that_reports_presented_form() -> None:
    obx = "OBX|1|RP|11502-2^Lab report^LN||https://lab.example/r/1^^image^PNG||||||F\r"
    bundle, _ = oru(orc(), obr(), obx)
    (report,) = resources(bundle, "DiagnosticReport")
    assert report["presentedForm"] == [{"contentType": "image/png", "url": "https://lab.example/r/1"}]
    assert report["code"]["coding"][0]["code"] == "24331-1"


def test_an_empty_embedded_document_makes_no_report() -> None:
    obx = "OBX|1|ED|11502-2^Lab report^LN||App5^TEXT^PLAIN^Base64|\r"
    bundle, _ = oru(orc(), obx)
    assert resources(bundle, "DiagnosticReport") == []


def test_a_written_time_unit_goes_through_the_versioned_unit_map() -> None:
    tq1 = "TQ1|1||^^^^^^^^1^hr&Hour&ANS+||||||||||2^hr|5\r"
    bundle, ctx = oru(orc(), obr(), tq1)
    repeat = first(bundle, "ServiceRequest")["occurrenceTiming"]["repeat"]
    assert repeat["duration"] == 2 and repeat["durationUnit"] == "h" and repeat["offset"] == 60
    assert "v2-time-unit-to-units-of-time" in ctx.used_mappings


def test_an_unknown_time_unit_is_still_left_out_with_a_warning() -> None:
    bundle, ctx = oru(orc(), obr(), "TQ1|1||||||||||||2^fortnight|5\r")
    assert "duration" not in first(bundle, "ServiceRequest")["occurrenceTiming"]["repeat"]
    assert any("fortnight" in i.message for i in ctx.outcome.issues)


def test_immunization_performer_functions_carry_the_table_0443_display() -> None:
    orc_12 = "ORC|RE|4422^EHR|13696^EHR|||||||||654^Thomas^Wilma\r"
    rxa = "RXA|0|1|20240101||08^HepB^CVX|0.5|mL^^UCUM||00^New^NIP001|7824^Jackson^Lily\r"
    bundle, ctx = oru(orc_12, rxa, event="VXU^V04^VXU_V04")
    functions = {p["function"]["coding"][0]["code"]: p["function"]["coding"][0] for p in
                 first(bundle, "Immunization")["performer"]}  # fmt: skip
    assert functions["AP"]["display"] == "Administering Provider"
    assert functions["OP"]["display"] == "Ordering Provider"
    assert "v2-0443-display" in ctx.used_mappings
