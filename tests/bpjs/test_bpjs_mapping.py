import copy
import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from adapters.base import MapContext
from adapters.bpjs import register
from adapters.bpjs.fhirutil import SYS
from adapters.bpjs.insert_fhir import apply_insert_response
from adapters.registry import FormatRegistry
from bridge.errors import MappingError
from mappings.registry import MappingRegistry
from tests.bpjs.bpjs_samples import INSERT, KUNJUNGAN, RUJUKAN_FKTP, RUJUKAN_RS

MAPS = MappingRegistry()


@pytest.fixture(scope="module")
def formats():
    registry = FormatRegistry()
    register(registry)
    return registry


def ctx():
    return MapContext(mappings=MAPS)


def _round_trip(fmt, doc):
    c = ctx()
    model = fmt.codec.parse(json.dumps(doc).encode())
    bundle = fmt.mapper.to_fhir(model, c)
    back = fmt.mapper.from_fhir(bundle, c)
    return bundle, back.data, c


def _resources(bundle, kind):
    data = bundle.model_dump(mode="json", exclude_none=True)
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


@pytest.mark.parametrize("doc", [RUJUKAN_FKTP, RUJUKAN_RS], ids=["fktp", "rs"])
def test_rujukan_round_trip_is_exact(formats, doc):
    bundle, back, c = _round_trip(formats.get("bpjs.vclaim.rujukan"), doc)
    assert back == doc
    assert c.outcome.ok


def test_rujukan_fhir_content(formats):
    bundle, _, c = _round_trip(formats.get("bpjs.vclaim.rujukan"), RUJUKAN_FKTP)
    sr = _resources(bundle, "ServiceRequest")[0]
    assert sr["identifier"] == [{"system": SYS["no_rujukan"], "value": "030107010217Y001465"}]
    codings = sr["performerType"]["coding"]
    assert {"system": "http://snomed.info/sct", "code": "394579002", "display": "Cardiology"} in codings
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"} in (
        sr["category"][0]["coding"]
    )
    patient = _resources(bundle, "Patient")[0]
    assert patient["gender"] == "female" and patient["birthDate"] == "1980-01-05"
    assert {"system": "https://fhir.kemkes.go.id/id/nik", "value": "3507014501800001"} in patient["identifier"]
    coverage = _resources(bundle, "Coverage")[0]
    assert coverage["subscriberId"] == "0001234567890" and coverage["class"][0]["value"] == "3"
    condition = _resources(bundle, "Condition")[0]
    assert condition["code"]["coding"][0]["code"] == "I20.9"
    orgs = {o["identifier"][0]["value"] for o in _resources(bundle, "Organization")}
    assert orgs == {"03050301"}  # provPerujuk and provUmum are the same puskesmas
    assert set(c.used_mappings) >= {"bpjs-poli", "bpjs-jenis-pelayanan", "administrative-gender", "bpjs-hak-kelas"}


def test_rujukan_mapping_is_deterministic(formats):
    first, _, _ = _round_trip(formats.get("bpjs.vclaim.rujukan"), RUJUKAN_FKTP)
    second, _, _ = _round_trip(formats.get("bpjs.vclaim.rujukan"), RUJUKAN_FKTP)
    assert first.model_dump(mode="json") == second.model_dump(mode="json")


def test_unmapped_poli_is_reported_but_kept(formats):
    doc = copy.deepcopy(RUJUKAN_FKTP)
    doc["rujukan"]["poliRujukan"] = {"kode": "XYZ", "nama": "POLI BARU"}
    _, back, c = _round_trip(formats.get("bpjs.vclaim.rujukan"), doc)
    assert back == doc
    assert [i.message_id for i in c.outcome.issues] == ["GW-2201"]
    assert c.outcome.issues[0].expression == ("ServiceRequest.performerType",)


def test_unknown_jenis_pelayanan_is_an_error(formats):
    doc = copy.deepcopy(RUJUKAN_FKTP)
    doc["rujukan"]["pelayanan"]["kode"] = "9"
    _, _, c = _round_trip(formats.get("bpjs.vclaim.rujukan"), doc)
    assert not c.outcome.ok


def test_insert_round_trip_and_content(formats):
    bundle, back, c = _round_trip(formats.get("bpjs.vclaim.rujukan-insert"), INSERT)
    assert back == INSERT and c.outcome.ok
    sr = _resources(bundle, "ServiceRequest")[0]
    assert {"system": SYS["sep"], "value": "0301R0011126V000003"} in sr["identifier"]
    assert sr["occurrenceDateTime"] == "2026-11-27"
    assert sr["orderDetail"][0]["coding"][1]["code"] == "full"
    assert _resources(bundle, "Encounter")[0]["identifier"][0]["value"] == "0301R0011126V000003"


def test_insert_rujuk_balik_keeps_empty_poli(formats):
    doc = copy.deepcopy(INSERT)
    doc["request"]["t_rujukan"].update(tipeRujukan="2", poliRujukan="", catatan="")
    _, back, _ = _round_trip(formats.get("bpjs.vclaim.rujukan-insert"), doc)
    assert back == doc


def test_insert_from_plain_fhir_service_request_uses_reverse_maps():
    from adapters.bpjs.insert_fhir import insert_from_fhir

    sr = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"display": "x"},
        "identifier": [{"system": SYS["sep"], "value": "0301R0011126V000003"}],
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}]}],
        "orderDetail": [{"coding": [{"system": "urn:jembatan:codesystem:referral-type", "code": "partial"}]}],
        "performerType": {"coding": [{"system": "http://snomed.info/sct", "code": "394591006"}]},
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "G43.9"}]}],
        "authoredOn": "2026-11-24T09:30:00+07:00",
        "occurrenceDateTime": "2026-11-26",
    }
    c = MapContext(mappings=MAPS, settings={"bpjs_user": "gateway"})
    t = insert_from_fhir(sr, c)["request"]["t_rujukan"]
    assert t["jnsPelayanan"] == "2" and t["tipeRujukan"] == "1" and t["poliRujukan"] == "SAR"
    assert t["tglRujukan"] == "2026-11-24" and t["user"] == "gateway" and t["diagRujukan"] == "G43.9"
    assert t["ppkDirujuk"] is None  # no performer: the schema/profile reports it


def test_apply_insert_response_updates_service_request(formats):
    bundle, _, _ = _round_trip(formats.get("bpjs.vclaim.rujukan-insert"), INSERT)
    answer = {
        "rujukan": {
            "AsalRujukan": {"kode": "0301R001", "nama": "RSUD KANJURUHAN"},
            "diagnosa": {"kode": "I20.9", "nama": "Angina"},
            "noRujukan": "0301R0011126B000001",
            "peserta": {
                "asuransi": None,
                "hakKelas": "Kelas 3",
                "jnsPeserta": "PBI (APBN)",
                "kelamin": "P",
                "nama": "SITI AMINAH",
                "noKartu": "0001234567890",
                "noMr": "123456",
                "tglLahir": "1980-01-05",
            },
            "poliTujuan": {"kode": "JAN", "nama": "JANTUNG"},
            "tglBerlakuKunjungan": "2027-02-22",
            "tglRencanaKunjungan": "2026-11-27",
            "tglRujukan": "2026-11-24",
            "tujuanRujukan": {"kode": "0301R002", "nama": "RS TUJUAN"},
        }
    }
    updated = apply_insert_response(bundle.model_dump(mode="json", exclude_none=True), answer)
    model = Bundle.model_validate(updated)
    sr = _resources(model, "ServiceRequest")[0]
    assert sr["identifier"][0] == {"system": SYS["no_rujukan"], "value": "0301R0011126B000001"}
    task = _resources(model, "Task")[0]
    assert task["status"] == "accepted" and task["restriction"]["period"]["end"] == "2027-02-22"
    assert _resources(model, "Patient")[0]["identifier"][0]["value"] == "0001234567890"


def test_apply_insert_response_needs_number():
    with pytest.raises(MappingError):
        apply_insert_response({"resourceType": "Bundle", "entry": []}, {"rujukan": {}})


def test_pcare_kunjungan_round_trip_and_content(formats):
    bundle, back, c = _round_trip(formats.get("bpjs.pcare.kunjungan"), KUNJUNGAN)
    assert back == KUNJUNGAN and c.outcome.ok
    encounter = _resources(bundle, "Encounter")[0]
    assert encounter["period"] == {"start": "2026-11-20", "end": "2026-11-20"}
    temps = [o for o in _resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == "8310-5"]
    assert temps[0]["valueQuantity"] == {
        "value": 36.5,
        "unit": "Cel",
        "system": "http://unitsofmeasure.org",
        "code": "Cel",
    }
    referral = _resources(bundle, "ServiceRequest")[0]
    assert referral["occurrenceDateTime"] == "2026-11-23"


def test_pcare_khusus_referral_round_trip(formats):
    doc = copy.deepcopy(KUNJUNGAN)
    doc["rujukLanjut"] = {
        "tglEstRujuk": "01-12-2026",
        "kdppk": "0301R001",
        "subSpesialis": None,
        "khusus": {"kdKhusus": "HDL", "kdSubSpesialis": None, "catatan": "cuci darah rutin"},
    }
    _, back, _ = _round_trip(formats.get("bpjs.pcare.kunjungan"), doc)
    assert back == doc


def test_missing_referral_number_is_a_mapping_error(formats):
    with pytest.raises(MappingError):
        formats.get("bpjs.vclaim.rujukan").mapper.to_fhir({"rujukan": {}}, ctx())


def test_fields_fhir_does_not_carry_are_reported(formats):
    doc = copy.deepcopy(RUJUKAN_FKTP)
    doc["rujukan"]["satuSehatRujukan"] = {"kodeFaskesSatuSehat": "100011111"}
    c = ctx()
    formats.get("bpjs.vclaim.rujukan").mapper.to_fhir(doc, c)
    assert c.unused == ["/rujukan/satuSehatRujukan/kodeFaskesSatuSehat"]
    assert [i.message_id for i in c.outcome.issues] == ["GW-2420"] and c.outcome.ok


def test_nothing_is_reported_lost_for_catalogue_payloads(formats):
    for format_id, doc in [
        ("bpjs.vclaim.rujukan", RUJUKAN_RS),
        ("bpjs.vclaim.rujukan-insert", INSERT),
        ("bpjs.pcare.kunjungan", KUNJUNGAN),
    ]:
        c = ctx()
        formats.get(format_id).mapper.to_fhir(doc, c)
        assert c.unused == [] and c.outcome.issues == []


def test_lost_fields_helper():
    from adapters.bpjs.mapper import lost_fields

    assert lost_fields({"a": {"b": 1, "c": None}, "d": [1, 2]}, {"a": {"b": 1}, "d": [1]}) == ["/d/1"]
